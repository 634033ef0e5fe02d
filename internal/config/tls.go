package config

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
)

// ClientTLS is how Vigil dials a TLS server (a sink's receiver, Kafka
// brokers, ClickHouse): which certificate authorities to trust and, for
// mutual TLS, its own certificate. The zero value trusts the system roots.
type ClientTLS struct {
	// CAFile is a PEM file of the CAs to trust; CAPEM is the same PEM
	// pasted inline. At most one is set; with neither, the system roots.
	CAFile string `yaml:"ca_file"`
	CAPEM  string `yaml:"ca_pem"`
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName overrides the name the server certificate must carry
	// (default: the host of the address dialed).
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// Validate checks that the CA comes from one place and holds a
// certificate, and that the client certificate and key come together.
func (c ClientTLS) Validate() error {
	var p Problems
	if c.CAFile != "" && c.CAPEM != "" {
		p.Add("ca_pem", "cannot be set together with ca_file")
	} else if c.CAPEM != "" && !x509.NewCertPool().AppendCertsFromPEM([]byte(c.CAPEM)) {
		p.Add("ca_pem", "no PEM certificate found")
	}
	p.Pair("cert_file", c.CertFile, "key_file", c.KeyFile)
	return p.Err()
}

// ClientConfig returns the TLS settings for dialing addr (host:port; empty
// for a driver that dials several servers and names each connection
// itself, as the Kafka and ClickHouse drivers do, in which case a changed
// CA file is read at the next start only):
// TLS 1.2 at least, the server verified against the configured CAs and
// name, and the client certificate presented when one is configured.
// Files are read again at each handshake when they changed on disk, so a
// rotated CA or client certificate takes effect at the next connection
// without a restart. It fails when a file cannot be read or holds no
// usable certificate.
func (c ClientTLS) ClientConfig(addr string) (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	name := c.ServerName
	if name == "" && addr != "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		name = host
	}
	r := &tlsFiles{cfg: c}
	if err := r.load(); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: name}
	if c.CertFile != "" {
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if err := r.load(); err != nil {
				return nil, err
			}
			return r.certificate(), nil
		}
	}
	switch {
	case c.InsecureSkipVerify:
		tc.InsecureSkipVerify = true // opt-in; documented as for tests
	case (c.CAFile != "" || c.CAPEM != "") && name == "":
		// The driver names each connection in a clone of tc, which a
		// callback cannot see: the standard check with the CAs read now.
		tc.RootCAs = r.roots()
	case c.CAFile != "" || c.CAPEM != "":
		// Verification is ours so that the pool can change between
		// handshakes; it is the standard chain and name check.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if err := r.load(); err != nil {
				return err
			}
			return verifyChain(cs, r.roots(), name)
		}
	}
	return tc, nil
}

func verifyChain(cs tls.ConnectionState, roots *x509.CertPool, name string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("server sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, DNSName: name,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("verify server certificate for %s: %w", name, err)
	}
	return nil
}

// tlsFiles holds the CA pool and client certificate, read again when
// their files' contents change. The files are small, so they are read at
// every handshake and compared: a rotation is seen even when it keeps the
// size and the modification time.
type tlsFiles struct {
	cfg ClientTLS

	mu      sync.Mutex
	caPEM   []byte
	pool    *x509.CertPool
	certPEM []byte
	keyPEM  []byte
	cert    *tls.Certificate
}

// load reads whichever files changed since the last load. On error the
// previous material is kept for the caller's next try, and the error
// names the file.
func (r *tlsFiles) load() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.cfg.CAPEM != "" && r.pool == nil:
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(r.cfg.CAPEM)) {
			return errors.New("ca_pem holds no PEM certificate")
		}
		r.pool = pool
	case r.cfg.CAFile != "":
		pem, err := os.ReadFile(r.cfg.CAFile)
		if err != nil {
			return fmt.Errorf("read ca_file: %w", err)
		}
		if r.pool == nil || !bytes.Equal(pem, r.caPEM) {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("ca_file %s holds no PEM certificate", r.cfg.CAFile)
			}
			r.pool, r.caPEM = pool, pem
		}
	}
	if r.cfg.CertFile != "" {
		certPEM, err := os.ReadFile(r.cfg.CertFile)
		if err != nil {
			return fmt.Errorf("read cert_file: %w", err)
		}
		keyPEM, err := os.ReadFile(r.cfg.KeyFile)
		if err != nil {
			return fmt.Errorf("read key_file: %w", err)
		}
		if r.cert == nil || !bytes.Equal(certPEM, r.certPEM) || !bytes.Equal(keyPEM, r.keyPEM) {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			if err != nil {
				// A rotation writes two files; until both are written the
				// pair may not match, and the next handshake reads them
				// again.
				return fmt.Errorf("load client certificate %s: %w", r.cfg.CertFile, err)
			}
			r.cert, r.certPEM, r.keyPEM = &cert, certPEM, keyPEM
		}
	}
	return nil
}

func (r *tlsFiles) roots() *x509.CertPool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.pool
}

func (r *tlsFiles) certificate() *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert
}
