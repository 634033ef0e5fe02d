package duckstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

const benchBatch = 10_000

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// BenchmarkWrite measures inserts in batches of 10k realistic events.
func BenchmarkWrite(b *testing.B) {
	events, err := sample.Generate(1, 20*benchBatch, 5000, benchStart, 30*24*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	s, err := duckstore.Open(b.TempDir() + "/events.duckdb")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { s.Close() }() // the last store opened
	ctx := context.Background()
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		lo := (i * benchBatch) % len(events)
		if i > 0 && lo == 0 {
			b.StopTimer() // every event is in: start again on a fresh store
			s.Close()
			if s, err = duckstore.Open(""); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
		if err := s.Write(ctx, events[lo:lo+benchBatch]); err != nil {
			b.Fatal(err)
		}
		n += benchBatch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkSearch measures filtered searches over a million events.
func BenchmarkSearch(b *testing.B) {
	const total = 1_000_000
	s, err := duckstore.Open(b.TempDir() + "/events.duckdb")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	loadStart := time.Now()
	for i := 0; i < total/benchBatch; i++ {
		events, err := sample.Generate(uint64(100+i), benchBatch, 5000, benchStart.Add(time.Duration(i)*time.Hour), time.Hour)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Write(ctx, events); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("loaded %d events in %v (generation included)", total, time.Since(loadStart))
	mid := benchStart.Add(50 * time.Hour)
	for _, bc := range []struct {
		name string
		p    query.Page
	}{
		{"newest", query.Page{Limit: 100}},
		{"user", query.Page{Filter: query.Filter{User: "user42@corp.example.com"}, Limit: 100}},
		{"user_day", query.Page{Filter: query.Filter{User: "user42@corp.example.com", Since: mid, Until: mid.Add(24 * time.Hour)}, Limit: 100}},
		{"path_prefix", query.Page{Filter: query.Filter{Path: "Projects/p7/"}, Limit: 100}},
		{"event_hour", query.Page{Filter: query.Filter{Events: []string{"link.download"}, Since: mid, Until: mid.Add(time.Hour)}, Limit: 100}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Search(ctx, bc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("stats_hour_by_user", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Stats(ctx, query.StatsRequest{Filter: query.Filter{Topics: []schema.Topic{"FILE"}}, Bucket: time.Hour, By: "user"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
