package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/splunkhec"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// benchSinkKinds are the kinds vigil bench sink forwards to, in the
// order its help lists them.
var benchSinkKinds = []string{"tcp", "tls", "syslog", "relp", "splunkhec"}

// benchSinkOptions are the flags of vigil bench sink.
type benchSinkOptions struct {
	kind          string
	events, batch int
	// settle is the settle time of the stream kinds (tcp, tls, syslog).
	settle time.Duration
	// noAck turns splunkhec's indexer acknowledgement off.
	noAck bool
}

func newBenchSinkCmd() *cobra.Command {
	o := benchSinkOptions{}
	var plain bool
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Measure forwarding from the event log through a sink to a loopback receiver",
		Long: `Fill an embedded event log in a temporary directory with --events
normalized file.transfer events, then forward them, as the consumer group
of a sink of --kind, to a receiver of that kind on loopback that counts
the events. Reports events/s, MB/s (the bytes the receiver took, framing
included) and events per CPU-second of the whole process (the receiver
included), beside the raw throughput of the same bytes over one loopback
TCP connection (TLS for the tls kind).

Kinds (each sink built as vigil serve builds it from the config file,
defaults kept unless said here):
  tcp        newline-delimited JSON over TCP to a receiver that counts
             lines; --plain is an alias for --kind tcp
  tls        the same over TLS, with a certificate made for the run (the
             default kind)
  syslog     octet-counted RFC 5424 messages over TCP to a receiver that
             reads the octet counts and counts the messages
  relp       RFC 5424 messages in RELP syslog frames over TCP, at most 128
             unanswered (the sink's default window), to a minimal RELP
             server that answers open with its offers, every syslog frame
             with 200 OK, and close
  splunkhec  HEC event requests over HTTP to a loopback collector that
             counts the events of each body, with indexer
             acknowledgement (ack: true; the collector acknowledges every
             id at the first poll) and the default max_in_flight of 4;
             --no-ack sends without acknowledgement

The stream kinds (tcp, tls, syslog) count a batch delivered once the
connection stayed open for --settle after the receiver took it (default
2s, the sinks' own); later batches are written meanwhile. The result line
names the kind and these settings.`,
		Example: `  vigil bench sink --events 2000000 --batch 5000
  vigil bench sink --kind syslog --events 300000
  vigil bench sink --kind splunkhec --no-ack`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.events < 1 || o.batch < 1 || o.settle <= 0 {
				return errors.New("--events, --batch and --settle must be positive")
			}
			if plain {
				if cmd.Flags().Changed("kind") && o.kind != "tcp" {
					return fmt.Errorf("--plain is --kind tcp; it does not go with --kind %s", o.kind)
				}
				o.kind = "tcp"
			}
			if !slices.Contains(benchSinkKinds, o.kind) {
				return fmt.Errorf("--kind %q: want one of %s", o.kind, strings.Join(benchSinkKinds, ", "))
			}
			if o.noAck && o.kind != "splunkhec" {
				return errors.New("--no-ack is for --kind splunkhec")
			}
			return benchSink(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kind, "kind", "tls", "the sink `kind`: "+strings.Join(benchSinkKinds, ", "))
	f.IntVar(&o.events, "events", 1_000_000, "how many `events` to forward")
	f.IntVar(&o.batch, "batch", 5000, "`events` per write (the sink's batch_size)")
	f.DurationVar(&o.settle, "settle", tcp.DefaultSettle, "settle time of the tcp, tls and syslog kinds")
	f.BoolVar(&o.noAck, "no-ack", false, "splunkhec without indexer acknowledgement")
	f.BoolVar(&plain, "plain", false, "same as --kind tcp (plain TCP instead of TLS)")
	return cmd
}

