package auth

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

func TestObserveSeq(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		// gap is a Gap of the test's device, filled in below.
		type gap struct{ Expected, Got int64 }
		tests := []struct {
			name     string
			batches  [][]int64
			want     [][]gap // per batch
			wantLast int64
		}{
			{name: "InOrder", batches: [][]int64{{1, 2, 3}, {4, 5}}, want: [][]gap{nil, nil}, wantLast: 5},
			{name: "FirstBatchLate", batches: [][]int64{{5, 6}}, want: [][]gap{{{1, 5}}}, wantLast: 6},
			{name: "GapInBatch", batches: [][]int64{{1, 2, 5, 6}}, want: [][]gap{{{3, 5}}}, wantLast: 6},
			{name: "GapBetweenBatches", batches: [][]int64{{1, 2}, {4}}, want: [][]gap{nil, {{3, 4}}}, wantLast: 4},
			{name: "SeveralGaps", batches: [][]int64{{1, 3, 6}}, want: [][]gap{{{2, 3}, {4, 6}}}, wantLast: 6},
			{name: "Resend", batches: [][]int64{{1, 2, 3}, {1, 2, 3}, {2, 3, 4}}, want: [][]gap{nil, nil, nil}, wantLast: 4},
			{name: "ResendAfterGap", batches: [][]int64{{1, 5}, {2, 3, 4}}, want: [][]gap{{{2, 5}}, nil}, wantLast: 5},
			{name: "Unordered", batches: [][]int64{{3, 1, 2}}, want: [][]gap{nil}, wantLast: 3},
			{name: "Duplicates", batches: [][]int64{{1, 1, 2, 2}}, want: [][]gap{nil}, wantLast: 2},
			{name: "ZeroAndNegative", batches: [][]int64{{-1, 0}, {1}}, want: [][]gap{nil, nil}, wantLast: 1},
			{name: "Empty", batches: [][]int64{{}, nil, {1}}, want: [][]gap{nil, nil, nil}, wantLast: 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, _ := openStore(t, backend)
				d, _ := addDevice(t, s, "alice@example.com", "laptop")
				drainAlerts(t, s) // the device's audit.device.add
				var gaps int64
				for i, batch := range tt.batches {
					got, err := s.ObserveSeq(context.Background(), d.ID, batch)
					if err != nil {
						t.Fatal(err)
					}
					var want []Gap
					for _, g := range tt.want[i] {
						want = append(want, Gap{DeviceID: d.ID, UserID: "alice@example.com", Expected: g.Expected, Got: g.Got})
					}
					gaps += int64(len(want))
					if diff := cmp.Diff(want, got); diff != "" {
						t.Errorf("batch %d %v: gaps (-want +got):\n%s", i, batch, diff)
					}
					// Each gap's alert waits in the outbox, whatever
					// becomes of the batch.
					if diff := cmp.Diff(want, drainAlerts(t, s)); diff != "" {
						t.Errorf("batch %d %v: alerts in the outbox (-want +got):\n%s", i, batch, diff)
					}
				}
				ds, err := s.ListDevices(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				if ds[0].LastSeq != tt.wantLast || ds[0].SeqGaps != gaps {
					t.Errorf("LastSeq, SeqGaps = %d, %d; want %d, %d", ds[0].LastSeq, ds[0].SeqGaps, tt.wantLast, gaps)
				}
			})
		}
	})
}

func TestObserveSeq_UnknownDevice(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		for _, id := range []string{strings.Repeat("0", 32), "laptop"} {
			if _, err := s.ObserveSeq(context.Background(), id, []int64{1}); !errors.Is(err, ErrNotFound) {
				t.Errorf("ObserveSeq(%q) = %v, want ErrNotFound", id, err)
			}
		}
	})
}

// TestObserveSeq_Concurrent sends the same batch from many goroutines and
// two stores at once: exactly one call sees the new numbers and reports
// the gap, as a transaction makes it.
func TestObserveSeq_Concurrent(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		a, _ := openOn(t, db)
		b, _ := openOn(t, db)
		d, _ := addDevice(t, a, "alice@example.com", "laptop")

		const calls = 20
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			gaps []Gap
			errs []error
		)
		for i := range calls {
			s := []*Store{a, b}[i%2]
			wg.Go(func() {
				got, err := s.ObserveSeq(context.Background(), d.ID, []int64{5, 6, 7})
				mu.Lock()
				defer mu.Unlock()
				gaps = append(gaps, got...)
				if err != nil {
					errs = append(errs, err)
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			t.Error(err)
		}
		want := []Gap{{DeviceID: d.ID, UserID: "alice@example.com", Expected: 1, Got: 5}}
		if diff := cmp.Diff(want, gaps); diff != "" {
			t.Errorf("gaps over all calls (-want +got):\n%s", diff)
		}
		if n := queryInt(t, a.db, `SELECT seq_gaps FROM devices WHERE id = ?`, d.ID); n != 1 {
			t.Errorf("SeqGaps = %d, want 1", n)
		}
		if n := queryInt(t, b.db, `SELECT last_seq FROM devices WHERE id = ?`, d.ID); n != 7 {
			t.Errorf("LastSeq = %d, want 7", n)
		}
	})
}

// drainAlerts drains s's outbox and returns the gaps of the
// alert.device.seq_gap events it held.
func drainAlerts(t *testing.T, s *Store) []Gap {
	t.Helper()
	var gaps []Gap
	_, err := s.DrainOutbox(context.Background(), func(e *schema.Event) error {
		if e.Name() != "alert.device.seq_gap" {
			return nil
		}
		gaps = append(gaps, Gap{
			DeviceID: fastjson.GetString(e.Wire(), "device"), UserID: fastjson.GetString(e.Wire(), "user"),
			Expected: int64(fastjson.GetInt(e.Wire(), "expected")), Got: int64(fastjson.GetInt(e.Wire(), "got")),
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return gaps
}
