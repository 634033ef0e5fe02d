package filelog_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
)

// benchConfig keeps benchmarks within a few GiB of disk: with no required
// group, retention deletes the oldest segments as the budget fills.
var benchConfig = filelog.Config{MaxBytes: 2 << 30, SegmentBytes: 64 << 20}

// recordSize is about one file.transfer event's wire form.
const recordSize = 580

// BenchmarkAppend appends batches of ~580-byte records, one appender at a
// time and from many concurrent appenders (64 on two cores), reporting
// events/s and fsyncs/s.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []string{"serial", "parallel"} {
		for _, batch := range []int{1, 100, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", mode, batch), func(b *testing.B) {
				l, err := filelog.Open(b.TempDir(), benchConfig)
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				recs := makeRecords("bench", batch, recordSize)
				b.SetBytes(int64(batch * recordSize))
				fsyncs := metric(b, l, "vigil_filelog_fsyncs_total")
				start := time.Now()
				b.ResetTimer()
				if mode == "serial" {
					for range b.N {
						if err := l.Append(context.Background(), recs); err != nil {
							b.Fatal(err)
						}
					}
				} else {
					b.SetParallelism(32)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := l.Append(context.Background(), recs); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				b.StopTimer()
				secs := time.Since(start).Seconds()
				b.ReportMetric(float64(b.N*batch)/secs, "events/s")
				b.ReportMetric((metric(b, l, "vigil_filelog_fsyncs_total")-fsyncs)/secs, "fsyncs/s")
			})
		}
	}
}

// BenchmarkConsume measures one group fetching batches of 1000 and
// committing each, over records already in the log.
func BenchmarkConsume(b *testing.B) {
	l, err := filelog.Open(b.TempDir(), benchConfig)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	const total, batch = 200_000, 1000
	recs := makeRecords("bench", batch, recordSize)
	for range total / batch {
		if err := l.Append(context.Background(), recs); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	group := 0
	sub := func() eventlog.Subscription {
		group++
		s, err := l.Subscribe(ctx, fmt.Sprint("bench", group))
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	s, read := sub(), 0
	b.SetBytes(recordSize)
	start := time.Now()
	b.ResetTimer()
	for n := 0; n < b.N; {
		if read == total {
			// This group is done: the next one reads it all again.
			_ = s.Close()
			s, read = sub(), 0
		}
		got, err := s.Fetch(ctx, min(batch, b.N-n), 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Commit(ctx, got); err != nil {
			b.Fatal(err)
		}
		n += len(got)
		read += len(got)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	_ = s.Close()
}
