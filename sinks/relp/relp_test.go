package relp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

func newSink(t *testing.T, cfg relp.Config) *relp.Sink {
	t.Helper()
	if cfg.Hostname == "" {
		cfg.Hostname = "vigil-test"
	}
	s, err := relp.New(cfg)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		NewReceiver: func(t *testing.T) sinktest.Receiver { return newServer(t, nil) },
		NewTLSReceiver: func(t *testing.T, cfg sinktest.TLSReceiverConfig) sinktest.Receiver {
			return newServer(t, &cfg)
		},
		NewSink: func(t *testing.T, r sinktest.Receiver, tc *config.ClientTLS) sinks.Sink {
			s, err := relp.New(relp.Config{Address: r.Addr(), TLS: tc, Hostname: "vigil-test", AckTimeout: 5 * time.Second})
			if err != nil {
				t.Fatalf("new sink: %v", err)
			}
			return s
		},
	})
}

// received waits until r holds n events and returns them.
func received(t *testing.T, r *server, n int) [][]byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got := r.Received()
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func write(t *testing.T, s *relp.Sink, batch []eventlog.Record) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return s.Write(ctx, batch)
}

// TestAnswerCodes: each rsp code the receiver may answer a syslog frame
// with is delivered, retryable or permanent as the package documents.
func TestAnswerCodes(t *testing.T) {
	tests := []struct {
		answer    string
		permanent bool
	}{
		{"500 error processing", false}, // librelp's only error code
		{"500 command disabled", false},
		{"503 busy", false},
		{"999", false},
		{"400 malformed message", true},
		{"413 too large", true},
	}
	for _, tt := range tests {
		t.Run(tt.answer, func(t *testing.T) {
			r := newServer(t, nil)
			s := newSink(t, relp.Config{Address: r.Addr()})
			batch := sinktest.Events(20)
			r.Answer(tt.answer)
			err := write(t, s, batch)
			switch {
			case err == nil:
				t.Fatalf("write answered %q returned nil", tt.answer)
			case sinks.IsPermanent(err) != tt.permanent:
				t.Fatalf("write answered %q: permanent %v, want %v: %v", tt.answer, sinks.IsPermanent(err), tt.permanent, err)
			case !strings.Contains(err.Error(), tt.answer[:3]):
				t.Errorf("error %q does not name the code", err)
			}
			if err := write(t, s, batch); err != nil {
				t.Fatalf("write again: %v", err)
			}
			if got := len(received(t, r, len(batch))); got != len(batch) {
				t.Errorf("receiver took %d events, want %d", got, len(batch))
			}
		})
	}
}

// TestSuccessCodes: any 2xx answer is a delivery.
func TestSuccessCodes(t *testing.T) {
	r := newServer(t, nil)
	s := newSink(t, relp.Config{Address: r.Addr()})
	r.Answer() // nothing refused
	if err := write(t, s, sinktest.Events(5)); err != nil {
		t.Fatal(err)
	}
}

// TestWindow: the sink keeps exactly window frames unanswered: a
// receiver that answers only once window frames wait still gets every
// event, and sees none beyond the window meanwhile.
func TestWindow(t *testing.T) {
	for _, window := range []int{1, 7, 128} {
		t.Run("", func(t *testing.T) {
			r := newServer(t, nil)
			r.Hold(window)
			s := newSink(t, relp.Config{Address: r.Addr(), Window: window})
			batch := sinktest.Events(window * 5)
			if err := write(t, s, batch); err != nil {
				t.Fatalf("write %d events with window %d: %v", len(batch), window, err)
			}
			if got := len(r.Received()); got != len(batch) {
				t.Errorf("receiver took %d events, want %d", got, len(batch))
			}
			if n := r.Overrun(); n > 0 {
				t.Errorf("the sink sent frames beyond its window of %d, %d times", window, n)
			}
		})
	}
}

