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
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

func newBenchSinkCmd() *cobra.Command {
	var events, batch int
	var plain bool
	cmd := &cobra.Command{
		Use:   "sink",
		Short: "Measure forwarding from the event log to a TLS receiver",
		Long: `Fill an embedded event log in a temporary directory with --events
normalized file.transfer events, then forward them, as the consumer group
of a tls sink (or a tcp sink with --plain), to a receiver on loopback that
counts lines. Reports events/s, MB/s and events per CPU-second of the
whole process (the receiver included), beside the raw throughput of the
same bytes over one loopback TLS (or TCP) connection.`,
		Example: "  vigil bench sink --events 2000000 --batch 5000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if events < 1 || batch < 1 {
				return errors.New("--events and --batch must be positive")
			}
			return benchSink(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), events, batch, !plain)
		},
	}
	f := cmd.Flags()
	f.IntVar(&events, "events", 1_000_000, "how many `events` to forward")
	f.IntVar(&batch, "batch", 5000, "`events` per write (the sink's batch_size)")
	f.BoolVar(&plain, "plain", false, "plain TCP instead of TLS")
	return cmd
}

func benchSink(ctx context.Context, stdout, stderr io.Writer, events, batch int, useTLS bool) error {
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
	eventBytes, err := fillLog(ctx, l, events, stderr)
	if err != nil {
		return err
	}

	serverTLS, caPEM, err := selfSignedTLS()
	if err != nil {
		return err
	}
	if !useTLS {
		serverTLS = nil
	}
	recv, err := startCountingReceiver(serverTLS)
	if err != nil {
		return err
	}
	defer recv.close()

	cfg := tcp.Config{Address: recv.addr}
	kind := "tcp"
	if useTLS {
		cfg.TLS = &config.ClientTLS{CAPEM: string(caPEM)}
		kind = "tls"
	}
	s, err := tcp.New(cfg)
	if err != nil {
		return err
	}
	dl, err := sinks.OpenDeadLetter(filepath.Join(dir, deadLetterDBName))
	if err != nil {
		return err
	}
	defer dl.Close()
	fw, err := sinks.NewForwarder(s, sinks.ForwarderConfig{Name: "bench", Kind: kind, DeadLetter: dl})
	if err != nil {
		return err
	}
	defer fw.Close()
	consumer := eventlog.NewSettlingConsumer(l, eventlog.ConsumerConfig{Group: fw.Group(), BatchSize: batch, Linger: time.Millisecond},
		fw.HandleSettling, nil, nil)

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	start, cpu0 := time.Now(), processCPU()
	stop := progress(stderr, "forwarded", &recv.lines, int64(events))
	errc := make(chan error, 1)
	go func() { errc <- consumer.Run(runCtx) }()
	for recv.lines.Load() < int64(events) {
		select {
		case err := <-errc:
			stop()
			return fmt.Errorf("forward: %w", err)
		case <-ctx.Done():
			stop()
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
	fmt.Fprintf(stdout, "sink %s (batch %d): %d events of %d bytes in %v: %.0f events/s, %.1f MB/s, %.0f events per CPU-second\n",
		kind, batch, events, eventBytes, wall.Round(time.Millisecond), float64(events)/wall.Seconds(), mb/wall.Seconds(), float64(events)/cpu.Seconds())

	raw, err := rawThroughput(serverTLS, caPEM, int(recv.bytes.Load()))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "raw %s loopback, one connection, same bytes: %.1f MB/s\n", kind, raw)
	return nil
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

// countingReceiver accepts connections and counts the lines and bytes
// they carry.
type countingReceiver struct {
	addr  string
	ln    net.Listener
	lines atomic.Int64
	bytes atomic.Int64
	wg    sync.WaitGroup
}

func startCountingReceiver(tlsConfig *tls.Config) (*countingReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	r := &countingReceiver{addr: ln.Addr().String(), ln: ln}
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.wg.Go(func() {
				defer c.Close()
				buf := make([]byte, 256<<10)
				for {
					n, err := c.Read(buf)
					r.lines.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
					r.bytes.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
		}
	})
	return r, nil
}

func (r *countingReceiver) close() {
	r.ln.Close()
	r.wg.Wait()
}

// rawThroughput copies n bytes over one loopback connection (TLS when
// serverTLS is set) and returns MB/s.
func rawThroughput(serverTLS *tls.Config, caPEM []byte, n int) (float64, error) {
	recv, err := startCountingReceiver(serverTLS)
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
