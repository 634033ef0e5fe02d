package tcp_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// benchBatch is the events per Write in the benchmarks, a batch the log's
// consume loop might hand over.
const benchBatch = 2000

// benchSettle is the settle time of the benchmarks' sinks: short, so
// that waiting for the last batches to settle adds little to a run.
const benchSettle = 10 * time.Millisecond

// BenchmarkForward measures the sink forwarding canonical events (about
// 530 bytes on average) to a loopback receiver that discards them.
// Target: 1M events/s on one core, over TLS. Compare with BenchmarkRaw,
// the same bytes written straight to the connection.
func BenchmarkForward(b *testing.B) {
	for _, kind := range []string{"tcp", "tls"} {
		b.Run(kind, func(b *testing.B) {
			addr, tc := discardServer(b, kind == "tls")
			s, err := tcp.New(tcp.Config{Address: addr, TLS: tc, Settle: benchSettle})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batch := sinktest.Events(benchBatch)
			b.SetBytes(int64(framedSize(batch)))
			ctx := context.Background()
			if err := s.Write(ctx, batch); err != nil { // connect before b.Loop starts the clock
				b.Fatal(err)
			}
			// The Forwarder writes the next batches while earlier ones
			// settle: measure that path, and wait for the last
			// settlements outside the clock.
			var settling sync.WaitGroup
			settled := func(err error) {
				if err != nil {
					b.Error(err)
				}
				settling.Done()
			}
			b.ReportAllocs()
			for b.Loop() {
				settling.Add(1)
				if err := s.WriteSettling(ctx, batch, settled); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			settling.Wait()
			reportEvents(b, benchBatch)
		})
	}
}

// BenchmarkRaw writes the bytes BenchmarkForward sends straight to a
// net.Conn or a crypto/tls connection: the ceiling the sink is measured
// against.
func BenchmarkRaw(b *testing.B) {
	for _, kind := range []string{"tcp", "tls"} {
		b.Run(kind, func(b *testing.B) {
			addr, tc := discardServer(b, kind == "tls")
			batch := sinktest.Events(benchBatch)
			var wire []byte
			for _, r := range batch {
				wire = append(append(wire, r.Value...), '\n')
			}
			var c net.Conn
			var err error
			if tc == nil {
				c, err = net.Dial("tcp", addr)
			} else {
				var cfg *tls.Config
				if cfg, err = tc.ClientConfig(addr); err != nil {
					b.Fatal(err)
				}
				c, err = tls.Dial("tcp", addr, cfg)
			}
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			b.SetBytes(int64(len(wire)))
			for b.Loop() {
				if _, err := c.Write(wire); err != nil {
					b.Fatal(err)
				}
			}
			reportEvents(b, benchBatch)
		})
	}
}

func framedSize(batch []eventlog.Record) int {
	n := 0
	for _, r := range batch {
		n += len(r.Value) + 1
	}
	return n
}

func reportEvents(b *testing.B, perOp int) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N*perOp)/s, "events/s")
	}
}

// discardServer starts a receiver that discards what it reads; with TLS
// it returns the client settings that trust it.
func discardServer(b *testing.B, withTLS bool) (string, *config.ClientTLS) {
	b.Helper()
	if !withTLS {
		return sinktest.NewDiscardReceiver(b, nil), nil
	}
	ca := sinktest.NewCA(b, "Vigil Bench CA")
	addr := sinktest.NewDiscardReceiver(b, &sinktest.TLSReceiverConfig{Certificate: ca.ServerCertificate(b)})
	return addr, &config.ClientTLS{CAPEM: string(ca.PEM())}
}