// TestServerClose: a receiver that shuts down in the middle of a batch
// (serverclose) loses nothing: the frames it did not answer go on a new
// connection within the same Write.
func TestServerClose(t *testing.T) {
	r := newServer(t, nil)
	s := newSink(t, relp.Config{Address: r.Addr(), Window: 16})
	r.ServerCloseAfter(100)
	batch := sinktest.Events(500)
	if err := write(t, s, batch); err != nil {
		t.Fatalf("write across a serverclose: %v", err)
	}
	got := received(t, r, len(batch))
	seen := map[string]bool{}
	for _, ev := range got {
		env, err := sinks.ParseEnvelope(ev)
		if err != nil {
			t.Fatal(err)
		}
		seen[env.EventID] = true
	}
	for _, rec := range batch {
		if !seen[rec.ID] {
			t.Fatalf("event %s lost across serverclose", rec.ID)
		}
	}
	t.Logf("%d events taken for %d sent", len(got), len(batch))
}

// TestRewriteSkipsAcknowledged: after a failed Write, the same batch
// written again sends only what the receiver did not answer.
func TestRewriteSkipsAcknowledged(t *testing.T) {
	r := newServer(t, nil)
	s := newSink(t, relp.Config{Address: r.Addr(), Window: 1})
	batch := sinktest.Events(10)
	if err := write(t, s, batch[:3]); err != nil {
		t.Fatal(err)
	}
	r.Answer("500 error processing")
	if err := write(t, s, batch[3:]); err == nil {
		t.Fatal("write of a refused frame returned nil")
	}
	r.Down()
	r.Up()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Write(ctx, batch[3:]); err != nil {
		t.Fatal(err)
	}
	if got := len(r.Received()); got != len(batch) {
		t.Errorf("receiver took %d events, want each of %d once", got, len(batch))
	}
}

// TestOpenRefused: a receiver that refuses the session, or does not
// offer the syslog command, gets a retryable error naming why.
func TestOpenRefused(t *testing.T) {
	for _, tt := range []struct{ name, answer, want string }{
		{"refused", "500 required command not supported by client", "refused the session: 500"},
		{"no syslog", "200 OK\nrelp_version=0\ncommands=", "does not offer the syslog command"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := fakeOpen(t, tt.answer)
			s := newSink(t, relp.Config{Address: addr})
			err := write(t, s, sinktest.Events(3))
			switch {
			case err == nil:
				t.Fatal("write returned nil")
			case sinks.IsPermanent(err):
				t.Errorf("permanent error, want retryable: %v", err)
			case !strings.Contains(err.Error(), tt.want):
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// TestFrameSize: FrameSize is the length of the frame on the wire, with
// the TXNR at its widest.
func TestFrameSize(t *testing.T) {
	s := newSink(t, relp.Config{Address: "127.0.0.1:1"})
	f, err := syslogsink.NewFormatter("", "", "vigil-test")
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range sinktest.Events(50) {
		msg, err := f.AppendMessage(nil, rec)
		if err != nil {
			t.Fatal(err)
		}
		frame := relp.AppendFrame(nil, relp.MaxTxnr, relp.CmdSyslog, msg)
		if got := s.FrameSize(rec); got != len(frame) {
			t.Fatalf("FrameSize = %d, the frame has %d bytes", got, len(frame))
		}
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     relp.Config
		wantErr string
	}{
		{"minimal", relp.Config{Address: "logs:2514"}, ""},
		{"no address", relp.Config{}, "address: required"},
		{"bad address", relp.Config{Address: "logs"}, "address"},
		{"negative window", relp.Config{Address: "logs:2514", Window: -1}, "window"},
		{"huge window", relp.Config{Address: "logs:2514", Window: 1 << 20}, "window"},
		{"negative ack timeout", relp.Config{Address: "logs:2514", AckTimeout: -time.Second}, "ack_timeout: must not be negative"},
		{"unknown facility", relp.Config{Address: "logs:2514", Facility: "nope"}, "facility"},
		{"bad app name", relp.Config{Address: "logs:2514", AppName: "a b"}, "app_name"},
		{"tls pair", relp.Config{Address: "logs:2514", TLS: &config.ClientTLS{CertFile: "c.pem"}}, "tls.key_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfig_SetDefaults(t *testing.T) {
	var c relp.Config
	c.SetDefaults()
	if c.Window != relp.DefaultWindow || c.DialTimeout != relp.DefaultDialTimeout || c.AckTimeout != relp.DefaultAckTimeout {
		t.Errorf("defaults: %+v", c)
	}
}
