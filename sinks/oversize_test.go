package sinks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// frameSink is a memSink whose frames are newline-delimited, and which
// keeps the values it was given.
type frameSink struct {
	memSink
	values []string
}

func (s *frameSink) Write(ctx context.Context, batch []eventlog.Record) error {
	if err := s.memSink.Write(ctx, batch); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range batch {
		s.values = append(s.values, string(r.Value))
	}
	return nil
}

func (s *frameSink) FrameSize(r eventlog.Record) int { return len(r.Value) + 1 }

func (s *frameSink) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.values...)
}

// clock is a settable time for the forwarder.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// alerts keeps the oversize alerts raised.
type alerts struct {
	mu   sync.Mutex
	list []OversizeAlert
}

func (a *alerts) raise(al OversizeAlert) {
	a.mu.Lock()
	a.list = append(a.list, al)
	a.mu.Unlock()
}

func (a *alerts) get() []OversizeAlert {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]OversizeAlert(nil), a.list...)
}

const testLimit = 1024

// bigEvent is an event of about size bytes: small fields, then a long
// path, then more small fields.
func bigEvent(i, size int) eventlog.Record {
	id := fmt.Sprintf("big%03d", i)
	v := fmt.Sprintf(`{"topic":"FILE","event":"file.notification","timestamp":"2026-11-23T10:00:00.%03dZ","event_id":%q,"received_at":"2026-11-23T10:00:01.000Z","verified_submitter":{"user_id":"a@example.com","device_id":"0123456789abcdef0123456789abcdef"},"user":"a@example.com","path":"%s","size":42}`,
		i%1000, id, strings.Repeat("p", size))
	return eventlog.Record{ID: id, Key: []byte("a@example.com"), Value: []byte(v)}
}

type oversizeFixture struct {
	sink   *frameSink
	fw     *Forwarder
	mgr    *Manager
	dl     *DeadLetter
	m      *Metrics
	clock  *clock
	alerts *alerts
}

func newOversizeFixture(t *testing.T, policy string, limit int) *oversizeFixture {
	t.Helper()
	x := &oversizeFixture{
		sink: &frameSink{}, dl: newDeadLetter(t), m: NewMetrics(prometheus.NewRegistry()),
		clock: &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}, alerts: &alerts{},
	}
	fw, err := NewForwarder(x.sink, ForwarderConfig{
		Name: "siem", Kind: "syslog", DeadLetter: x.dl, Metrics: x.m, Now: x.clock.Now,
		MaxFrameBytes: limit, Oversize: policy, OnOversize: x.alerts.raise,
	})
	if err != nil {
		t.Fatal(err)
	}
	x.fw = fw
	x.mgr = NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: x.dl})
	return x
}

// TestOversize_DeadLetter: an event over the limit is parked with the
// reason oversize, counted, and alerted; the others are sent.
func TestOversize_DeadLetter(t *testing.T) {
	x := newOversizeFixture(t, "", testLimit)
	batch := []eventlog.Record{events(1)[0], bigEvent(1, 2000), event(2, "FILE", "file.transfer", "b@example.com")}
	if err := x.fw.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ev000", "ev002"}, x.sink.ids()); diff != "" {
		t.Errorf("sent (-want +got):\n%s", diff)
	}
	parked, err := x.dl.List(context.Background(), "siem", 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(parked) != 1 || parked[0].EventID != "big001" || parked[0].Reason != OversizeReason || string(parked[0].Event) != string(batch[1].Value) {
		t.Fatalf("dead letter = %+v, want big001 whole with reason %q", parked, OversizeReason)
	}
	st := mustStatus(t, x.mgr)
	if st.Oversize != 1 || st.DeadLettered != 1 || st.MaxFrameBytes != testLimit || st.OversizePolicy != OversizeDeadLetter {
		t.Errorf("status: oversize %d, dead_lettered %d, max_frame_bytes %d, policy %q; want 1, 1, %d, dead_letter",
			st.Oversize, st.DeadLettered, st.MaxFrameBytes, st.OversizePolicy, testLimit)
	}
	if !strings.Contains(st.LastError, "big001") || !strings.Contains(st.LastError, "max_frame_bytes") {
		t.Errorf("last error %q does not name the event and the limit", st.LastError)
	}
	if st.State != "ok" {
		t.Errorf("state %q, want ok: the sink delivers", st.State)
	}
	if got := testutil.ToFloat64(x.m.oversize.WithLabelValues("siem")); got != 1 {
		t.Errorf("vigil_sink_events_oversize_total = %v, want 1", got)
	}
	want := []OversizeAlert{{Sink: "siem", EventID: "big001", Size: len(batch[1].Value) + 1, Limit: testLimit, Count: 1, Policy: OversizeDeadLetter}}
	if diff := cmp.Diff(want, x.alerts.get()); diff != "" {
		t.Errorf("alerts (-want +got):\n%s", diff)
	}
}

