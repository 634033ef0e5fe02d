package syslogsink_test

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// readEvent is the receiver's side of the sink: one octet-counted RFC
// 5424 message, checked against the event it carries, whose wire JSON it
// returns.
func readEvent(r *bufio.Reader) ([]byte, error) {
	frame, err := syslogsink.ReadFrame(r, 1<<20)
	if err != nil {
		return nil, err
	}
	m, err := syslogsink.ParseMessage(frame)
	if err != nil {
		return nil, err
	}
	env, err := sinks.ParseEnvelope(m.Msg)
	if err != nil {
		return nil, fmt.Errorf("message carries no event: %w", err)
	}
	want := syslogsink.Message{
		Facility: 1, Severity: syslogsink.SeverityInformational, Version: 1,
		Timestamp: env.Timestamp, Hostname: "vigil-test", AppName: "vigil",
		MsgID: env.Event, Msg: m.Msg,
	}
	// Compared field by field first: cmp is too slow for every event of
	// the suite under the race detector.
	if m.Facility != want.Facility || m.Severity != want.Severity || m.Version != want.Version ||
		!m.Timestamp.Equal(want.Timestamp) || m.Hostname != want.Hostname || m.AppName != want.AppName ||
		m.ProcID != "" || m.MsgID != want.MsgID || m.StructuredData != "" {
		return nil, fmt.Errorf("message header does not match its event %s (-want +got):\n%s", env.EventID, cmp.Diff(want, m))
	}
	return m.Msg, nil
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		NewReceiver: func(t *testing.T) sinktest.Receiver {
			return sinktest.NewStreamReceiver(t, sinktest.StreamConfig{ReadEvent: readEvent})
		},
		NewTLSReceiver: func(t *testing.T, cfg sinktest.TLSReceiverConfig) sinktest.Receiver {
			return sinktest.NewStreamReceiver(t, sinktest.StreamConfig{TLS: &cfg, ReadEvent: readEvent})
		},
		NewSink: func(t *testing.T, r sinktest.Receiver, tc *config.ClientTLS) sinks.Sink {
			s, err := syslogsink.New(syslogsink.Config{Address: r.Addr(), TLS: tc, Hostname: "vigil-test", Settle: 100 * time.Millisecond})
			if err != nil {
				t.Fatalf("new sink: %v", err)
			}
			return s
		},
	})
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name    string
		cfg     syslogsink.Config
		wantErr string
	}{
		{"defaults", syslogsink.Config{Address: "siem.example.com:6514"}, ""},
		{"everything", syslogsink.Config{Address: "10.1.2.3:514", Facility: "LOCAL7", AppName: "vigil-eu", Hostname: "vigil-1.example.com"}, ""},
		{"no address", syslogsink.Config{}, "address: required"},
		{"unknown facility", syslogsink.Config{Address: "a:1", Facility: "local8"}, `facility "local8"`},
		{"app name with a space", syslogsink.Config{Address: "a:1", AppName: "vigil audit"}, "app_name"},
		{"app name too long", syslogsink.Config{Address: "a:1", AppName: strings.Repeat("v", 49)}, "app_name"},
		{"hostname not ASCII", syslogsink.Config{Address: "a:1", Hostname: "hôte"}, "hostname"},
		{"TLS with two CAs", syslogsink.Config{Address: "a:1", TLS: &config.ClientTLS{CAFile: "a", CAPEM: "b"}}, "cannot be set together with ca_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tt.wantErr == "") != (err == nil) || !strings.Contains(got, tt.wantErr) {
				t.Errorf("Validate() = %q, want an error containing %q", got, tt.wantErr)
			}
			if _, nerr := syslogsink.New(tt.cfg); (nerr == nil) != (err == nil) {
				t.Errorf("New() = %v, Validate() = %v: they disagree", nerr, err)
			}
		})
	}
}

// TestWrite_DamagedEventIsPermanent: an event whose envelope cannot be
// read is refused permanently, naming it, before any connection.
func TestWrite_DamagedEventIsPermanent(t *testing.T) {
	s, err := syslogsink.New(syslogsink.Config{Address: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := append(sinktest.Events(1), eventlog.Record{ID: "damaged", Value: []byte(`{"topic":"FILE"`)})
	err = s.Write(context.Background(), batch)
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "frame event damaged") {
		t.Errorf("Write() = %v, want a permanent error naming the event", err)
	}
}

// TestWire_Golden: the exact bytes on the wire for a few events.
func TestWire_Golden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var batch []eventlog.Record
	for line := range bytes.Lines(in) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		env, err := sinks.ParseEnvelope(line)
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, eventlog.Record{ID: env.EventID, Value: line})
	}
	wire := sinktest.Capture(t, func(addr string) {
		s, err := syslogsink.New(syslogsink.Config{Address: addr, Facility: "local4", Hostname: "vigil-1.example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Write(context.Background(), batch); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	path := filepath.Join("testdata", "wire.golden")
	if *update {
		if err := os.WriteFile(path, wire, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(wire)); diff != "" {
		t.Errorf("wire bytes differ from %s (-want +got):\n%s", path, diff)
	}
}
