package splunkhec

import (
	"fmt"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// BenchmarkWrite sends batches of 1,000 canonical events of about 550
// bytes to a loopback collector that counts them without parsing. MB/s
// counts the events' wire bytes. With acks, the collector acknowledges at
// the first poll, which the sink makes 1ms after the last request.
func BenchmarkWrite(b *testing.B) {
	const batchSize = 1000
	batch := sinktest.Events(batchSize)
	size := 0
	for _, r := range batch {
		size += len(r.Value)
	}
	tests := []struct {
		name string
		ack  bool
		gzip bool
	}{
		{name: "NoAck"},
		{name: "Ack", ack: true},
		{name: "NoAckGzip", gzip: true},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			f := newFake(b, fakeOptions{ack: tt.ack, discard: true})
			s := newTestSink(b, f, func(c *Config) {
				c.Gzip = tt.gzip
				c.AckPollInterval = time.Millisecond
			})
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
			if got := f.discarded.Load(); got < int64(b.N*batchSize) {
				b.Fatalf("collector counted %d events, want %d", got, b.N*batchSize)
			}
		})
	}
}

// BenchmarkWriteSettling writes batches of 1,000 events the way the log's
// consume loop does over a Settler, to a collector that acknowledges a
// request only at the third poll: with one batch in flight, throughput is
// the batch divided by the ack latency; with several it is not.
func BenchmarkWriteSettling(b *testing.B) {
	const batchSize = 1000
	batch := sinktest.Events(batchSize)
	for _, inFlight := range []int{1, 4} {
		b.Run(fmt.Sprintf("InFlight%d", inFlight), func(b *testing.B) {
			f := newFake(b, fakeOptions{ack: true, discard: true})
			f.DelayAcks(2)
			s := newTestSink(b, f, func(c *Config) {
				c.AckPollInterval, c.MaxInFlight = time.Millisecond, inFlight
			})
			settled := make(chan error, b.N+1)
			n := 0
			for b.Loop() {
				if err := s.WriteSettling(b.Context(), batch, func(err error) { settled <- err }); err != nil {
					b.Fatal(err)
				}
				n++
			}
			for range n {
				if err := <-settled; err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*batchSize)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
