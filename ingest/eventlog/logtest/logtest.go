// Package logtest is the conformance suite every eventlog.Log
// implementation runs: order per key, commit only after the handler,
// redelivery of what was not committed, resume after a restart,
// independent groups, lag, replay by time, and closing.
package logtest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Harness opens the log under test.
type Harness struct {
	// Open opens the log. Called again after the previous log was
	// closed, it must open the same log: the same records and the same
	// committed positions.
	Open func(t *testing.T) eventlog.Log
}

// Run runs the suite. newHarness is called once per test, and each call
// must give an empty log of its own.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h Harness)
	}{
		{"OrderPerKey", testOrderPerKey},
		{"RecordsCarryPositionAndTime", testPositionAndTime},
		{"CommitMovesTheGroup", testCommitMovesTheGroup},
		{"UncommittedIsRedelivered", testUncommittedIsRedelivered},
		{"GroupsAreIndependent", testGroupsAreIndependent},
		{"Lag", testLag},
		{"ResumeAfterRestart", testResumeAfterRestart},
		{"FetchWaitsForAppend", testFetchWaits},
		{"FetchHonoursMax", testFetchHonoursMax},
		{"ConcurrentAppends", testConcurrentAppends},
		{"Replay", testReplay},
		{"Closed", testClosed},
		{"FetchEndsWhenClosed", testFetchEndsWhenClosed},
		{"ConsumerRetriesThenCommits", testConsumerRetries},
		{"ConsumerResumes", testConsumerResumes},
		{"ConsumerSettlesInOrder", testConsumerSettlesInOrder},
		{"ConsumerRewindsOnLoss", testConsumerRewindsOnLoss},
		{"ConsumerShutdownCommitsSettled", testConsumerShutdownCommitsSettled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newHarness(t)) })
	}
}

// timeout bounds every wait in the suite; Kafka groups take seconds to
// rebalance under -race.
const timeout = 60 * time.Second

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	return ctx
}

func open(t *testing.T, h Harness) eventlog.Log {
	t.Helper()
	l := h.Open(t)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// records makes n records with ids PREFIX-0..n-1, spread over keys.
func records(prefix string, n int, keys ...string) []eventlog.Record {
	if len(keys) == 0 {
		keys = []string{"alice@example.com"}
	}
	out := make([]eventlog.Record, n)
	for i := range out {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		out[i] = eventlog.Record{
			Key:   []byte(keys[i%len(keys)]),
			ID:    id,
			Value: []byte(`{"topic":"USER","event":"user.signin","event_id":"` + id + `"}`),
		}
	}
	return out
}

func mustAppend(t *testing.T, l eventlog.Appender, recs []eventlog.Record) {
	t.Helper()
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatalf("Append(%d records): %v", len(recs), err)
	}
}

