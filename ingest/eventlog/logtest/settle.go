package logtest

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// handed is one batch a settling handler took, with its settlement to
// report.
type handed struct {
	batch  []eventlog.Record
	settle chan error
}

// settling is a SettlingHandler that passes every batch to the test and
// lets it decide when, and how, the batch settles.
type settling chan handed

func (s settling) handle(ctx context.Context, batch []eventlog.Record) (eventlog.Settlement, error) {
	h := handed{batch: slices.Clone(batch), settle: make(chan error, 1)}
	select {
	case s <- h:
		return h.settle, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take returns the batches handed over until they hold n records.
func (s settling) take(t *testing.T, n int) []handed {
	t.Helper()
	var out []handed
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for got := 0; got < n; {
		select {
		case h := <-s:
			out = append(out, h)
			got += len(h.batch)
		case <-timer.C:
			t.Fatalf("the handler got %d of %d records", got, n)
		}
	}
	return out
}

// runSettling runs a settling consumer of group g until the test ends or
// stop is called; stop returns Run's error.
func runSettling(t *testing.T, l eventlog.Log, h settling) (stop func() error) {
	ctx, cancel := context.WithCancel(ctxT(t))
	c := eventlog.NewSettlingConsumer(l, eventlog.ConsumerConfig{Group: "g", BatchSize: 10, Linger: 20 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}, h.handle, nil, nil)
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx) }()
	var err error
	stopped := false
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			err = <-errc
		}
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func count(hs []handed) int {
	n := 0
	for _, h := range hs {
		n += len(h.batch)
	}
	return n
}

// testConsumerSettlesInOrder: batches are handled without waiting for
// earlier ones to settle, and committed only once they and every batch
// before them settled.
func testConsumerSettlesInOrder(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 30, "a", "b", "c")
	mustAppend(t, l, recs)
	s := make(settling)
	runSettling(t, l, s)
	hs := s.take(t, len(recs))
	var got []eventlog.Record
	for _, h := range hs {
		got = append(got, h.batch...)
	}
	checkSameRecords(t, got, recs)
	if len(hs) < 2 {
		t.Fatalf("one batch of %d records; the test needs several", len(recs))
	}
	for i := len(hs) - 1; i > 0; i-- {
		hs[i].settle <- nil
	}
	time.Sleep(100 * time.Millisecond)
	if lag, err := l.Lag(ctxT(t), "g"); err != nil || lag != int64(len(recs)) {
		t.Errorf("lag with the first batch unsettled = %d, %v; want %d", lag, err, len(recs))
	}
	hs[0].settle <- nil
	waitLag(t, l, "g", 0)
}

// testConsumerRewindsOnLoss: a batch reported lost is handed over again,
// with every batch after it; the batches settled before it stay
// committed.
func testConsumerRewindsOnLoss(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 30, "a", "b", "c")
	mustAppend(t, l, recs)
	s := make(settling)
	runSettling(t, l, s)
	hs := s.take(t, len(recs))
	if len(hs) < 2 {
		t.Fatalf("one batch of %d records; the test needs several", len(recs))
	}
	first := hs[0].batch
	hs[0].settle <- nil
	hs[1].settle <- errors.New("connection reset within the settle time")
	waitLag(t, l, "g", int64(len(recs)-len(first)))

	want := map[string]bool{}
	for _, h := range hs[1:] {
		for _, r := range h.batch {
			want[r.ID] = true
		}
	}
	seen := map[string]bool{}
	for len(seen) < len(want) {
		again := s.take(t, 1)[0]
		for _, r := range again.batch {
			if !want[r.ID] {
				t.Errorf("record %s was settled and committed, yet handed over again", r.ID)
			}
			seen[r.ID] = true
		}
		again.settle <- nil
	}
	waitLag(t, l, "g", 0)
}

// testConsumerShutdownCommitsSettled: at shutdown the consumer commits
// the batches that settle, in order, and none after the first that does
// not.
func testConsumerShutdownCommitsSettled(t *testing.T, h Harness) {
	l := open(t, h)
	recs := records("r", 30, "a", "b", "c")
	mustAppend(t, l, recs)
	s := make(settling)
	stop := runSettling(t, l, s)
	hs := s.take(t, len(recs))
	if len(hs) < 3 {
		t.Skipf("%d batches of %d records; the test needs three", len(hs), len(recs))
	}
	hs[0].settle <- nil
	done := make(chan error, 1)
	go func() { done <- stop() }()
	time.Sleep(50 * time.Millisecond)
	hs[1].settle <- nil
	hs[2].settle <- errors.New("connection closed within the settle time")
	for _, h := range hs[3:] {
		h.settle <- nil // after a lost one: never committed
	}
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	waitLag(t, l, "g", int64(len(recs)-len(hs[0].batch)-len(hs[1].batch)))
}
