package tcp_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net"
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
	"github.com/vigilaudit/vigil/sinks/tcp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func lineReceiver(t *testing.T) sinktest.Receiver {
	return sinktest.NewStreamReceiver(t, sinktest.StreamConfig{ReadEvent: sinktest.ReadLine})
}

func tlsLineReceiver(t *testing.T, cfg sinktest.TLSReceiverConfig) sinktest.Receiver {
	return sinktest.NewStreamReceiver(t, sinktest.StreamConfig{TLS: &cfg, ReadEvent: sinktest.ReadLine})
}

func newSink(t *testing.T, cfg tcp.Config) *tcp.Sink {
	t.Helper()
	s, err := tcp.New(cfg)
	if err != nil {
		t.Fatalf("new sink: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	sinktest.Run(t, sinktest.Harness{
		NewReceiver:    lineReceiver,
		NewTLSReceiver: tlsLineReceiver,
		NewSink: func(t *testing.T, r sinktest.Receiver, tc *config.ClientTLS) sinks.Sink {
			return newSink(t, tcp.Config{Address: r.Addr(), TLS: tc, Settle: testSettle})
		},
	})
}

// testSettle is the settle time of the tests' sinks: long enough for a
// receiver's close to be seen, short enough for many writes.
const testSettle = 100 * time.Millisecond

func TestConfig_Validate(t *testing.T) {
	pem := string(sinktest.NewCA(t, "test CA").PEM())
	tests := []struct {
		name    string
		cfg     tcp.Config
		wantErr string
	}{
		{"valid", tcp.Config{Address: "siem.example.com:6514"}, ""},
		{"valid TLS", tcp.Config{Address: "10.0.0.7:6514", TLS: &config.ClientTLS{CAPEM: pem}}, ""},
		{"no address", tcp.Config{}, "address: required"},
		{"no port", tcp.Config{Address: "siem.example.com"}, "is not host:port"},
		{"no host", tcp.Config{Address: ":6514"}, "has no host"},
		{"negative dial timeout", tcp.Config{Address: "a:1", DialTimeout: -time.Second}, "dial_timeout"},
		{"negative write timeout", tcp.Config{Address: "a:1", WriteTimeout: -time.Second}, "write_timeout"},
		{"negative settle", tcp.Config{Address: "a:1", Settle: -time.Second}, "settle"},
		{"two CAs", tcp.Config{Address: "a:1", TLS: &config.ClientTLS{CAFile: "ca.pem", CAPEM: "x"}}, "cannot be set together with ca_file"},
		{"cert without key", tcp.Config{Address: "a:1", TLS: &config.ClientTLS{CertFile: "c.pem"}}, "key_file: required when cert_file is set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if got := errString(err); !strings.Contains(got, tt.wantErr) || (tt.wantErr == "") != (err == nil) {
				t.Errorf("Validate() = %q, want an error containing %q", got, tt.wantErr)
			}
		})
	}
}

func TestNew_ReadsCertificateFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := sinktest.WriteFile(t, dir, "not.pem", []byte("hello\n"))
	tests := []struct {
		name    string
		tls     config.ClientTLS
		wantErr string
	}{
		{"missing ca_file", config.ClientTLS{CAFile: filepath.Join(dir, "absent.pem")}, "read ca_file"},
		{"ca_file without certificate", config.ClientTLS{CAFile: notPEM}, "holds no PEM certificate"},
		{"ca_pem without certificate", config.ClientTLS{CAPEM: "hello"}, "ca_pem: no PEM certificate found"},
		{"missing cert_file", config.ClientTLS{CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem")}, "read cert_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tcp.New(tcp.Config{Address: "127.0.0.1:1", TLS: &tt.tls})
			if !strings.Contains(errString(err), tt.wantErr) {
				t.Errorf("New() error = %q, want it to contain %q", errString(err), tt.wantErr)
			}
		})
	}
}