func subscribe(t *testing.T, l eventlog.Log, group string) eventlog.Subscription {
	t.Helper()
	s, err := l.Subscribe(ctxT(t), group)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", group, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// fetchN fetches until it has n records.
func fetchN(t *testing.T, s eventlog.Subscription, n int) []eventlog.Record {
	t.Helper()
	ctx := ctxT(t)
	var out []eventlog.Record
	for len(out) < n {
		batch, err := s.Fetch(ctx, n-len(out), 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch after %d of %d records: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	if len(out) != n {
		t.Fatalf("fetched %d records, want %d", len(out), n)
	}
	return out
}

// expectNothing checks that nothing more arrives for a moment.
func expectNothing(t *testing.T, s eventlog.Subscription) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	batch, err := s.Fetch(ctx, 10, 10*time.Millisecond)
	if len(batch) > 0 {
		t.Fatalf("unexpected records %v", ids(batch))
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fetch: %v", err)
	}
}

func ids(recs []eventlog.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// checkSameRecords checks that got holds exactly want, in want's order
// for records of the same key.
func checkSameRecords(t *testing.T, got, want []eventlog.Record) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d", len(got), len(want))
	}
	byKey := func(recs []eventlog.Record) map[string][]string {
		m := map[string][]string{}
		for _, r := range recs {
			m[string(r.Key)] = append(m[string(r.Key)], r.ID)
		}
		return m
	}
	g, w := byKey(got), byKey(want)
	for k, wantIDs := range w {
		if !slices.Equal(g[k], wantIDs) {
			t.Fatalf("key %s: got ids %v, want %v", k, g[k], wantIDs)
		}
	}
	wantByID := map[string]eventlog.Record{}
	for _, r := range want {
		wantByID[r.ID] = r
	}
	for _, r := range got {
		if !r.Equal(wantByID[r.ID]) {
			t.Fatalf("record %s changed: got %q %q", r.ID, r.Key, r.Value)
		}
	}
}

func testOrderPerKey(t *testing.T, h Harness) {
	l := open(t, h)
	var want []eventlog.Record
	for b := range 5 {
		recs := records(fmt.Sprintf("b%d", b), 20, "alice@example.com", "bob@example.com", "carol@example.com")
		mustAppend(t, l, recs)
		want = append(want, recs...)
	}
	got := fetchN(t, subscribe(t, l, "g"), len(want))
	checkSameRecords(t, got, want)
}

func testPositionAndTime(t *testing.T, h Harness) {
	l := open(t, h)
	before := time.Now().Add(-time.Second)
	mustAppend(t, l, records("r", 10, "a", "b"))
	got := fetchN(t, subscribe(t, l, "g"), 10)
	last := map[int]int64{}
	for _, r := range got {
		if r.Time.Before(before) || r.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("record %s time %v is not the time it was stored", r.ID, r.Time)
		}
		if prev, ok := last[r.Partition]; ok && r.Offset <= prev {
			t.Errorf("record %s offset %d does not follow %d in partition %d", r.ID, r.Offset, prev, r.Partition)
		}
		last[r.Partition] = r.Offset
	}
}

func testCommitMovesTheGroup(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 10)
	mustAppend(t, l, recs)
	s := subscribe(t, l, "g")
	got := fetchN(t, s, 10)
	if err := s.Commit(ctxT(t), got[:4]); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	again := fetchN(t, subscribe(t, l, "g"), 6)
	checkSameRecords(t, again, recs[4:])
}

func testUncommittedIsRedelivered(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 5)
	mustAppend(t, l, recs)
	s := subscribe(t, l, "g")
	fetchN(t, s, 5)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checkSameRecords(t, fetchN(t, subscribe(t, l, "g"), 5), recs)
}

func testGroupsAreIndependent(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 8, "a", "b")
	mustAppend(t, l, recs)
	a := subscribe(t, l, "store")
	if err := a.Commit(ctxT(t), fetchN(t, a, 8)); err != nil {
		t.Fatal(err)
	}
	checkSameRecords(t, fetchN(t, subscribe(t, l, "sink.siem"), 8), recs)
}

func testLag(t *testing.T, h Harness) {
	l := open(t, h)
	mustAppend(t, l, records("r", 12, "a", "b", "c"))
	lag := func() int64 {
		t.Helper()
		n, err := l.Lag(ctxT(t), "g")
		if err != nil {
			t.Fatalf("Lag: %v", err)
		}
		return n
	}
	if n := lag(); n != 12 {
		t.Errorf("lag of a new group = %d, want 12", n)
	}
	s := subscribe(t, l, "g")
	got := fetchN(t, s, 12)
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	if n := lag(); n != 0 {
		t.Errorf("lag after committing everything = %d, want 0", n)
	}
	mustAppend(t, l, records("more", 3))
	if n := lag(); n != 3 {
		t.Errorf("lag after 3 more = %d, want 3", n)
	}
}

