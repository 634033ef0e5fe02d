package splunkhec

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// harness points the conformance suite at the fake collector, with
// indexer acknowledgement on or off.
func harness(ack bool) sinktest.Harness {
	return sinktest.Harness{
		NewReceiver: func(t *testing.T) sinktest.Receiver {
			return newFake(t, fakeOptions{ack: ack})
		},
		NewTLSReceiver: func(t *testing.T, cfg sinktest.TLSReceiverConfig) sinktest.Receiver {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cfg.Certificate}}
			if cfg.ClientCAs != nil {
				tc.ClientCAs, tc.ClientAuth = cfg.ClientCAs, tls.RequireAndVerifyClientCert
			}
			return newFake(t, fakeOptions{ack: ack, tls: tc})
		},
		NewSink: func(t *testing.T, r sinktest.Receiver, tc *config.ClientTLS) sinks.Sink {
			s, err := New(Config{
				URL:             r.Addr(),
				Token:           testToken,
				Ack:             ack,
				AckTimeout:      5 * time.Second,
				AckPollInterval: 5 * time.Millisecond,
				Timeout:         5 * time.Second,
				TLS:             tc,
			})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			return s
		},
	}
}

// TestConformance runs the suite without acknowledgements over plain
// HTTP and TLS, and with them over plain HTTP: acknowledgement polling
// does not depend on the transport, and the TLS half is the slow one.
func TestConformance(t *testing.T) {
	t.Run("NoAck", func(t *testing.T) { sinktest.Run(t, harness(false)) })
	t.Run("Ack", func(t *testing.T) {
		h := harness(true)
		h.NewTLSReceiver = nil
		sinktest.Run(t, h)
	})
}