// TestWrite_FrameErrorIsPermanent: an event the framing cannot carry
// fails the batch permanently, naming the event, before any connection:
// it fails the same way with no receiver at all.
func TestWrite_FrameErrorIsPermanent(t *testing.T) {
	good := sinktest.Events(2)
	refuse := func(dst []byte, r eventlog.Record) ([]byte, error) {
		if r.ID == "bad" {
			return dst, errors.New("cannot encode")
		}
		return append(dst, r.Value...), nil
	}
	tests := []struct {
		name    string
		frame   func([]byte, eventlog.Record) ([]byte, error)
		bad     eventlog.Record
		wantErr string
	}{
		{"newline in event", nil, eventlog.Record{ID: "bad", Value: []byte("{\"a\":1}\n{\"b\":2}")}, "frame event bad: event holds a newline"},
		{"empty event", nil, eventlog.Record{ID: "bad"}, "frame event bad: empty event"},
		{"framer refuses", refuse, eventlog.Record{ID: "bad", Value: []byte("{}")}, "frame event bad: cannot encode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(t, tcp.Config{Address: closedAddr(t), Frame: tt.frame})
			defer s.Close()
			err := s.Write(context.Background(), []eventlog.Record{good[0], tt.bad, good[1]})
			if !sinks.IsPermanent(err) || !strings.Contains(errString(err), tt.wantErr) {
				t.Errorf("Write() = %v (permanent: %v), want a permanent error containing %q", err, sinks.IsPermanent(err), tt.wantErr)
			}
			if s.Connected() {
				t.Error("a batch that cannot be framed opened a connection")
			}
		})
	}
}

func TestWrite_AfterClose(t *testing.T) {
	r := lineReceiver(t)
	s := newSink(t, tcp.Config{Address: r.Addr()})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	err := s.Write(context.Background(), sinktest.Events(1))
	if err == nil || sinks.IsPermanent(err) {
		t.Errorf("Write after Close = %v, want a retryable error", err)
	}
}

// TestWrite_ServerVariants covers TLS servers the conformance suite's
// receiver does not play: TLS 1.2 only (the server judges the client
// certificate inside the handshake), and TLS 1.3 without session tickets
// (the sink waits out the server's silence before trusting the
// connection).
func TestWrite_ServerVariants(t *testing.T) {
	tests := []struct {
		name string
		edit func(*tls.Config)
	}{
		{"TLS 1.2", func(c *tls.Config) { c.MaxVersion = tls.VersionTLS12 }},
		{"TLS 1.3 without tickets", func(c *tls.Config) { c.SessionTicketsDisabled = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serverCA := sinktest.NewCA(t, "Vigil Test Root CA")
			clientCA := sinktest.NewCA(t, "Vigil Test Client CA")
			r := sinktest.NewStreamReceiver(t, sinktest.StreamConfig{
				TLS: &sinktest.TLSReceiverConfig{
					Certificate: serverCA.ServerCertificate(t),
					ClientCAs:   clientCA.Pool(),
				},
				EditTLS:   tt.edit,
				ReadEvent: sinktest.ReadLine,
			})
			dir := t.TempDir()
			caFile := sinktest.WriteFile(t, dir, "ca.pem", serverCA.PEM())

			without := newSink(t, tcp.Config{Address: r.Addr(), TLS: &config.ClientTLS{CAFile: caFile}})
			defer without.Close()
			err := without.Write(context.Background(), sinktest.Events(10))
			if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "certificate") {
				t.Errorf("Write without a client certificate = %v, want a retryable error about the certificate", err)
			}

			certPEM, keyPEM := clientCA.ClientPEM(t, "vigil-forwarder")
			with := newSink(t, tcp.Config{Address: r.Addr(), TLS: &config.ClientTLS{
				CAFile:   caFile,
				CertFile: sinktest.WriteFile(t, dir, "client.pem", certPEM),
				KeyFile:  sinktest.WriteFile(t, dir, "client-key.pem", keyPEM),
			}})
			defer with.Close()
			batch := sinktest.Events(10)
			if err := with.Write(context.Background(), batch); err != nil {
				t.Fatalf("Write with a client certificate: %v", err)
			}
			waitFor(t, r, len(batch))
		})
	}
}

// TestWrite_PeerClosedBeforeWrite: a receiver that closed the connection
// in order (a FIN, over TLS a close_notify first) between two batches
// gets the second on a new connection. Written into the closed one, the
// batch would vanish while Write reported success.
func TestWrite_PeerClosedBeforeWrite(t *testing.T) {
	for _, withTLS := range []bool{false, true} {
		name := map[bool]string{false: "tcp", true: "tls"}[withTLS]
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var tc *config.ClientTLS
			if withTLS {
				ca := sinktest.NewCA(t, "Vigil Test Root CA")
				ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{ca.ServerCertificate(t)}})
				tc = &config.ClientTLS{CAPEM: string(ca.PEM())}
			}
			first, second := sinktest.Events(50), sinktest.Events(70)
			closed := make(chan struct{})
			got := make(chan []string, 1)
			go func() {
				defer close(got)
				// The first connection: read the first batch, then close
				// in order.
				c, err := ln.Accept()
				if err != nil {
					return
				}
				lines := readLines(c, len(first))
				time.Sleep(3 * testSettle) // the first batch settles
				_ = c.Close()              // the orderly close under test
				close(closed)
				if len(lines) != len(first) {
					return
				}
				c, err = ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				got <- readLines(c, len(second))
				time.Sleep(3 * testSettle) // the second batch settles
			}()

			s := newSink(t, tcp.Config{Address: ln.Addr().String(), TLS: tc, Settle: testSettle})
			defer s.Close()
			if err := s.Write(context.Background(), first); err != nil {
				t.Fatalf("first Write: %v", err)
			}
			<-closed
			if err := s.Write(context.Background(), second); err != nil {
				t.Fatalf("second Write: %v", err)
			}
			var lines []string
			select {
			case lines = <-got:
			case <-time.After(10 * time.Second):
				t.Fatal("the second batch did not arrive on a new connection")
			}
			var want []string
			for _, r := range second {
				want = append(want, string(r.Value))
			}
			if diff := cmp.Diff(want, lines); diff != "" {
				t.Errorf("second connection (-want +got):\n%s", diff)
			}
		})
	}
}

