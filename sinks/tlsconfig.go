package sinks

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

// TLSConfig is how a sink dials a TLS server: which certificate
// authorities to trust and, for mutual TLS, its own certificate. The zero
// value trusts the system roots.
type TLSConfig struct {
	// CAFile is a PEM file of the CAs to trust; CAPEM is the same PEM
	// pasted inline. At most one is set; with neither, the system roots.
	CAFile string
	CAPEM  string
	// CertFile and KeyFile are the client certificate and key (PEM) for
	// mutual TLS; both or neither.
	CertFile string
	KeyFile  string
	// ServerName overrides the name the server certificate must carry
	// (default: the host of the address dialed).
	ServerName string
}

// Validate checks that the CA comes from one place and the client
// certificate and key come together.
func (c TLSConfig) Validate() error {
	switch {
	case c.CAFile != "" && c.CAPEM != "":
		return errors.New("ca_file and ca_pem cannot both be set")
	case (c.CertFile == "") != (c.KeyFile == ""):
		return errors.New("cert_file and key_file must be set together")
	}
	return nil
}

// ClientConfig returns the TLS settings for dialing addr (host:port):
// TLS 1.2 at least, the server verified against the configured CAs and
// name, and the client certificate presented when one is configured.
// Files are read again at each handshake when they changed on disk, so a
// rotated CA or client certificate takes effect at the next connection
// without a restart. It fails when a file cannot be read or holds no
// usable certificate.
func (c TLSConfig) ClientConfig(addr string) (*tls.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	name := c.ServerName
	if name == "" {
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
	if c.CAFile != "" || c.CAPEM != "" {
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
	cfg TLSConfig

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