func testResumeAfterRestart(t *testing.T, h Harness) {
	l := h.Open(t)
	recs := records("r", 20, "a", "b")
	mustAppend(t, l, recs)
	s, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	got := fetchN(t, s, 20)
	// Commit what was handled: the first 5 records of each key.
	var done []eventlog.Record
	seen := map[string]int{}
	for _, r := range got {
		if seen[string(r.Key)] < 5 {
			done = append(done, r)
		}
		seen[string(r.Key)]++
	}
	if err := s.Commit(ctxT(t), done); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	l2 := open(t, h)
	var rest []eventlog.Record
	seen = map[string]int{}
	for _, r := range recs {
		if seen[string(r.Key)] >= 5 {
			rest = append(rest, r)
		}
		seen[string(r.Key)]++
	}
	s2 := subscribe(t, l2, "g")
	checkSameRecords(t, fetchN(t, s2, len(rest)), rest)
	// And appends continue after the old records.
	more := records("after", 3, "a")
	mustAppend(t, l2, more)
	checkSameRecords(t, fetchN(t, s2, 3), more)
}

func testFetchWaits(t *testing.T, h Harness) {
	l := open(t, h)
	s := subscribe(t, l, "g")
	got := make(chan []eventlog.Record, 1)
	go func() {
		batch, err := s.Fetch(ctxT(t), 10, 10*time.Millisecond)
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
		got <- batch
	}()
	time.Sleep(200 * time.Millisecond)
	recs := records("late", 1)
	mustAppend(t, l, recs)
	select {
	case batch := <-got:
		checkSameRecords(t, batch, recs)
	case <-time.After(timeout):
		t.Fatal("Fetch did not return after an append")
	}

	// A Fetch with nothing to read ends with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if batch, err := s.Fetch(ctx, 10, 0); err == nil || len(batch) > 0 {
		t.Errorf("Fetch on an empty log returned %v, %v; want the context's error", ids(batch), err)
	}
}