// TestOversize_AlertOncePerHour: the alert comes at the first oversize
// event, then not again for an hour; the next one counts what came in
// between.
func TestOversize_AlertOncePerHour(t *testing.T) {
	x := newOversizeFixture(t, OversizeDeadLetter, testLimit)
	handle := func(recs ...eventlog.Record) {
		t.Helper()
		if err := x.fw.Handle(context.Background(), recs); err != nil {
			t.Fatal(err)
		}
	}
	handle(bigEvent(1, 2000), bigEvent(2, 2000), bigEvent(3, 3000))
	x.clock.add(30 * time.Minute)
	handle(bigEvent(4, 2000))
	if n := len(x.alerts.get()); n != 1 {
		t.Fatalf("%d alerts within the hour, want 1", n)
	}
	x.clock.add(31 * time.Minute)
	handle(events(1)...) // nothing over the limit: no alert
	handle(bigEvent(5, 5000))
	got := x.alerts.get()
	if len(got) != 2 {
		t.Fatalf("%d alerts after the hour, want 2", len(got))
	}
	if got[1].EventID != "big005" || got[1].Count != 4 {
		t.Errorf("second alert = %+v, want big005 with count 4 (three since the first, and itself)", got[1])
	}
	if st := mustStatus(t, x.mgr); st.Oversize != 5 || st.DeadLetter != 5 {
		t.Errorf("status: oversize %d, dead_letter %d; want 5, 5", st.Oversize, st.DeadLetter)
	}
}

// TestOversize_Truncate: an event over the limit is sent as a valid JSON
// object within the limit, with its envelope, its leading fields and
// "truncated": true.
func TestOversize_Truncate(t *testing.T) {
	x := newOversizeFixture(t, OversizeTruncate, testLimit)
	big := bigEvent(1, 5000)
	if err := x.fw.Handle(context.Background(), []eventlog.Record{events(1)[0], big}); err != nil {
		t.Fatal(err)
	}
	got := x.sink.got()
	if len(got) != 2 || got[0] != string(events(1)[0].Value) {
		t.Fatalf("sent %q, want the small event as it is and the big one truncated", got)
	}
	v := got[1]
	if len(v)+1 > testLimit {
		t.Errorf("truncated frame is %d bytes, over the limit %d", len(v)+1, testLimit)
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(v), &obj); err != nil {
		t.Fatalf("truncated event is not JSON: %v\n%s", err, v)
	}
	var orig map[string]any
	if err := json.Unmarshal(big.Value, &orig); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"topic", "event", "timestamp", "event_id", "received_at", "verified_submitter", "user"} {
		if !cmp.Equal(obj[k], orig[k]) {
			t.Errorf("field %s = %v, want %v as in the event", k, obj[k], orig[k])
		}
	}
	if obj["truncated"] != true {
		t.Errorf("truncated = %v, want true", obj["truncated"])
	}
	if _, ok := obj["path"]; ok {
		t.Errorf("the long path was kept")
	}
	if _, ok := obj["size"]; ok {
		t.Errorf("a field after the cut was kept: the cut keeps a prefix of the fields")
	}
	if n, _ := x.dl.Count(context.Background(), "siem"); n != 0 {
		t.Errorf("%d events parked, want none", n)
	}
	if st := mustStatus(t, x.mgr); st.Oversize != 1 || st.Sent != 2 {
		t.Errorf("status: oversize %d, sent %d; want 1, 2", st.Oversize, st.Sent)
	}
	if a := x.alerts.get(); len(a) != 1 || a[0].Policy != OversizeTruncate {
		t.Errorf("alerts = %+v, want one, for truncate", a)
	}
}

