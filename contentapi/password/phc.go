package password

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
)

// Params is an argon2id cost as a PHC string records it.
type Params struct {
	// Memory in KiB (m=).
	Memory uint32
	// Iterations (t=) and Parallelism (p=).
	Iterations  uint32
	Parallelism uint8
}

// Hashed is a parsed PHC string of argon2id.
type Hashed struct {
	Params
	Salt, Key []byte
}

// argon2Version is the only version written and read (0x13).
const argon2Version = 19

// Lengths of what Hash writes, and what Parse accepts.
const (
	saltLen            = 16
	keyLen             = 32
	minSalt, maxSalt   = 8, 64
	minKey, maxKey     = 16, 64
	maxEncodedParamLen = 10 // digits of a uint32
)

var b64 = base64.RawStdEncoding.Strict()

// errFormat is every malformed PHC string; it names no part of the
// string, which is a secret's hash.
var errFormat = errors.New("malformed argon2id hash")

// String is the PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>, unpadded standard base64.
func (h Hashed) String() string {
	var b strings.Builder
	b.WriteString("$argon2id$v=19$m=")
	b.WriteString(strconv.FormatUint(uint64(h.Memory), 10))
	b.WriteString(",t=")
	b.WriteString(strconv.FormatUint(uint64(h.Iterations), 10))
	b.WriteString(",p=")
	b.WriteString(strconv.FormatUint(uint64(h.Parallelism), 10))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.Salt))
	b.WriteByte('$')
	b.WriteString(b64.EncodeToString(h.Key))
	return b.String()
}

// Parse reads a PHC string of argon2id strictly: exactly the form String
// writes (version 19; m, t and p in that order, decimal without leading
// zeros, within argon2's bounds; salt of 8 to 64 bytes and key of 16 to
// 64, unpadded canonical base64), so that every accepted string is
// written back byte for byte.
func Parse(s string) (Hashed, error) {
	rest, ok := strings.CutPrefix(s, "$argon2id$v=19$")
	if !ok {
		return Hashed{}, errFormat
	}
	parts := strings.Split(rest, "$")
	if len(parts) != 3 {
		return Hashed{}, errFormat
	}
	kv := strings.Split(parts[0], ",")
	if len(kv) != 3 {
		return Hashed{}, errFormat
	}
	m, ok1 := param(kv[0], "m=")
	t, ok2 := param(kv[1], "t=")
	p, ok3 := param(kv[2], "p=")
	if !ok1 || !ok2 || !ok3 || t < 1 || p < 1 || p > 255 || m < 8*p {
		return Hashed{}, errFormat
	}
	// The decoder skips \r and \n; a stored hash has neither.
	if strings.ContainsAny(rest, "\r\n") {
		return Hashed{}, errFormat
	}
	salt, err1 := b64.DecodeString(parts[1])
	key, err2 := b64.DecodeString(parts[2])
	if err1 != nil || err2 != nil || len(salt) < minSalt || len(salt) > maxSalt || len(key) < minKey || len(key) > maxKey {
		return Hashed{}, errFormat
	}
	return Hashed{Params: Params{Memory: m, Iterations: t, Parallelism: uint8(p)}, Salt: salt, Key: key}, nil
}

// param reads "name=<uint32>" with no sign and no leading zero.
func param(s, name string) (uint32, bool) {
	v, ok := strings.CutPrefix(s, name)
	if !ok || v == "" || len(v) > maxEncodedParamLen || (len(v) > 1 && v[0] == '0') || strings.Trim(v, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 32)
	return uint32(n), err == nil
}
