package tcp

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

// Bounds of the wait for a TLS 1.3 server's verdict on the client
// certificate: a few handshake times, at least minVerdictWait and at most
// the dial timeout. A server that sends session tickets (most do) or
// refuses the certificate ends the wait sooner; only one that accepts in
// silence makes the sink wait it out, once per connection.
const minVerdictWait = 200 * time.Millisecond

// tlsDialer makes TLS connections with the settings config.ClientTLS
// built, which read the certificate files again when they change.
type tlsDialer struct {
	cfg         *tls.Config
	dialTimeout time.Duration
}

func newTLSDialer(cfg *tls.Config, dialTimeout time.Duration) *tlsDialer {
	cfg = cfg.Clone()
	// Full-size records from the first byte: the sink streams batches,
	// it does not wait on small responses.
	cfg.DynamicRecordSizingDisabled = true
	return &tlsDialer{cfg: cfg, dialTimeout: dialTimeout}
}

// tlsConn is the TLS side of a connection.
type tlsConn struct {
	conn    *tls.Conn
	raw     net.Conn
	tickets *ticketWatch
}

// handshake runs the TLS handshake on raw and, when a TLS 1.3 server
// asked for a client certificate, waits for its verdict on it.
func (d *tlsDialer) handshake(ctx context.Context, raw net.Conn) (*conn, error) {
	cfg := d.cfg.Clone()
	tickets := &ticketWatch{raw: raw}
	cfg.ClientSessionCache = tickets
	own := cfg.GetClientCertificate
	var asked atomic.Bool
	cfg.GetClientCertificate = func(info *tls.CertificateRequestInfo) (*tls.Certificate, error) {
		asked.Store(true)
		if own == nil {
			return &tls.Certificate{}, nil // none configured: send none
		}
		return own(info)
	}
	tc := tls.Client(raw, cfg)
	start := time.Now()
	if err := tc.HandshakeContext(ctx); err != nil {
		if asked.Load() && remoteAlert(err) {
			// Before TLS 1.3, the server judges the client certificate
			// inside the handshake.
			return nil, clientCertError(err, own != nil)
		}
		return nil, err
	}
	t := &tlsConn{conn: tc, raw: raw, tickets: tickets}
	if asked.Load() && tc.ConnectionState().Version >= tls.VersionTLS13 {
		wait := min(max(4*time.Since(start), minVerdictWait), d.dialTimeout)
		tickets.armed.Store(true)
		err := t.awaitVerdict(ctx, wait, own != nil)
		// From here on the connection's reader handles tickets.
		tickets.armed.Store(false)
		if err != nil {
			return nil, err
		}
	}
	return &conn{raw: raw, rw: tc, tls: t}, nil
}

// remoteAlert reports whether err is an alert the server sent.
func remoteAlert(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "remote error"
}

// clientCertError says that the server, having asked for a client
// certificate, refused the connection.
func clientCertError(err error, haveCert bool) error {
	if haveCert {
		return fmt.Errorf("server refused the client certificate: %w", err)
	}
	return fmt.Errorf("server requires a client certificate and none is configured (cert_file, key_file): %w", err)
}

// awaitVerdict waits for a TLS 1.3 server to accept or refuse the client
// certificate it asked for. In TLS 1.3 the client's handshake ends before
// the server has checked that certificate; a server that refuses it
// answers with an alert after the handshake, and whatever the client
// wrote meanwhile is lost. A session ticket, or a quiet wait, means
// accepted.
func (t *tlsConn) awaitVerdict(ctx context.Context, wait time.Duration, haveCert bool) error {
	deadline := time.Now().Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := t.raw.SetReadDeadline(deadline); err != nil {
		return err
	}
	var b [1]byte
	_, err := t.conn.Read(b[:])
	if derr := t.raw.SetReadDeadline(time.Time{}); derr != nil {
		return derr
	}
	if err == nil || isTimeout(err) {
		return nil
	}
	return clientCertError(err, haveCert)
}

// ticketWatch is a connection's tls.ClientSessionCache. It never offers a
// session to resume, so every connection verifies the server with the
// current CA and shows the current client certificate. It notices the
// server's session tickets, the server's sign that it accepted the
// connection: a ticket arrives inside a Read, and the watch ends that
// Read at once by moving the read deadline to the past (a timeout leaves
// the TLS connection usable).
type ticketWatch struct {
	raw   net.Conn
	armed atomic.Bool // set after the handshake; tickets during it are TLS 1.2's
}

func (w *ticketWatch) Get(string) (*tls.ClientSessionState, bool) { return nil, false }

func (w *ticketWatch) Put(_ string, cs *tls.ClientSessionState) {
	if cs != nil && w.armed.Load() {
		_ = w.raw.SetReadDeadline(aLongTimeAgo) // fails only on a closed connection, which the Read reports
	}
}

var _ tls.ClientSessionCache = (*ticketWatch)(nil)