// TestOversize_TruncateEnvelopeTooLarge: an event whose envelope alone
// does not fit is parked.
func TestOversize_TruncateEnvelopeTooLarge(t *testing.T) {
	x := newOversizeFixture(t, OversizeTruncate, 600)
	r := bigEvent(1, 100)
	// An envelope field beyond the limit (the log only holds canonical
	// events, but a submitter's ids are not bounded by the frame).
	r.Value = []byte(strings.Replace(string(r.Value), `"device_id":"0123456789abcdef0123456789abcdef"`, `"device_id":"`+strings.Repeat("d", 700)+`"`, 1))
	if err := x.fw.Handle(context.Background(), []eventlog.Record{r}); err != nil {
		t.Fatal(err)
	}
	if got := x.sink.got(); len(got) != 0 {
		t.Errorf("sent %q, want nothing", got)
	}
	if parked, _ := x.dl.List(context.Background(), "siem", 0, 10); len(parked) != 1 || parked[0].Reason != OversizeReason {
		t.Errorf("dead letter = %+v, want the event, for oversize", parked)
	}
}

// TestOversize_Send: the event goes as it is; it is counted, not alerted.
func TestOversize_Send(t *testing.T) {
	x := newOversizeFixture(t, OversizeSend, testLimit)
	big := bigEvent(1, 5000)
	if err := x.fw.Handle(context.Background(), []eventlog.Record{big}); err != nil {
		t.Fatal(err)
	}
	if got := x.sink.got(); len(got) != 1 || got[0] != string(big.Value) {
		t.Errorf("sent %d events, want the big one as it is", len(got))
	}
	if st := mustStatus(t, x.mgr); st.Oversize != 1 {
		t.Errorf("oversize %d, want 1", st.Oversize)
	}
	if a := x.alerts.get(); len(a) != 0 {
		t.Errorf("alerts %+v with send, want none", a)
	}
}

// TestOversize_NoLimitWithoutFramer: a sink that is no Framer is never
// held against a limit.
func TestOversize_NoLimitWithoutFramer(t *testing.T) {
	s := &memSink{}
	fw, err := NewForwarder(s, ForwarderConfig{Name: "siem", DeadLetter: newDeadLetter(t), MaxFrameBytes: testLimit})
	if err != nil {
		t.Fatal(err)
	}
	if err := fw.Handle(context.Background(), []eventlog.Record{bigEvent(1, 5000)}); err != nil {
		t.Fatal(err)
	}
	if got := s.ids(); len(got) != 1 {
		t.Errorf("sent %v, want the event", got)
	}
}

// TestOversize_ParkFailsRetryable: when the dead letter cannot take the
// event, nothing of the batch is sent and the batch is to be handed over
// again.
func TestOversize_ParkFailsRetryable(t *testing.T) {
	x := newOversizeFixture(t, OversizeDeadLetter, testLimit)
	x.dl.Close()
	err := x.fw.Handle(context.Background(), []eventlog.Record{events(1)[0], bigEvent(1, 2000)})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Handle = %v, want a retryable error", err)
	}
	if got := x.sink.ids(); len(got) != 0 {
		t.Errorf("sent %v before the oversize event was parked", got)
	}
}

// TestOversize_DeadLetterReplay: a replay of the dead letter leaves the
// events still over the limit parked, and sends them once the limit
// allows.
func TestOversize_DeadLetterReplay(t *testing.T) {
	x := newOversizeFixture(t, OversizeDeadLetter, testLimit)
	if err := x.fw.Handle(context.Background(), []eventlog.Record{bigEvent(1, 2000)}); err != nil {
		t.Fatal(err)
	}
	res, err := x.mgr.ReplayDeadLetter(context.Background(), "siem")
	if err != nil || res.Replayed != 0 || res.Remaining != 1 {
		t.Fatalf("replay = %+v, %v; want nothing replayed, 1 remaining", res, err)
	}
	if got := x.sink.ids(); len(got) != 0 {
		t.Fatalf("sent %v, still over the limit", got)
	}

	// The receiver's limit was raised, and the sink's with it.
	larger := &frameSink{}
	fw, err := NewForwarder(larger, ForwarderConfig{Name: "siem", DeadLetter: x.dl, MaxFrameBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: x.dl})
	res, err = mgr.ReplayDeadLetter(context.Background(), "siem")
	if err != nil || res.Replayed != 1 || res.Remaining != 0 {
		t.Fatalf("replay = %+v, %v; want 1 replayed", res, err)
	}
	if got := larger.ids(); len(got) != 1 || got[0] != "big001" {
		t.Errorf("sent %v, want big001", got)
	}
}

