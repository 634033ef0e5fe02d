package sinks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// prefixSink takes the records of a write up to the first one whose id
// is refused, and none after it, as Splunk HEC does with a format error.
type prefixSink struct {
	mu      sync.Mutex
	got     []string
	writes  int
	refused map[string]bool
}

func (s *prefixSink) Write(_ context.Context, batch []eventlog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	for i, r := range batch {
		if s.refused[r.ID] {
			return RefusedAt(i, fmt.Errorf("invalid event %s", r.ID))
		}
		s.got = append(s.got, r.ID)
	}
	return nil
}

func (s *prefixSink) Close() error { return nil }

// TestForwarder_RefusedAtParksOnlyThatRecord: a write the sink took up to
// a refused record goes on after it: nothing is written twice, only the
// refused record is parked, and it takes one write per refusal.
func TestForwarder_RefusedAtParksOnlyThatRecord(t *testing.T) {
	s := &prefixSink{refused: map[string]bool{"ev003": true, "ev004": true, "ev010": true}}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	ctx := context.Background()
	batch := events(16)
	if err := fw.Handle(ctx, batch); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	var want []string
	for _, id := range idsOf(batch) {
		if !s.refused[id] {
			want = append(want, id)
		}
	}
	if d := cmp.Diff(want, s.got); d != "" {
		t.Errorf("delivered (-want +got):\n%s", d)
	}
	if s.writes != 4 {
		t.Errorf("writes = %d, want 4 (one per refusal, and the rest)", s.writes)
	}
	parked, err := dl.List(ctx, "siem", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parked {
		got = append(got, p.EventID)
	}
	if d := cmp.Diff([]string{"ev003", "ev004", "ev010"}, got); d != "" {
		t.Errorf("parked (-want +got):\n%s", d)
	}
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	if st := mustStatus(t, mgr); st.State != "ok" || st.Sent != 13 || st.DeadLettered != 3 {
		t.Errorf("status = %+v, want ok, 13 sent, 3 dead-lettered", st)
	}

	// A dead-letter replay the sink takes up to a refused event removes
	// what it took and keeps the rest parked.
	s.mu.Lock()
	s.got, s.refused = nil, map[string]bool{"ev004": true}
	s.mu.Unlock()
	res, err := mgr.ReplayDeadLetter(ctx, "siem")
	if err != nil || res != (DeadLetterReplay{Replayed: 2, Remaining: 1}) {
		t.Fatalf("replay = %+v, %v; want 2 replayed, 1 remaining", res, err)
	}
	if d := cmp.Diff([]string{"ev003", "ev010"}, s.got); d != "" {
		t.Errorf("replayed (-want +got):\n%s", d)
	}
}

// TestForwarder_RefusingWaits: a refusal marked Refusing parks nothing:
// the batch is returned for a retry and the status says refusing, with
// the error, until a write succeeds.
func TestForwarder_RefusingWaits(t *testing.T) {
	s := &memSink{refuse: func([]eventlog.Record) error { return Refusing(errors.New("token disabled")) }}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	ctx := context.Background()
	err := fw.Handle(ctx, events(10))
	if err == nil || IsPermanent(err) || !IsRefusing(err) {
		t.Fatalf("Handle = %v, want a refusing, retryable error", err)
	}
	st := mustStatus(t, mgr)
	if st.State != "refusing" || st.DeadLetter != 0 || st.DeadLettered != 0 || st.Retried != 10 || st.LastError != "token disabled" {
		t.Errorf("status = %+v, want refusing with nothing parked", st)
	}
	if err := mgr.Healthy(ctx, "siem"); err == nil || !strings.Contains(err.Error(), "refusing: token disabled") {
		t.Errorf("Healthy = %v, want refusing: token disabled", err)
	}
	s.setRefuse(nil)
	if err := fw.Handle(ctx, events(10)); err != nil {
		t.Fatal(err)
	}
	if st := mustStatus(t, mgr); st.State != "ok" || st.Sent != 10 {
		t.Errorf("status after the token is back = %+v", st)
	}
}
