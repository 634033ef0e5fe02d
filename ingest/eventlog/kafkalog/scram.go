package kafkalog

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/segmentio/kafka-go/sasl"
)

// scramHash is one SCRAM variant (RFC 5802, RFC 7677).
type scramHash struct {
	name string // the SASL mechanism name Kafka knows
	new  func() hash.Hash
}

var (
	scramSHA256 = scramHash{"SCRAM-SHA-256", sha256.New}
	scramSHA512 = scramHash{"SCRAM-SHA-512", sha512.New}
)

// Iteration counts a server may ask for: RFC 7677 asks for 4096 at
// least; the upper bound keeps a hostile server from pinning the CPU.
const (
	scramMinIterations = 4096
	scramMaxIterations = 1 << 22
)

// scram is a SCRAM client mechanism for kafka-go. It is written here, on
// the standard library, rather than taken from kafka-go's sasl/scram
// package, which would add a module to the build. The username and
// password are used as given, without SASLprep: names and passwords with
// non-ASCII characters should be in Unicode normal form C.
type scram struct {
	hash     scramHash
	username string
	password string
	nonce    func() (string, error) // replaced in tests
}

func newScram(h scramHash, username, password string) *scram {
	return &scram{hash: h, username: username, password: password, nonce: randomNonce}
}

func randomNonce() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// Name implements sasl.Mechanism.
func (m *scram) Name() string { return m.hash.name }

// Start implements sasl.Mechanism: it returns the client-first message.
func (m *scram) Start(context.Context) (sasl.StateMachine, []byte, error) {
	nonce, err := m.nonce()
	if err != nil {
		return nil, nil, fmt.Errorf("scram nonce: %w", err)
	}
	name := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(m.username)
	s := &scramSession{m: m, nonce: nonce, clientFirstBare: "n=" + name + ",r=" + nonce}
	return s, []byte("n,," + s.clientFirstBare), nil
}

// scramSession is one authentication exchange.
type scramSession struct {
	m               *scram
	nonce           string
	clientFirstBare string
	serverSignature []byte // set once the client-final message is sent
}

// Next implements sasl.StateMachine: it answers the server-first message
// with the client proof, then checks the server's signature.
func (s *scramSession) Next(_ context.Context, challenge []byte) (bool, []byte, error) {
	if s.serverSignature == nil {
		final, err := s.clientFinal(string(challenge))
		return false, []byte(final), err
	}
	return true, nil, s.checkServerFinal(string(challenge))
}

func (s *scramSession) clientFinal(serverFirst string) (string, error) {
	attrs := scramAttrs(serverFirst)
	if _, ok := attrs["m"]; ok {
		return "", errors.New("scram: server asks for an unsupported extension")
	}
	nonce := attrs["r"]
	if !strings.HasPrefix(nonce, s.nonce) || len(nonce) == len(s.nonce) {
		return "", errors.New("scram: server nonce does not extend the client nonce")
	}
	salt, err := base64.StdEncoding.DecodeString(attrs["s"])
	if err != nil || len(salt) == 0 {
		return "", errors.New("scram: server sent no valid salt")
	}
	iter, err := strconv.Atoi(attrs["i"])
	if err != nil || iter < scramMinIterations || iter > scramMaxIterations {
		return "", fmt.Errorf("scram: server asks for %q iterations", attrs["i"])
	}

	h := s.m.hash.new
	salted, err := pbkdf2.Key(h, s.m.password, salt, iter, h().Size())
	if err != nil {
		return "", fmt.Errorf("scram: derive key: %w", err)
	}
	clientKey := hmacOf(h, salted, "Client Key")
	storedKey := h()
	storedKey.Write(clientKey)
	withoutProof := "c=biws,r=" + nonce // biws is base64("n,,"): no channel binding
	authMessage := s.clientFirstBare + "," + serverFirst + "," + withoutProof
	proof := hmacOf(h, storedKey.Sum(nil), authMessage)
	subtle.XORBytes(proof, proof, clientKey)
	s.serverSignature = hmacOf(h, hmacOf(h, salted, "Server Key"), authMessage)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), nil
}

func (s *scramSession) checkServerFinal(serverFinal string) error {
	attrs := scramAttrs(serverFinal)
	if e, ok := attrs["e"]; ok {
		return fmt.Errorf("scram: server refused: %s", e)
	}
	v, err := base64.StdEncoding.DecodeString(attrs["v"])
	if err != nil || !hmac.Equal(v, s.serverSignature) {
		return errors.New("scram: server signature does not match")
	}
	return nil
}

func hmacOf(h func() hash.Hash, key []byte, msg string) []byte {
	mac := hmac.New(h, key)
	mac.Write([]byte(msg))
	return mac.Sum(nil)
}

// scramAttrs splits "a=1,b=2" into its attributes.
func scramAttrs(msg string) map[string]string {
	attrs := map[string]string{}
	for part := range strings.SplitSeq(msg, ",") {
		if k, v, ok := strings.Cut(part, "="); ok && len(k) == 1 {
			if _, dup := attrs[k]; !dup {
				attrs[k] = v
			}
		}
	}
	return attrs
}