// TestOversize_LostBeforeSettledIsRetrying: a sink whose receiver takes
// every batch but loses each before it settles is retrying, not ok; once
// a batch settles it is ok again.
func TestOversize_LostBeforeSettledIsRetrying(t *testing.T) {
	s := &settlingSink{}
	fw := newForwarder(t, s, Filter{}, newDeadLetter(t), nil)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: fw.cfg.DeadLetter})
	lost := errors.New("connection closed by the receiver")
	for range 3 {
		if _, err := fw.HandleSettling(context.Background(), events(2)); err != nil {
			t.Fatal(err)
		}
		s.settleAll(lost)
		st := mustStatus(t, mgr)
		if st.State != "retrying" || st.LastError != lost.Error() {
			t.Fatalf("state %q, last error %q; want retrying with the loss", st.State, st.LastError)
		}
	}
	if _, err := fw.HandleSettling(context.Background(), events(2)); err != nil {
		t.Fatal(err)
	}
	if st := mustStatus(t, mgr); st.State != "retrying" {
		t.Errorf("state %q while the batch after losses waits to settle, want retrying", st.State)
	}
	s.settleAll(nil)
	if st := mustStatus(t, mgr); st.State != "ok" || st.Resent != 6 || st.Settled != 2 {
		t.Errorf("state %q, resent %d, settled %d; want ok, 6, 2", st.State, st.Resent, st.Settled)
	}
}

func TestTruncateRecord(t *testing.T) {
	r := bigEvent(1, 3000)
	for _, budget := range []int{300, 400, 500, 1000, 3000, 3400} {
		got, ok := truncateRecord(r, budget)
		if !ok {
			if budget >= 400 {
				t.Errorf("budget %d: not truncated", budget)
			}
			continue
		}
		if len(got.Value) > budget {
			t.Errorf("budget %d: %d bytes", budget, len(got.Value))
		}
		if err := fastjson.ValidateBytes(got.Value); err != nil {
			t.Errorf("budget %d: invalid JSON %v: %s", budget, err, got.Value)
		}
		if got.ID != r.ID || string(got.Key) != string(r.Key) {
			t.Errorf("budget %d: id or key changed", budget)
		}
	}
	if _, ok := truncateRecord(eventlog.Record{Value: []byte(`[1,2]`)}, 100); ok {
		t.Error("an array was truncated, want a failure")
	}
}

// FuzzTruncateRecord: whatever the record, a truncation that succeeds is
// a valid JSON object within the budget, with every envelope member of
// the input and "truncated": true.
func FuzzTruncateRecord(f *testing.F) {
	f.Add(string(bigEvent(1, 200).Value), 300)
	f.Add(`{"topic":"A","event":"e","x":"\u0000\"","truncated":false}`, 60)
	f.Add(`{}`, 20)
	f.Add(`{"a":{"b":[1,2,{"c":null}]},"topic":"T"}`, 30)
	f.Fuzz(func(t *testing.T, value string, budget int) {
		got, ok := truncateRecord(eventlog.Record{Value: []byte(value)}, budget)
		if !ok {
			return
		}
		if len(got.Value) > budget {
			t.Fatalf("%d bytes over the budget %d", len(got.Value), budget)
		}
		v, err := fastjson.ParseBytes(got.Value)
		if err != nil {
			t.Fatalf("invalid JSON %q: %v", got.Value, err)
		}
		if !v.GetBool("truncated") {
			t.Fatalf("no truncated: true in %q", got.Value)
		}
		in, err := fastjson.Parse(value)
		if err != nil {
			t.Fatalf("truncated %q, which is no JSON", value)
		}
		for k := range envelopeKeys {
			if w := in.Get(k); w != nil && v.Get(k).String() != w.String() {
				t.Fatalf("envelope field %s is %s, want %s", k, v.Get(k), w)
			}
		}
	})
}
