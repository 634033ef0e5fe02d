package syslogsink_test

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

// benchSettle is the settle time of the benchmarks' sinks: short, so
// that waiting for the last batches to settle adds little to a run.
const benchSettle = 10 * time.Millisecond

// BenchmarkForward measures the syslog sink (RFC 5424 framing, which
// reads each event's envelope) forwarding canonical events of about 530
// bytes to a loopback receiver that discards them. Compare with the tcp
// package's benchmarks, which send the same events as lines.
func BenchmarkForward(b *testing.B) {
	const batchSize = 2000
	for _, kind := range []string{"tcp", "tls"} {
		b.Run(kind, func(b *testing.B) {
			var tc *config.ClientTLS
			var addr string
			if kind == "tls" {
				ca := sinktest.NewCA(b, "Vigil Bench CA")
				addr = sinktest.NewDiscardReceiver(b, &sinktest.TLSReceiverConfig{Certificate: ca.ServerCertificate(b)})
				tc = &config.ClientTLS{CAPEM: string(ca.PEM())}
			} else {
				addr = sinktest.NewDiscardReceiver(b, nil)
			}
			s, err := syslogsink.New(syslogsink.Config{Address: addr, TLS: tc, Hostname: "vigil-1.example.com", Settle: benchSettle})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			batch := sinktest.Events(batchSize)
			// Bytes are counted as on the wire, headers included.
			const header = len("<14>1 2026-03-30T21:18:19.123Z vigil-1.example.com vigil - file.transfer - ")
			n := 0
			for _, r := range batch {
				msg := header + len(r.Value)
				n += len(strconv.Itoa(msg)) + 1 + msg
			}
			b.SetBytes(int64(n))
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
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
