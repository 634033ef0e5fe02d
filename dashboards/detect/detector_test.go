package detect

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/schema"
)

// logEmitter appends events to the log, as ingest's Emit does (without
// its dedup window, so that a second copy would show).
type logEmitter struct{ log eventlog.Log }

func (l logEmitter) Emit(ctx context.Context, events ...*schema.Event) error {
	recs := make([]eventlog.Record, len(events))
	for i, e := range events {
		recs[i] = eventlog.RecordOf(e.WithReceivedAt(time.Now()))
	}
	return l.log.Append(ctx, recs)
}

func transferEvent(t *testing.T, i int, at time.Time) *schema.Event {
	t.Helper()
	sid := "e4c357190e9d314ca135d6f1f6938d9b"
	raw := fmt.Sprintf(`{"topic":"FILE","event":"file.transfer","timestamp":%q,"verified_submitter":{"user_id":":2a3f","device_id":"40f9cddab98a432b9c60d734f5f63e7e"},"soid":{"sid":%q,"oid":"%032x"},"event_time":%q,"operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":%q,"relative_path":"f%d.pdf"},"destination_device":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","destination_user":"bob@example.com"}`,
		at.Format(time.RFC3339Nano), sid, i, at.Format(time.RFC3339Nano), sid, i)
	e, err := schema.Normalize([]byte(raw), schema.Meta{Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func appendTransfers(t *testing.T, log eventlog.Log, from, to int, start time.Time) {
	t.Helper()
	var recs []eventlog.Record
	for i := from; i < to; i++ {
		recs = append(recs, eventlog.RecordOf(transferEvent(t, i, start.Add(time.Duration(i)*10*time.Second))))
	}
	if err := log.Append(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
}

// runUntilCaughtUp runs a detector over log until its group has no lag,
// then stops it.
func runUntilCaughtUp(t *testing.T, log eventlog.Log, dir string) {
	t.Helper()
	d, err := NewDetector(log, Config{CheckpointInterval: 10_000_000, Consumer: eventlog.ConsumerConfig{Linger: 10_000_000}}, dir, logEmitter{log}, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		lag, err := log.Lag(context.Background(), Group)
		if err != nil {
			t.Fatal(err)
		}
		if lag == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("detect group still %d records behind", lag)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// alertsIn returns the alert.raised events of the log.
func alertsIn(t *testing.T, log eventlog.Log) []string {
	t.Helper()
	var ids []string
	err := log.Replay(context.Background(), time.Time{}, func(r eventlog.Record) error {
		e, err := schema.Normalize(r.Value, schema.Meta{Trusted: true})
		if err != nil {
			return err
		}
		if e.Name() == "alert.raised" {
			ids = append(ids, e.ID())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestDetector_RestartMidWindow stops the detector with 60 of 101
// downloads seen, starts a new one over the same state directory, and
// checks that the remaining 41 raise exactly one alert.
func TestDetector_RestartMidWindow(t *testing.T) {
	log, err := filelog.Open(t.TempDir(), filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	dir := t.TempDir()
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	appendTransfers(t, log, 0, 60, start)
	runUntilCaughtUp(t, log, dir)
	if got := alertsIn(t, log); len(got) != 0 {
		t.Fatalf("alerts after 60 downloads: %v", got)
	}
	appendTransfers(t, log, 60, 101, start)
	runUntilCaughtUp(t, log, dir)
	// Later downloads in the same window fold into the alert.
	appendTransfers(t, log, 101, 150, start)
	runUntilCaughtUp(t, log, dir)
	got := alertsIn(t, log)
	// The first window holding all 101 starts half an hour before them
	// (windows of an hour, a new one every quarter hour).
	want := []string{AlertID("mass-download", "bob@example.com", start.Add(-30*time.Minute).UnixMilli())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestEngine_RedeliveryAndCheckpoint processes a log's records, restores
// a checkpoint taken midway (a crash after the alert was emitted, before
// the next checkpoint), processes the rest again, and checks that the
// alerts are the same, with the same ids; a record redelivered to the
// same state raises nothing.
func TestEngine_RedeliveryAndCheckpoint(t *testing.T) {
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var recs []eventlog.Record
	for i := range 150 {
		r := eventlog.RecordOf(transferEvent(t, i, start.Add(time.Duration(i)*10*time.Second)))
		r.Offset = int64(i)
		recs = append(recs, r)
	}
	run := func(eng *Engine, recs []eventlog.Record) []string {
		var ids []string
		for _, r := range recs {
			for _, a := range eng.Record(r) {
				ids = append(ids, a.ID)
			}
		}
		return ids
	}
	whole, err := NewEngine(Builtins(), defaultLate)
	if err != nil {
		t.Fatal(err)
	}
	want := run(whole, recs)
	if len(want) != 1 {
		t.Fatalf("alerts over the whole log: %v, want one", want)
	}
	if again := run(whole, recs[90:]); len(again) != 0 {
		t.Errorf("redelivered records raised %v", again)
	}

	for _, cut := range []int{0, 50, 100, 149} {
		first, _ := NewEngine(Builtins(), defaultLate)
		got := run(first, recs[:cut])
		cp, err := first.encodeState()
		if err != nil {
			t.Fatal(err)
		}
		// The crash: what followed the checkpoint is handled again.
		_ = run(first, recs[cut:min(cut+30, len(recs))])
		restarted, _ := NewEngine(Builtins(), defaultLate)
		if err := restarted.decodeState(cp); err != nil {
			t.Fatal(err)
		}
		got = append(got, run(restarted, recs[cut:])...)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("checkpoint after %d records: alerts (-want +got):\n%s", cut, diff)
		}
	}
}

// TestEngine_ReplaySameAlerts runs the events of every golden case twice
// through fresh engines with every built-in rule on: the same alerts,
// with the same ids, in the same order.
func TestEngine_ReplaySameAlerts(t *testing.T) {
	var events []*schema.Event
	start := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	for i := range 400 {
		// Out of order within the hour.
		events = append(events, transferEvent(t, i%250, start.Add(time.Duration((i*37)%3600)*time.Second)))
	}
	a, err := Test(Config{}, events)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Test(Config{}, events)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) == 0 {
		t.Fatal("no alert raised")
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("replay (-first +second):\n%s", diff)
	}
}
