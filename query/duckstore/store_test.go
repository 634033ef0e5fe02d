package duckstore_test

import (
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) query.Store {
		s, err := duckstore.Open("")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestStore_File(t *testing.T) {
	storetest.Run(t, func(t *testing.T) query.Store {
		s, err := duckstore.Open(filepath.Join(t.TempDir(), "events.duckdb"), duckstore.WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestStore_Ping(t *testing.T) {
	s, err := duckstore.Open("")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping on an open store = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping on a closed store = nil")
	}
}

// TestWrite_ManyBatches: events spread over time and written in batches
// that overlap earlier ones (a redelivery from an older offset, with
// stragglers) are each stored once, and a bad event fails its batch.
func TestWrite_ManyBatches(t *testing.T) {
	s, err := duckstore.Open(filepath.Join(t.TempDir(), "events.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs, err := sample.Generate(9, 5000, 50, start, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][2]int{{0, 2500}, {2000, 4000}, {0, 100}, {3900, 5000}, {4999, 5000}} {
		if err := s.Write(t.Context(), evs[b[0]:b[1]]); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	if err := s.Stream(t.Context(), query.Filter{}, query.Asc, func([]byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n != len(evs) {
		t.Errorf("%d events stored, want %d", n, len(evs))
	}
	bad := storetest.Build(t, map[string]any{"topic": "USER", "event": "user.signin", "user": "a@example.com", "authority": "LDAP",
		"timestamp": "2025-01-02T00:00:00Z"}, schema.Meta{ReceivedAt: time.UnixMilli(0)})
	if err := s.Write(t.Context(), append(slices.Clone(evs[:1500]), bad)); err == nil {
		t.Error("a batch with an event at received_at 0 was stored")
	}
}
