package detect

import (
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// BenchmarkEngine_Builtins measures records through the engine with every
// built-in rule on: downloads of 1000 users, a new file each time.
func BenchmarkEngine_Builtins(b *testing.B) {
	eng, err := NewEngine(Builtins(), defaultLate)
	if err != nil {
		b.Fatal(err)
	}
	t := &testing.T{}
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	recs := make([]eventlog.Record, 4096)
	for i := range recs {
		recs[i] = eventlog.RecordOf(transferEvent(t, i, start.Add(time.Duration(i)*time.Second)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		r := recs[i%len(recs)]
		r.Offset = int64(i)
		eng.Record(r)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
