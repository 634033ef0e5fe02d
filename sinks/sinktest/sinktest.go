package sinktest

import (
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
)

// Receiver is a loopback server of one protocol, controlled by the suite.
// Its methods are safe for concurrent use.
type Receiver interface {
	// Addr is what a sink is pointed at: host:port, or a URL.
	Addr() string
	// Received returns the events the receiver accepted so far, in
	// arrival order, each as the wire JSON it carried (duplicates
	// included).
	Received() [][]byte
	// Down closes the listener and every open connection; Up listens
	// again on the same address.
	Down()
	Up()
	// DropAfter makes the receiver close the connection (abruptly, with a
	// reset where it can) once it has accepted n more events.
	DropAfter(n int)
	// Stall makes the receiver stop reading (or stop answering) while
	// on, so that a sink's write blocks; Stall(false) resumes.
	Stall(on bool)
	// Reject makes the receiver refuse the next n requests with an error
	// of the protocol, permanent (such as a format error) or retryable
	// (such as server busy). It returns false when the protocol has no
	// way to refuse (plain TCP); the suite then skips those cases.
	// Reject(0, ...) refuses nothing: the suite asks with it whether the
	// protocol can refuse.
	Reject(n int, permanent bool) bool
}

// Forgetful is a Receiver that can throw away what its kernel took, as a
// real one does when it restarts: the bytes were acknowledged, so only a
// sink that waits for its batches to settle sends them again.
type Forgetful interface {
	// CloseUnread makes the receiver take each of its next n connections
	// so: with halfClose, it half-closes the connection right after the
	// handshake (a FIN; over TLS, a close_notify first); it reads up to
	// read events, then closes the connection without reading what is
	// left in its socket buffer.
	CloseUnread(n, read int, halfClose bool)
}

// TLSReceiverConfig is how the suite asks for a TLS receiver.
type TLSReceiverConfig struct {
	// Certificate is the server's certificate (for 127.0.0.1).
	Certificate tls.Certificate
	// ClientCAs, when set, makes the receiver require a client
	// certificate signed by one of them.
	ClientCAs *x509.CertPool
}

// Harness is what a sink kind gives the suite.
type Harness struct {
	// NewReceiver starts a plain receiver; nil when the kind only speaks
	// TLS.
	NewReceiver func(t *testing.T) Receiver
	// NewSink returns a sink pointed at r, with tls nil for a plain
	// receiver. The suite closes it.
	NewSink func(t *testing.T, r Receiver, tls *config.ClientTLS) sinks.Sink
	// NewTLSReceiver starts a TLS receiver; nil when the kind has no TLS.
	NewTLSReceiver func(t *testing.T, cfg TLSReceiverConfig) Receiver
}
