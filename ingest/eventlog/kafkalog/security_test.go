package kafkalog_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/config"
)

// exercise appends, consumes, commits, checks the lag and replays: every
// kind of connection the log makes (writer, group reader, client).
func exercise(t *testing.T, l *kafkalog.Log) {
	t.Helper()
	recs := records("sec", 6, "a", "b")
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatalf("Append: %v", err)
	}
	s, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer s.Close()
	var got []eventlog.Record
	for len(got) < len(recs) {
		batch, err := s.Fetch(ctxT(t), len(recs)-len(got), 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch: %v", err)
		}
		got = append(got, batch...)
	}
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if lag, err := l.Lag(ctxT(t), "g"); err != nil || lag != 0 {
		t.Errorf("Lag = %d, %v; want 0", lag, err)
	}
	n := 0
	if err := l.Replay(ctxT(t), time.Time{}, func(eventlog.Record) error { n++; return nil }); err != nil || n != len(recs) {
		t.Errorf("Replay = %d records, %v; want %d", n, err, len(recs))
	}
}

func TestTLS(t *testing.T) {
	pki := newPKI(t)
	dir := t.TempDir()
	caFile := writeFile(t, dir, "ca.pem", pki.caPEM)
	certFile := writeFile(t, dir, "client.pem", pki.clientCertPEM)
	keyFile := writeFile(t, dir, "client-key.pem", pki.clientKeyPEM)

	tests := []struct {
		name       string
		clientAuth tls.ClientAuthType
		tls        config.ClientTLS
		wantErr    string
	}{
		{name: "CAPEM", tls: config.ClientTLS{CAPEM: string(pki.caPEM)}},
		{name: "MutualFromFiles", clientAuth: tls.RequireAndVerifyClientCert,
			tls: config.ClientTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, ServerName: "localhost"}},
		{name: "UnknownCA", tls: config.ClientTLS{}, wantErr: "certificate"},
		{name: "NoClientCertificate", clientAuth: tls.RequireAndVerifyClientCert,
			tls: config.ClientTLS{CAFile: caFile}, wantErr: "check topic"},
		{name: "MissingCAFile", tls: config.ClientTLS{CAFile: filepath.Join(dir, "nope.pem")}, wantErr: "tls: read ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(pki.caPEM)
			c := newCluster(t, kfake.TLS(&tls.Config{
				Certificates: []tls.Certificate{pki.server},
				ClientAuth:   tt.clientAuth,
				ClientCAs:    pool,
				MinVersion:   tls.VersionTLS12,
			}))
			cfg := testConfig(c)
			cfg.TLS = &tt.tls
			if tt.wantErr != "" {
				l, err := kafkalog.Open(ctxT(t), cfg)
				if err == nil {
					l.Close()
					t.Fatal("Open succeeded")
				}
				t.Logf("Open: %v", err)
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Open = %v; want an error mentioning %q", err, tt.wantErr)
				}
				return
			}
			exercise(t, open(t, cfg))
		})
	}
}

func TestSASL(t *testing.T) {
	tests := []struct {
		name      string
		server    string // the mechanism the cluster's user has
		mechanism string
		password  string
		wantErr   bool
	}{
		{name: "Plain", server: "PLAIN", mechanism: "plain", password: "s3cret"},
		{name: "ScramSHA256", server: "SCRAM-SHA-256", mechanism: "scram-sha-256", password: "s3cret"},
		{name: "ScramSHA512", server: "SCRAM-SHA-512", mechanism: "SCRAM-SHA-512", password: "s3cret"},
		{name: "ScramWrongPassword", server: "SCRAM-SHA-256", mechanism: "scram-sha-256", password: "guess", wantErr: true},
		{name: "PlainWrongPassword", server: "PLAIN", mechanism: "plain", password: "guess", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, kfake.EnableSASL(), kfake.Superuser(tt.server, "vigil", "s3cret"))
			cfg := testConfig(c)
			cfg.SASL = &kafkalog.SASLConfig{Mechanism: tt.mechanism, Username: "vigil", Password: tt.password}
			if tt.wantErr {
				l, err := kafkalog.Open(ctxT(t), cfg)
				if err == nil {
					l.Close()
					t.Fatal("Open with a wrong password succeeded")
				}
				t.Logf("Open: %v", err)
				if !strings.HasPrefix(err.Error(), "check topic vigil-events: ") {
					t.Errorf("Open = %v; want a check topic error", err)
				}
				return
			}
			exercise(t, open(t, cfg))
		})
	}
}

type pki struct {
	caPEM                       []byte
	server                      tls.Certificate
	clientCertPEM, clientKeyPEM []byte
}

// newPKI makes a CA, a server certificate for localhost and 127.0.0.1,
// and a client certificate.
func newPKI(t *testing.T) pki {
	t.Helper()
	caKey := newKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	leaf := func(serial int64, usage x509.ExtKeyUsage) ([]byte, []byte) {
		key := newKey(t)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "localhost"},
			DNSNames:     []string{"localhost"},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	}
	serverCert, serverKey := leaf(2, x509.ExtKeyUsageServerAuth)
	server, err := tls.X509KeyPair(serverCert, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	clientCert, clientKey := leaf(3, x509.ExtKeyUsageClientAuth)
	return pki{
		caPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		server:        server,
		clientCertPEM: clientCert,
		clientKeyPEM:  clientKey,
	}
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