func testFetchHonoursMax(t *testing.T, h Harness) {
	l := open(t, h)
	mustAppend(t, l, records("r", 50))
	s := subscribe(t, l, "g")
	total := 0
	for total < 50 {
		batch, err := s.Fetch(ctxT(t), 7, 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(batch) == 0 || len(batch) > 7 {
			t.Fatalf("Fetch(max 7) returned %d records", len(batch))
		}
		total += len(batch)
	}
}

func testConcurrentAppends(t *testing.T, h Harness) {
	l := open(t, h)
	const writers, appends = 8, 25
	var wg sync.WaitGroup
	var want []eventlog.Record
	var mu sync.Mutex
	for w := range writers {
		wg.Go(func() {
			key := fmt.Sprintf("user%d@example.com", w)
			for a := range appends {
				recs := records(fmt.Sprintf("w%d-a%02d", w, a), 1+a%3, key)
				if err := l.Append(context.Background(), recs); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				want = append(want, recs...)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// Per key, want is in append order: each writer appends in order.
	checkSameRecords(t, fetchN(t, subscribe(t, l, "g"), len(want)), want)
}

func testReplay(t *testing.T, h Harness) {
	l := open(t, h)
	old := records("old", 5, "a", "b")
	mustAppend(t, l, old)
	time.Sleep(1100 * time.Millisecond)
	since := time.Now()
	recent := records("new", 7, "a", "b")
	mustAppend(t, l, recent)

	var got []eventlog.Record
	if err := l.Replay(ctxT(t), since, func(r eventlog.Record) error {
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	// Replay may start a little early, but must hold all recent records,
	// in order per key.
	var gotRecent []eventlog.Record
	for _, r := range got {
		if len(r.ID) > 3 && r.ID[:3] == "new" {
			gotRecent = append(gotRecent, r)
		}
	}
	checkSameRecords(t, gotRecent, recent)

	var all []eventlog.Record
	if err := l.Replay(ctxT(t), time.Time{}, func(r eventlog.Record) error {
		all = append(all, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	checkSameRecords(t, all, append(slices.Clone(old), recent...))

	stop := errors.New("stop")
	n := 0
	err := l.Replay(ctxT(t), time.Time{}, func(eventlog.Record) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("Replay after fn's error: %v after %d calls; want fn's error after 1", err, n)
	}
	// Replay commits nothing.
	if lag, err := l.Lag(ctxT(t), "g"); err != nil || lag != 12 {
		t.Errorf("Lag after Replay = %d, %v; want 12", lag, err)
	}
}

func testClosed(t *testing.T, h Harness) {
	l := h.Open(t)
	mustAppend(t, l, records("r", 1))
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := l.Append(ctxT(t), records("late", 1)); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
}

func testConsumerRetries(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 30, "a", "b", "c")
	mustAppend(t, l, recs)

	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	var (
		mu       sync.Mutex
		handled  []eventlog.Record
		calls    atomic.Int32
		failures = 2
	)
	h2 := func(_ context.Context, batch []eventlog.Record) error {
		calls.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			// Nothing is committed while the handler fails.
			if lag, err := l.Lag(context.Background(), "g"); err != nil || lag != 30 {
				t.Errorf("lag while failing = %d, %v; want 30", lag, err)
			}
			return errors.New("downstream down")
		}
		handled = append(handled, batch...)
		if len(handled) >= len(recs) {
			cancel()
		}
		return nil
	}
	c := eventlog.NewConsumer(l, eventlog.ConsumerConfig{Group: "g", BatchSize: 10, Linger: 10 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, h2, nil, nil)
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if calls.Load() < 3 {
		t.Errorf("handler called %d times; want the failed batch retried", calls.Load())
	}
	checkSameRecords(t, handled, recs)
	waitLag(t, l, "g", 0)
}

// waitLag waits until the group's lag is want: the last commit may land
// just after the handler returned.
func waitLag(t *testing.T, l eventlog.Log, group string, want int64) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		lag, err := l.Lag(ctxT(t), group)
		if err == nil && lag == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("lag of %s = %d, %v; want %d", group, lag, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func testConsumerResumes(t *testing.T, h Harness) {
	l := open(t, h)
	first := records("first", 10, "a")
	mustAppend(t, l, first)
	run := func(want int) []eventlog.Record {
		ctx, cancel := context.WithCancel(ctxT(t))
		defer cancel()
		var got []eventlog.Record
		c := eventlog.NewConsumer(l, eventlog.ConsumerConfig{Group: "g", BatchSize: 4, Linger: 10 * time.Millisecond},
			func(_ context.Context, batch []eventlog.Record) error {
				got = append(got, batch...)
				if len(got) >= want {
					cancel()
				}
				return nil
			}, nil, nil)
		if err := c.Run(ctx); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return got
	}
	checkSameRecords(t, run(10), first)
	waitLag(t, l, "g", 0)
	second := records("second", 6, "a")
	mustAppend(t, l, second)
	checkSameRecords(t, run(6), second)
}

func testFetchEndsWhenClosed(t *testing.T, h Harness) {
	l := h.Open(t)
	s, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Fetch(ctxT(t), 10, 0)
		done <- err
	}()
	time.Sleep(200 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("Fetch ended with %v, want ErrClosed", err)
		}
	case <-time.After(timeout):
		t.Fatal("a waiting Fetch did not end when the log closed")
	}
	// Everything after Close is ErrClosed, and a second Close is fine.
	if _, err := s.Fetch(ctxT(t), 10, 0); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Fetch after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Subscribe(ctxT(t), "g2"); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Lag(ctxT(t), "g"); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Lag after Close = %v, want ErrClosed", err)
	}
	if err := l.Replay(ctxT(t), time.Time{}, func(eventlog.Record) error { return nil }); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Replay after Close = %v, want ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	_ = s.Close()
}