// readLines reads n lines from c, or fewer when c ends first.
func readLines(c net.Conn, n int) []string {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // a stuck test fails on the count instead
	r := bufio.NewReader(c)
	var out []string
	for len(out) < n {
		line, err := sinktest.ReadLine(r)
		if err != nil {
			break
		}
		out = append(out, string(line))
	}
	return out
}

// TestWire_Golden: the bytes on the wire for a few events are the events'
// wire JSON, one per line, unchanged.
func TestWire_Golden(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	wire := sinktest.Capture(t, func(addr string) {
		s := newSink(t, tcp.Config{Address: addr, Settle: testSettle})
		if err := s.Write(context.Background(), records(in)); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	golden(t, filepath.Join("testdata", "wire.golden"), wire)
}

// records reads one event per line.
func records(jsonl []byte) []eventlog.Record {
	var out []eventlog.Record
	for line := range bytes.Lines(jsonl) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		env, _ := sinks.ParseEnvelope(line) // the test data are well-formed events
		out = append(out, eventlog.Record{ID: env.EventID, Value: line})
	}
	return out
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("wire bytes differ from %s (-want +got):\n%s", path, diff)
	}
}

// waitFor waits until r has received n events.
func waitFor(t *testing.T, r sinktest.Receiver, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); len(r.Received()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver has %d of %d events", len(r.Received()), n)
		}
	}
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestWriteSettling_CloseWithinSettle: a batch the receiver read whole
// still fails to settle when the receiver closes the connection within
// the settle time (the sink cannot tell a read batch from a dropped one),
// and settles when the connection stays open.
func TestWriteSettling_CloseWithinSettle(t *testing.T) {
	for _, stayOpen := range []bool{true, false} {
		t.Run(map[bool]string{true: "stays open", false: "closed"}[stayOpen], func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			batch := sinktest.Events(20)
			done := make(chan struct{})
			go func() {
				defer close(done)
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				readLines(c, len(batch))
				if stayOpen {
					time.Sleep(5 * testSettle)
				}
			}()
			s := newSink(t, tcp.Config{Address: ln.Addr().String(), Settle: testSettle})
			defer s.Close()
			settled := make(chan error, 1)
			if err := s.WriteSettling(context.Background(), batch, func(err error) { settled <- err }); err != nil {
				if stayOpen {
					t.Fatalf("WriteSettling: %v", err)
				}
				<-done
				return // the close came before the acknowledgement: not delivered either
			}
			select {
			case err := <-settled:
				if stayOpen && err != nil {
					t.Errorf("settled with %v over a connection that stayed open", err)
				}
				if !stayOpen && err == nil {
					t.Error("settled although the receiver closed the connection within the settle time")
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the batch never settled nor failed")
			}
			<-done
		})
	}
}

func TestSink_FrameSize(t *testing.T) {
	r := eventlog.Record{ID: "a", Value: []byte(`{"topic":"FILE","event":"file.transfer"}`)}
	plain := newSink(t, tcp.Config{Address: "127.0.0.1:1"})
	if got, want := plain.FrameSize(r), len(r.Value)+1; got != want {
		t.Errorf("newline framing: FrameSize = %d, want %d", got, want)
	}
	framed := newSink(t, tcp.Config{Address: "127.0.0.1:1", Frame: func(dst []byte, r eventlog.Record) ([]byte, error) {
		dst = append(dst, "<<"...)
		return append(append(dst, r.Value...), ">>\r\n"...), nil
	}})
	if got, want := framed.FrameSize(r), len(r.Value)+6; got != want {
		t.Errorf("other framing: FrameSize = %d, want %d", got, want)
	}
}
