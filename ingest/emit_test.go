package ingest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/schema"
)

// clockAt makes in's clock stand still at t.
func clockAt(in *Ingester, t time.Time) { in.now = func() time.Time { return t } }

var emitTime = time.Date(2026, 11, 23, 10, 0, 5, 678e6, time.UTC)

// wantWire is the wire form ingest made of Vigil's own events when they
// were hand-written JSON: raw normalized as received at emitTime.
func wantWire(t *testing.T, raw string) string {
	t.Helper()
	e, err := schema.Normalize([]byte(raw), schema.Meta{ReceivedAt: emitTime})
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Wire())
}

func TestEmit_StampsAndSkipsDuplicates(t *testing.T) {
	log := &memLog{}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	clockAt(in, emitTime)
	e, err := schema.New("alert.log.skipped", emitTime.Add(-time.Second), schema.Fields{"group": "detect", "skipped": int64(3)})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := in.Emit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	if len(log.recs) != 1 {
		t.Fatalf("%d records, want 1: the second Emit is a duplicate", len(log.recs))
	}
	if got, want := string(log.recs[0].Value), wantWire(t, string(e.Wire())); got != want {
		t.Errorf("emitted\n%s\nwant\n%s", got, want)
	}
}

func TestEmit_FailedAppendKeepsNothing(t *testing.T) {
	log := &memLog{err: eventlog.ErrFull}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	e, err := schema.New("alert.log.skipped", emitTime, schema.Fields{"group": "detect", "skipped": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := in.Emit(context.Background(), e); !errors.Is(err, eventlog.ErrFull) {
		t.Fatalf("Emit = %v, want ErrFull", err)
	}
	log.mu.Lock()
	log.err = nil
	log.mu.Unlock()
	if err := in.Emit(context.Background(), e); err != nil || len(log.recs) != 1 {
		t.Errorf("Emit after the log recovered = %v with %d records, want the event appended", err, len(log.recs))
	}
}

// TestOwnEvents_SameBytes checks that the events ingest raises itself
// have the bytes their hand-written JSON had.
func TestOwnEvents_SameBytes(t *testing.T) {
	log := &memLog{}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	clockAt(in, emitTime)
	in.RaiseLogSkipped("sink.siem", 12)
	in.RaiseSinkOversize("siem", "01M83XJ880MA370GXNSE1185Y6", 70212, 65536, 3, "dead_letter")
	if err := in.AuditReplay(context.Background(), ":token:ops", ReplayResult{Replayed: 2, Rejected: 1}); err != nil {
		t.Fatal(err)
	}
	ms := emitTime.UnixMilli()
	want := []string{
		wantWire(t, fmt.Sprintf(`{"topic":"ALERT","event":"alert.log.skipped","timestamp":%d,"group":"sink.siem","skipped":12}`, ms)),
		wantWire(t, fmt.Sprintf(`{"topic":"ALERT","event":"alert.sink.oversize","timestamp":%d,"sink":"siem","oversize_event_id":"01M83XJ880MA370GXNSE1185Y6","size":70212,"limit":65536,"count":3,"policy":"dead_letter"}`, ms)),
		wantWire(t, fmt.Sprintf(`{"topic":"AUDIT","event":"audit.quarantine.replay","timestamp":%d,"caller":":token:ops","replayed":2,"rejected":1}`, ms)),
	}
	if len(log.recs) != len(want) {
		t.Fatalf("%d records, want %d", len(log.recs), len(want))
	}
	for i, w := range want {
		if got := string(log.recs[i].Value); got != w {
			t.Errorf("event %d\n%s\nwant\n%s", i, got, w)
		}
	}
}