func benchSink(ctx context.Context, stdout, stderr io.Writer, o benchSinkOptions) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	l, err := filelog.Open(filepath.Join(dir, "log"), filelog.Config{})
	if err != nil {
		return err
	}
	defer l.Close()
	eventBytes, err := fillLog(ctx, l, o.events, stderr)
	if err != nil {
		return err
	}

	serverTLS, caPEM, err := selfSignedTLS()
	if err != nil {
		return err
	}
	if o.kind != "tls" {
		serverTLS = nil
	}
	recv, err := startBenchReceiver(o.kind, serverTLS)
	if err != nil {
		return err
	}
	defer recv.close()
	s, settings, err := newBenchSink(o, recv.addr, caPEM)
	if err != nil {
		return err
	}
	dl, err := sinks.OpenDeadLetter(filepath.Join(dir, deadLetterDBName))
	if err != nil {
		_ = s.Close()
		return err
	}
	defer dl.Close()
	sc := sinks.Config{Name: "bench"}
	sc.SetDefaults()
	fw, err := sinks.NewForwarder(s, sc.Forwarder(o.kind, dl, nil, nil))
	if err != nil {
		_ = s.Close()
		return err
	}
	defer fw.Close()
	consumer := eventlog.NewSettlingConsumer(l, eventlog.ConsumerConfig{Group: fw.Group(), BatchSize: o.batch, Linger: time.Millisecond},
		fw.HandleSettling, nil, nil)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start, cpu0 := time.Now(), processCPU()
	stop := progress(stderr, "forwarded", &recv.events, int64(o.events))
	errc := make(chan error, 1)
	go func() { errc <- consumer.Run(runCtx) }()
	for recv.events.Load() < int64(o.events) {
		select {
		case err := <-errc:
			stop()
			return fmt.Errorf("forward: %w", err)
		case <-ctx.Done():
			stop()
			cancel()
			<-errc
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	wall, cpu := time.Since(start), processCPU()-cpu0
	stop()
	cancel()
	if err := <-errc; err != nil {
		return err
	}
	mb := float64(recv.bytes.Load()) / 1e6
	fmt.Fprintf(stdout, "sink %s (batch %d, %s): %d events of %d bytes in %v: %.0f events/s, %.1f MB/s, %.0f events per CPU-second\n",
		o.kind, o.batch, settings, o.events, eventBytes, wall.Round(time.Millisecond), float64(o.events)/wall.Seconds(), mb/wall.Seconds(), float64(o.events)/cpu.Seconds())

	raw, err := rawThroughput(serverTLS, caPEM, int(recv.bytes.Load()))
	if err != nil {
		return err
	}
	transport := "tcp"
	if serverTLS != nil {
		transport = "tls"
	}
	fmt.Fprintf(stdout, "raw %s loopback, one connection, same bytes: %.1f MB/s\n", transport, raw)
	return nil
}

// startBenchReceiver starts the loopback receiver of kind; serverTLS is
// set for the tls kind only.
func startBenchReceiver(kind string, serverTLS *tls.Config) (*receiver, error) {
	switch kind {
	case "tcp", "tls":
		return startStreamReceiver(serverTLS, serveLines)
	case "syslog":
		return startStreamReceiver(nil, serveOctetCounted)
	case "relp":
		return startStreamReceiver(nil, serveRELP)
	case "splunkhec":
		return startHECCollector()
	}
	return nil, fmt.Errorf("unknown sink kind %q", kind)
}

// newBenchSink builds the sink of o.kind that sends to addr, as newSink
// builds it from a config section with only the address (and, for
// splunkhec, the token and ack) set; caPEM is the tls receiver's
// certificate. It returns the settings the result line names.
func newBenchSink(o benchSinkOptions, addr string, caPEM []byte) (sinks.Sink, string, error) {
	settle := fmt.Sprintf("settle %v", o.settle)
	switch o.kind {
	case "tcp":
		s, err := tcp.New(tcp.Config{Address: addr, Settle: o.settle})
		return s, settle, err
	case "tls":
		k := tcp.TLSKind{Config: tcp.Config{Address: addr, Settle: o.settle}, ClientTLS: config.ClientTLS{CAPEM: string(caPEM)}}
		s, err := tcp.New(k.Sink())
		return s, settle, err
	case "syslog":
		s, err := syslogsink.New(syslogsink.Config{Address: addr, Settle: o.settle})
		return s, settle, err
	case "relp":
		c := relp.Config{Address: addr}
		c.SetDefaults()
		s, err := relp.New(c)
		return s, fmt.Sprintf("window %d", c.Window), err
	case "splunkhec":
		c := splunkhec.Config{URL: "http://" + addr, Token: hecToken, Ack: !o.noAck}
		s, err := splunkhec.New(c)
		if o.noAck {
			return s, "no ack", err
		}
		return s, fmt.Sprintf("ack, max_in_flight %d", splunkhec.DefaultMaxInFlight), err
	}
	return nil, "", fmt.Errorf("unknown sink kind %q", o.kind)
}

// fillLog appends n normalized events and returns the size of one.
func fillLog(ctx context.Context, l eventlog.Log, n int, stderr io.Writer) (int, error) {
	norm := schema.NewNormalizer(schema.Limits{})
	meta := schema.Meta{Submitter: schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}, ReceivedAt: time.Now()}
	var filled atomic.Int64
	stop := progress(stderr, "filled the log with", &filled, int64(n))
	defer stop()
	size := 0
	recs := make([]eventlog.Record, 0, 1000)
	for i := range n {
		e, err := norm.Normalize(benchTransfer(int64(i+1)), meta)
		if err != nil {
			return 0, err
		}
		size = len(e.Wire())
		r := eventlog.RecordOf(e)
		r.Value = bytes.Clone(r.Value)
		recs = append(recs, r)
		if len(recs) == cap(recs) || i == n-1 {
			if err := l.Append(ctx, recs); err != nil {
				return 0, err
			}
			filled.Add(int64(len(recs)))
			recs = recs[:0]
		}
	}
	return size, nil
}

// rawThroughput copies n bytes over one loopback connection (TLS when
// serverTLS is set) and returns MB/s.
func rawThroughput(serverTLS *tls.Config, caPEM []byte, n int) (float64, error) {
	recv, err := startStreamReceiver(serverTLS, serveLines)
	if err != nil {
		return 0, err
	}
	defer recv.close()
	var c net.Conn
	if serverTLS != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(caPEM)
		c, err = tls.Dial("tcp", recv.addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	} else {
		c, err = net.Dial("tcp", recv.addr)
	}
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer c.Close()
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	bw := bufio.NewWriterSize(c, 1<<20)
	start := time.Now()
	for sent := 0; sent < n; sent += len(chunk) {
		if _, err := bw.Write(chunk); err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	for recv.bytes.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	return float64(recv.bytes.Load()) / 1e6 / time.Since(start).Seconds(), nil
}

// selfSignedTLS returns a server config with a new certificate for
// 127.0.0.1, and that certificate as PEM for the client to trust.
func selfSignedTLS() (*tls.Config, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vigil bench"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
