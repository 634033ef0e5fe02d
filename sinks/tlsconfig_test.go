package sinks_test

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

func TestTLSConfig_Validate(t *testing.T) {
	tests := []struct {
		cfg  config.ClientTLS
		want string
	}{
		{config.ClientTLS{}, ""},
		{config.ClientTLS{CAFile: "a", CAPEM: "b"}, "cannot be set together"},
		{config.ClientTLS{CertFile: "c"}, "key_file: required when cert_file is set"},
		{config.ClientTLS{KeyFile: "k"}, "cert_file: required when key_file is set"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if (tt.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

func TestTLSConfig_ClientConfigErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg  config.ClientTLS
		want string
	}{
		{config.ClientTLS{CAFile: filepath.Join(dir, "missing.pem")}, "read ca_file"},
		{config.ClientTLS{CAFile: notPEM}, "holds no PEM certificate"},
		{config.ClientTLS{CAPEM: "nope"}, "ca_pem: no PEM certificate found"},
		{config.ClientTLS{CertFile: notPEM, KeyFile: notPEM}, "load client certificate"},
	}
	for _, tt := range tests {
		if _, err := tt.cfg.ClientConfig("127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ClientConfig(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}

// TestTLSConfig_RotationKeepingModTime: a CA file replaced by another
// with the same modification time is still read again.
func TestTLSConfig_RotationKeepingModTime(t *testing.T) {
	dir := t.TempDir()
	oldCA, newCA := sinktest.NewCA(t, "old"), sinktest.NewCA(t, "new")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, oldCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(caFile, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	tc, err := config.ClientTLS{CAFile: caFile}.ClientConfig("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	state := tlsState(t, newCA.ServerCertificate(t))
	if err := tc.VerifyConnection(state); err == nil {
		t.Fatal("a certificate of the new CA was trusted before the rotation")
	}
	if err := os.WriteFile(caFile, newCA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(caFile, stamp, stamp); err != nil {
		t.Fatal(err)
	}
	if err := tc.VerifyConnection(state); err != nil {
		t.Errorf("after rotating the CA file (same mtime): %v", err)
	}
}

func tlsState(t *testing.T, c tls.Certificate) tls.ConnectionState {
	t.Helper()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return tls.ConnectionState{PeerCertificates: []*x509.Certificate{leaf}}
}
