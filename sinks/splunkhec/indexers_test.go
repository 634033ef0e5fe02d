package splunkhec

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
)

// Tests of the sink against the behaviours of real indexers: several
// behind a sticky balancer, slow acknowledgements, detention, partial
// acceptance, and tokens that are refused for a while.

// testClock is a clock the test moves, shared by the sink and the fake
// collector, so that waits of 30s and more take no time.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock {
	return &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// forwarded is a sink behind a real Forwarder and Manager, with a dead
// letter in the test's directory.
type forwarded struct {
	fw  *sinks.Forwarder
	mgr *sinks.Manager
	dl  *sinks.DeadLetter
}

func newForwarded(t *testing.T, s *Sink) *forwarded {
	t.Helper()
	dl, err := sinks.OpenDeadLetter(filepath.Join(t.TempDir(), "dead.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dl.Close() })
	fw, err := sinks.NewForwarder(s, sinks.ForwarderConfig{Name: "splunk", Kind: "splunkhec", DeadLetter: dl})
	if err != nil {
		t.Fatal(err)
	}
	return &forwarded{fw: fw, mgr: sinks.NewManager([]*sinks.Forwarder{fw}, sinks.ManagerConfig{DeadLetter: dl}), dl: dl}
}

func (f *forwarded) status(t *testing.T) sinks.Status {
	t.Helper()
	st, err := f.mgr.SinkStatus(context.Background(), "splunk")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// parked returns the event ids in the dead letter.
func (f *forwarded) parked(t *testing.T) []string {
	t.Helper()
	ps, err := f.dl.List(context.Background(), "splunk", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.EventID)
	}
	return ids
}

// TestWrite_AckMissingIsAConfigurationError: with ack on, a collector
// whose token gives no ackId (HEC acknowledgement off, or a hosted
// Splunk without it) has the sink refusing with a clear error in its
// status and readiness, nothing parked, and no events sent again while
// it lasts: the sink asks with an acknowledgement poll, which indexes
// nothing, every refused_retry_interval. Once the token acknowledges,
// the events go.
func TestWrite_AckMissingIsAConfigurationError(t *testing.T) {
	clock := newTestClock()
	f := newFake(t, fakeOptions{ack: false})
	s := newTestSink(t, f, func(c *Config) { c.Ack = true })
	s.now = clock.Now
	fw := newForwarded(t, s)
	ctx := t.Context()
	batch := testBatch(0, 5)

	err := fw.fw.Handle(ctx, batch)
	if err == nil || sinks.IsPermanent(err) || !sinks.IsRefusing(err) || !strings.Contains(err.Error(), "without an ackId") {
		t.Fatalf("Handle = %v, want a refusal about the missing ackId", err)
	}
	st := fw.status(t)
	if st.State != "refusing" || !strings.Contains(st.LastError, "turn on indexer acknowledgement") || st.DeadLetter != 0 || st.DeadLettered != 0 {
		t.Errorf("status = %+v, want refusing with the ackId error and nothing parked", st)
	}
	if err := fw.mgr.Healthy(ctx, "splunk"); err == nil || !strings.Contains(err.Error(), "refusing: ") || !strings.Contains(err.Error(), "ackId") {
		t.Errorf("Healthy = %v, want the ackId error", err)
	}
	for _, step := range []time.Duration{0, time.Second, time.Minute} {
		clock.Advance(step)
		if err := fw.fw.Handle(ctx, batch); !sinks.IsRefusing(err) {
			t.Fatalf("Handle after %v = %v, want still refusing", step, err)
		}
	}
	if posts, _ := f.Counts(); posts != 1 {
		t.Errorf("%d event requests, want 1: no events are sent while the token gives no ackId", posts)
	}

	f.EnableAck(true)
	clock.Advance(time.Minute)
	if err := fw.fw.Handle(ctx, batch); err != nil {
		t.Fatalf("Handle once the token acknowledges: %v", err)
	}
	if st := fw.status(t); st.State != "ok" || st.DeadLetter != 0 {
		t.Errorf("status = %+v, want ok", st)
	}
	// The first request was indexed without an ack, and sent again once.
	want := append(values(batch), values(batch)...)
	if d := cmp.Diff(want, strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

// TestWrite_Detention: an indexer in detention answers 404 for a while;
// the batch waits and is retried, and nothing is parked.
func TestWrite_Detention(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	fw := newForwarded(t, newTestSink(t, f, nil))
	batch := testBatch(0, 4)
	f.Detain(2)
	for i := range 2 {
		err := fw.fw.Handle(t.Context(), batch)
		if err == nil || sinks.IsPermanent(err) || sinks.IsRefusing(err) || !strings.Contains(err.Error(), "collector answered 404") {
			t.Fatalf("Handle %d in detention = %v, want a retryable 404", i, err)
		}
		if st := fw.status(t); st.State != "retrying" {
			t.Errorf("state in detention = %q, want retrying", st.State)
		}
	}
	if err := fw.fw.Handle(t.Context(), batch); err != nil {
		t.Fatalf("Handle after detention: %v", err)
	}
	if d := cmp.Diff(values(batch), strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
	if p := fw.parked(t); len(p) != 0 {
		t.Errorf("parked %v, want nothing", p)
	}
}

// TestWrite_TokenRefusedRetriedEveryInterval: a disabled token (HEC code
// 1) or one the collector does not know (code 4) makes the sink refusing
// without parking; it asks the collector again once per
// refused_retry_interval, however often the batch is handed over, and
// delivers once the token is enabled.
func TestWrite_TokenRefusedRetriedEveryInterval(t *testing.T) {
	for _, tt := range []struct {
		name          string
		refuse, allow func(f *fakeHEC)
	}{
		{"Disabled", func(f *fakeHEC) { f.DisableToken(true) }, func(f *fakeHEC) { f.DisableToken(false) }},
		{"Invalid", func(f *fakeHEC) { f.SetToken("not-yet") }, func(f *fakeHEC) { f.SetToken(testToken) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			clock := newTestClock()
			f := newFake(t, fakeOptions{ack: true})
			s := newTestSink(t, f, nil)
			s.now = clock.Now
			fw := newForwarded(t, s)
			batch := testBatch(0, 3)
			tt.refuse(f)
			posts := f.Tries
			for i, step := range []time.Duration{0, 0, time.Second, 58 * time.Second} {
				clock.Advance(step)
				if err := fw.fw.Handle(t.Context(), batch); !sinks.IsRefusing(err) || sinks.IsPermanent(err) {
					t.Fatalf("Handle %d = %v, want refusing", i, err)
				}
			}
			if n := posts(); n != 1 {
				t.Errorf("%d requests within the first minute, want 1", n)
			}
			clock.Advance(time.Second)
			if err := fw.fw.Handle(t.Context(), batch); !sinks.IsRefusing(err) {
				t.Fatalf("Handle a minute later = %v, want refusing", err)
			}
			if n := posts(); n != 2 {
				t.Errorf("%d requests after a minute, want 2", n)
			}
			st := fw.status(t)
			if st.State != "refusing" || st.DeadLetter != 0 || !strings.Contains(st.LastError, "collector answered 403") {
				t.Errorf("status = %+v, want refusing, nothing parked", st)
			}
			tt.allow(f)
			clock.Advance(time.Minute)
			if err := fw.fw.Handle(t.Context(), batch); err != nil {
				t.Fatalf("Handle once the token is accepted: %v", err)
			}
			if d := cmp.Diff(values(batch), strs(f.Received())); d != "" {
				t.Errorf("received (-want +got):\n%s", d)
			}
			if st := fw.status(t); st.State != "ok" {
				t.Errorf("state = %q, want ok", st.State)
			}
		})
	}
}

// TestWrite_TokenFileRotation: the token comes from a file; when the
// collector moves to a new token, the sink refuses, and as soon as the
// file holds the new token it delivers, without waiting out the retry
// interval and with nothing parked or to replay.
func TestWrite_TokenFileRotation(t *testing.T) {
	const next = "0b7e1c3d-2f4a-4b5c-9d8e-7f6a5b4c3d2e"
	file := filepath.Join(t.TempDir(), "hec-token")
	if err := os.WriteFile(file, []byte(testToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock := newTestClock()
	f := newFake(t, fakeOptions{ack: true})
	s := newTestSink(t, f, func(c *Config) { c.Token, c.TokenFile = "", file })
	s.now = clock.Now
	fw := newForwarded(t, s)
	if err := fw.fw.Handle(t.Context(), testBatch(0, 2)); err != nil {
		t.Fatalf("Handle with the file's token: %v", err)
	}
	f.SetToken(next)
	if err := fw.fw.Handle(t.Context(), testBatch(2, 2)); !sinks.IsRefusing(err) {
		t.Fatalf("Handle after the collector's rotation = %v, want refusing", err)
	}
	if err := os.WriteFile(file, []byte("  "+next+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := fw.fw.Handle(t.Context(), testBatch(2, 2)); err != nil {
		t.Fatalf("Handle after the file's rotation: %v", err)
	}
	if d := cmp.Diff(values(testBatch(0, 4)), strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
	reqs := f.Requests()
	if got := reqs[len(reqs)-1].Header.Get("Authorization"); got != "Splunk "+next {
		t.Errorf("last request's Authorization = %q, want the new token", got)
	}
	if st := fw.status(t); st.State != "ok" || st.DeadLetter != 0 {
		t.Errorf("status = %+v, want ok and nothing parked", st)
	}

	// A file being rewritten (empty for a moment) is a retryable error.
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Write(t.Context(), testBatch(4, 1))
	if err == nil || sinks.IsPermanent(err) || sinks.IsRefusing(err) || !strings.Contains(err.Error(), "holds no token") {
		t.Errorf("Write with an empty token file = %v, want a retryable error", err)
	}
}

// settleAll waits for every settlement in chs, failing the test after
// 10s; it returns their errors.
func settleAll(t *testing.T, chs []chan error) []error {
	t.Helper()
	timeout := time.After(10 * time.Second)
	var errs []error
	for i, ch := range chs {
		select {
		case err := <-ch:
			errs = append(errs, err)
		case <-timeout:
			t.Fatalf("batch %d not settled after 10s", i)
		}
	}
	return errs
}

// TestWriteSettling_InFlightStickyIndexers: batches wait for their
// acknowledgements up to max_in_flight at once, each on its own
// connection and channel; three indexers behind a cookie-sticky balancer
// number ack ids from 0 alike, and acks come 30s after indexing. Every
// poll reaches the indexer that gave the id over the connection that
// sent the batch, and every event arrives once.
func TestWriteSettling_InFlightStickyIndexers(t *testing.T) {
	clock := newTestClock()
	f := newFake(t, fakeOptions{ack: true, indexers: 3, clock: clock.Now})
	f.SlowAcks(30 * time.Second)
	s := newTestSink(t, f, func(c *Config) { c.MaxInFlight, c.AckTimeout = 4, 5*time.Minute })
	s.now = clock.Now
	var want []string
	for round := range 3 {
		var chs []chan error
		for k := range 4 {
			b := testBatch((round*4+k)*5, 5)
			want = append(want, values(b)...)
			ch := make(chan error, 1)
			if err := s.WriteSettling(t.Context(), b, func(err error) { ch <- err }); err != nil {
				t.Fatalf("round %d batch %d: %v", round, k, err)
			}
			chs = append(chs, ch)
		}
		// A fifth batch waits for a free connection: it is not sent.
		posts, _ := f.Counts()
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		err := s.WriteSettling(ctx, testBatch(1000, 1), func(error) { t.Error("settled a batch never sent") })
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("fifth WriteSettling = %v, want it to wait for a free connection", err)
		}
		if now, _ := f.Counts(); now != posts {
			t.Errorf("%d event requests with 4 batches in flight, want %d", now, posts)
		}
		for i, ch := range chs {
			select {
			case err := <-ch:
				t.Fatalf("batch %d settled (%v) before its ack was due", i, err)
			default:
			}
		}
		clock.Advance(30 * time.Second)
		for i, err := range settleAll(t, chs) {
			if err != nil {
				t.Errorf("round %d batch %d settled with %v", round, i, err)
			}
		}
	}
	got := strs(f.Received())
	slices.Sort(got)
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
	misrouted, otherConn, conns := f.Routing()
	if misrouted != 0 || otherConn != 0 {
		t.Errorf("%d polls reached an indexer without their ids, %d came over another connection; want 0 and 0", misrouted, otherConn)
	}
	if len(conns) != 4 {
		t.Errorf("%d channels used, want 4", len(conns))
	}
	for ch, n := range conns {
		if n != 1 {
			t.Errorf("channel %s used over %d connections, want 1", ch, n)
		}
	}
	f.mu.Lock()
	indexers := len(f.indexed)
	f.mu.Unlock()
	if indexers != 3 {
		t.Errorf("%d indexers took events, want all 3", indexers)
	}
}

// TestWriteSettling_SlowAckTimesOut: an ack due after 30s with an
// ack_timeout of 20s settles the batch with a retryable error, and frees
// its connection.
func TestWriteSettling_SlowAckTimesOut(t *testing.T) {
	clock := newTestClock()
	f := newFake(t, fakeOptions{ack: true, clock: clock.Now})
	f.SlowAcks(30 * time.Second)
	s := newTestSink(t, f, func(c *Config) { c.MaxInFlight, c.AckTimeout = 1, 20*time.Second })
	s.now = clock.Now
	ch := make(chan error, 1)
	if err := s.WriteSettling(t.Context(), testBatch(0, 3), func(err error) { ch <- err }); err != nil {
		t.Fatal(err)
	}
	clock.Advance(25 * time.Second)
	err := settleAll(t, []chan error{ch})[0]
	if err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), "no acknowledgement of 1 of 1 requests within 20s") {
		t.Fatalf("settled with %v, want an ack timeout", err)
	}
	f.SlowAcks(0)
	if err := s.Write(t.Context(), testBatch(0, 3)); err != nil {
		t.Fatalf("Write after the timeout: %v", err)
	}
}

// TestWrite_PartialAcceptance: HEC indexes the events of a request
// before the first invalid one and names it; the forwarder parks that
// one alone and resends only what follows, so nothing arrives twice.
func TestWrite_PartialAcceptance(t *testing.T) {
	one := len(testRecord(0).Value) + 80
	f := newFake(t, fakeOptions{ack: true})
	f.RefuseEvents("overview-7.pdf")
	s := newTestSink(t, f, func(c *Config) { c.MaxBatchBytes = 3*one + 10 })
	batch := testBatch(0, 10)

	err := s.Write(t.Context(), batch)
	if i, ok := sinks.RefusedIndex(err); !ok || i != 7 || !strings.Contains(err.Error(), "send events 7 to 9 of 10") {
		t.Fatalf("Write = %v, want a refusal of record 7 in the third request", err)
	}
	if d := cmp.Diff(values(batch[:7]), strs(f.Received())); d != "" {
		t.Fatalf("received (-want +got):\n%s", d)
	}

	f2 := newFake(t, fakeOptions{ack: true})
	f2.RefuseEvents("overview-7.pdf")
	fw := newForwarded(t, newTestSink(t, f2, func(c *Config) { c.MaxBatchBytes = 3*one + 10 }))
	if err := fw.fw.Handle(t.Context(), batch); err != nil {
		t.Fatalf("Handle: %v", err)
	}
	want := append(values(batch[:7]), values(batch[8:])...)
	if d := cmp.Diff(want, strs(f2.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{batch[7].ID}, fw.parked(t)); d != "" {
		t.Errorf("parked (-want +got):\n%s", d)
	}
	if st := fw.status(t); st.Sent != 9 || st.DeadLettered != 1 || st.State != "ok" {
		t.Errorf("status = %+v, want 9 sent, 1 parked, ok", st)
	}
}

// TestWrite_IndexedFields: configured event fields go as HEC indexed
// fields, which the collector checks.
func TestWrite_IndexedFields(t *testing.T) {
	f := newFake(t, fakeOptions{})
	s := newTestSink(t, f, func(c *Config) {
		c.Fields = []string{"event", "verified_submitter.user_id", "operations", "soid", "missing", "path.relative_path"}
	})
	if err := s.Write(t.Context(), testBatch(0, 1)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	body := string(f.Requests()[0].Body)
	want := `,"fields":{"event":"file.transfer","verified_submitter.user_id":"alice@example.com",` +
		`"operations":["META_REQUEST","CONTENT_REQUEST"],"path.relative_path":"doc/api/overview-0.pdf"},"event":{`
	if !strings.Contains(body, want) {
		t.Errorf("request body\n%s\nwant it to hold\n%s", body, want)
	}

	enc := newEncoder(Config{Fields: []string{"n", "b", "nul", "arr", "empty", "obj"}})
	v := `{"topic":"FILE","event":"x","timestamp":"2026-01-02T03:04:05.678Z","event_id":"01AF","n":12.5,"b":true,"nul":null,` +
		`"arr":[1,"a",{},null,false],"empty":[{}],"obj":{"a":"b"}}`
	got, err := enc.appendEvent(nil, eventlog.Record{ID: "01AF", Value: []byte(v)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `,"fields":{"n":"12.5","b":"true","arr":["1","a","false"]},"event":`; !strings.Contains(string(got), want) {
		t.Errorf("event object %s, want %s", got, want)
	}
	none := newEncoder(Config{Fields: []string{"missing"}})
	if got, _ := none.appendEvent(nil, eventlog.Record{Value: []byte(v)}); strings.Contains(string(got), "fields") {
		t.Errorf("event object %s holds fields, want none", got)
	}
}
