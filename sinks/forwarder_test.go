package sinks

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// memSink keeps what it is given; refuse decides, per write, an error.
type memSink struct {
	mu     sync.Mutex
	got    []string
	writes int
	refuse func(batch []eventlog.Record) error
	closed bool
}

func (s *memSink) Write(_ context.Context, batch []eventlog.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if s.refuse != nil {
		if err := s.refuse(batch); err != nil {
			return err
		}
	}
	for _, r := range batch {
		s.got = append(s.got, r.ID)
	}
	return nil
}

func (s *memSink) Close() error { s.closed = true; return nil }

func (s *memSink) ids() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func (s *memSink) setRefuse(fn func([]eventlog.Record) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = fn
}

func event(i int, topic, name, user string) eventlog.Record {
	id := fmt.Sprintf("ev%03d", i)
	v := fmt.Sprintf(`{"topic":%q,"event":%q,"timestamp":"2026-11-23T10:00:00.%03dZ","event_id":%q,"user":%q,"n":%d}`,
		topic, name, i%1000, id, user, i)
	return eventlog.Record{ID: id, Key: []byte(user), Value: []byte(v)}
}

func events(n int) []eventlog.Record {
	out := make([]eventlog.Record, n)
	for i := range out {
		out[i] = event(i, "FILE", "file.transfer", fmt.Sprintf("u%d@example.com", i%3))
	}
	return out
}

func idsOf(recs []eventlog.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func newDeadLetter(t *testing.T) *DeadLetter {
	t.Helper()
	dl, err := OpenDeadLetter(filepath.Join(t.TempDir(), "dead.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dl.Close() })
	return dl
}

func newForwarder(t *testing.T, s Sink, f Filter, dl *DeadLetter, m *Metrics) *Forwarder {
	t.Helper()
	fw, err := NewForwarder(s, ForwarderConfig{Name: "siem", Kind: "tcp", Required: true, Filter: f, DeadLetter: dl, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func TestForwarder_FiltersBatch(t *testing.T) {
	batch := []eventlog.Record{
		event(0, "FILE", "file.transfer", "a@example.com"),
		event(1, "LINK", "link.create", "a@example.com"),
		event(2, "USER", "user.signin", "b@example.com"),
		event(3, "FILE", "file.transfer", "b@example.com"),
		{ID: "bad", Value: []byte(`not json`)},
	}
	tests := []struct {
		name   string
		filter Filter
		want   []string
	}{
		{"none keeps all", Filter{}, []string{"ev000", "ev001", "ev002", "ev003", "bad"}},
		{"topics", Filter{Topics: []string{"FILE", "LINK"}}, []string{"ev000", "ev001", "ev003", "bad"}},
		{"topics in any case", Filter{Topics: []string{"file", "Link"}}, []string{"ev000", "ev001", "ev003", "bad"}},
		{"events", Filter{Events: []string{"user.signin"}}, []string{"ev002", "bad"}},
		{"topic and event", Filter{Topics: []string{"FILE"}, Events: []string{"link.create"}}, []string{"bad"}},
		{"field match", Filter{Match: map[string]string{"user": "b@example.com"}}, []string{"ev002", "ev003", "bad"}},
		{"number match", Filter{Match: map[string]string{"n": "1"}}, []string{"ev001", "bad"}},
		{"missing field", Filter{Match: map[string]string{"caller.email": "x"}}, []string{"bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &memSink{}
			fw := newForwarder(t, s, tt.filter, newDeadLetter(t), nil)
			if err := fw.Handle(context.Background(), batch); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.ids()); diff != "" {
				t.Errorf("delivered (-want +got):\n%s", diff)
			}
		})
	}
}

func TestForwarder_NothingToSendSkipsWrite(t *testing.T) {
	s := &memSink{}
	fw := newForwarder(t, s, Filter{Topics: []string{"ORG"}}, newDeadLetter(t), nil)
	if err := fw.Handle(context.Background(), events(5)); err != nil {
		t.Fatal(err)
	}
	if s.writes != 0 {
		t.Errorf("writes = %d, want 0", s.writes)
	}
}

func TestForwarder_RetryableErrorReturned(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := &memSink{refuse: func([]eventlog.Record) error { return errors.New("connection refused") }}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, m)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	ctx := context.Background()

	err := fw.Handle(ctx, events(4))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("Handle = %v, want the retryable error", err)
	}
	st, _ := mgr.SinkStatus(ctx, "siem")
	if st.State != "retrying" || st.Retried != 4 || st.LastError != "connection refused" || st.DeadLetter != 0 {
		t.Errorf("status after failure = %+v", st)
	}
	if got := testutil.ToFloat64(m.retried.WithLabelValues("siem")); got != 4 {
		t.Errorf("retried metric = %v, want 4", got)
	}

	s.setRefuse(nil)
	if err := fw.Handle(ctx, events(4)); err != nil {
		t.Fatal(err)
	}
	st, _ = mgr.SinkStatus(ctx, "siem")
	if st.State != "ok" || st.Sent != 4 || st.LastSentAt == nil {
		t.Errorf("status after recovery = %+v", st)
	}
	if got := testutil.ToFloat64(m.sent.WithLabelValues("siem")); got != 4 {
		t.Errorf("sent metric = %v, want 4", got)
	}
	if got := testutil.ToFloat64(m.bytes.WithLabelValues("siem")); got == 0 {
		t.Error("bytes metric not counted")
	}
}

// refuseIDs refuses, permanently, any batch holding one of ids.
func refuseIDs(ids ...string) func([]eventlog.Record) error {
	return func(batch []eventlog.Record) error {
		for _, r := range batch {
			for _, id := range ids {
				if r.ID == id {
					return Permanent(fmt.Errorf("invalid data format in %s", id))
				}
			}
		}
		return nil
	}
}

func TestForwarder_PermanentParksOnlyRefusedEvents(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	s := &memSink{refuse: refuseIDs("ev003", "ev010")}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, m)
	ctx := context.Background()

	batch := events(16)
	if err := fw.Handle(ctx, batch); err != nil {
		t.Fatalf("Handle = %v, want nil (refused events parked)", err)
	}
	var want []string
	for _, id := range idsOf(batch) {
		if id != "ev003" && id != "ev010" {
			want = append(want, id)
		}
	}
	if diff := cmp.Diff(want, s.ids()); diff != "" {
		t.Errorf("delivered (-want +got):\n%s", diff)
	}
	parked, err := dl.List(ctx, "siem", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range parked {
		got = append(got, p.EventID)
		if !strings.Contains(p.Reason, "invalid data format") || p.ParkedAt.IsZero() {
			t.Errorf("parked entry %+v", p)
		}
	}
	if diff := cmp.Diff([]string{"ev003", "ev010"}, got); diff != "" {
		t.Errorf("parked (-want +got):\n%s", diff)
	}
	if string(parked[0].Event) != string(batch[3].Value) || string(parked[0].key) != string(batch[3].Key) {
		t.Errorf("parked event = %s key %s, want the record's bytes", parked[0].Event, parked[0].key)
	}
	if got := testutil.ToFloat64(m.dead.WithLabelValues("siem")); got != 2 {
		t.Errorf("dead-lettered metric = %v, want 2", got)
	}

	// Once the downstream accepts them, a dead-letter replay sends them and
	// empties the dead letter.
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	s.setRefuse(refuseIDs("ev010"))
	res, err := mgr.ReplayDeadLetter(ctx, "siem")
	if err != nil {
		t.Fatal(err)
	}
	if res != (DeadLetterReplay{Replayed: 1, Remaining: 1}) {
		t.Errorf("replay = %+v, want 1 replayed, 1 remaining", res)
	}
	s.setRefuse(nil)
	if res, err = mgr.ReplayDeadLetter(ctx, "siem"); err != nil || res != (DeadLetterReplay{Replayed: 1}) {
		t.Errorf("second replay = %+v, %v", res, err)
	}
	ids := s.ids()
	if diff := cmp.Diff([]string{"ev003", "ev010"}, ids[len(ids)-2:]); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	if n, _ := dl.Count(ctx, "siem"); n != 0 {
		t.Errorf("dead letter holds %d, want 0", n)
	}
}

func TestForwarder_DeadLetterReplayStopsOnRetryable(t *testing.T) {
	s := &memSink{refuse: refuseIDs("ev001")}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	ctx := context.Background()
	if err := fw.Handle(ctx, events(3)); err != nil {
		t.Fatal(err)
	}
	s.setRefuse(func([]eventlog.Record) error { return errors.New("busy") })
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	if _, err := mgr.ReplayDeadLetter(ctx, "siem"); err == nil || !strings.Contains(err.Error(), "busy") {
		t.Fatalf("replay = %v, want the sink's error", err)
	}
	if n, _ := dl.Count(ctx, "siem"); n != 1 {
		t.Errorf("dead letter holds %d, want 1 (kept)", n)
	}
}

func TestForwarder_CancelledContextNotCountedAsFailure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := &memSink{refuse: func([]eventlog.Record) error { return ctx.Err() }}
	fw := newForwarder(t, s, Filter{}, newDeadLetter(t), nil)
	if err := fw.Handle(ctx, events(2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Handle = %v, want context.Canceled", err)
	}
	if fw.state.retried != 0 || fw.state.failing {
		t.Errorf("state = %+v, want no failure recorded", fw.state)
	}
}

func TestManager_ReplayFromLog(t *testing.T) {
	log := events(2500)
	log[7] = event(7, "LINK", "link.create", "x@example.com")
	replay := func(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error {
		for _, r := range log {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
	s := &memSink{}
	// The first write of the replay fails once; the replay retries it.
	var once sync.Once
	s.refuse = func([]eventlog.Record) error {
		var err error
		once.Do(func() { err = errors.New("reset by peer") })
		return err
	}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{Topics: []string{"FILE"}}, dl, nil)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl, Replay: replay})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- mgr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	st, err := mgr.StartReplay("siem", since)
	if err != nil || st.State != "running" || !st.Since.Equal(since) {
		t.Fatalf("StartReplay = %+v, %v", st, err)
	}
	var rs *ReplayStatus
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		rs = mustStatus(t, mgr).Replay
		if rs != nil && rs.State != "running" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rs == nil || rs.State != "done" || rs.Scanned != 2500 || rs.Sent != 2499 || rs.FinishedAt == nil {
		t.Fatalf("replay status = %+v", rs)
	}
	var want []string
	for _, r := range log {
		if r.ID != "ev007" {
			want = append(want, r.ID)
		}
	}
	if diff := cmp.Diff(want, s.ids()); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
	if _, err := mgr.StartReplay("nope", since); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown sink: %v, want ErrNotFound", err)
	}
}

func TestManager_OneReplayAtATime(t *testing.T) {
	release := make(chan struct{})
	replay := func(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	dl := newDeadLetter(t)
	fw := newForwarder(t, &memSink{}, Filter{}, dl, nil)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl, Replay: replay})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- mgr.Run(ctx) }()
	if _, err := mgr.StartReplay("siem", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.StartReplay("siem", time.Now()); !errors.Is(err, ErrBusy) {
		t.Errorf("second replay: %v, want ErrBusy", err)
	}
	// Stopping the manager cancels the running replay.
	cancel()
	<-done
	if rs := mustStatus(t, mgr).Replay; rs.State != "cancelled" {
		t.Errorf("replay after stop = %+v, want cancelled", rs)
	}
	close(release)
}

func mustStatus(t *testing.T, m *Manager) Status {
	t.Helper()
	st, err := m.SinkStatus(context.Background(), "siem")
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestNewForwarder_Invalid(t *testing.T) {
	dl := newDeadLetter(t)
	tests := []struct {
		name string
		cfg  ForwarderConfig
		want string
	}{
		{"no name", ForwarderConfig{DeadLetter: dl}, "sink name"},
		{"no dead letter", ForwarderConfig{Name: "x"}, "dead letter"},
		{"bad filter", ForwarderConfig{Name: "x", DeadLetter: dl, Filter: Filter{Topics: []string{" "}}}, "topics[0]"},
		{"bad match", ForwarderConfig{Name: "x", DeadLetter: dl, Filter: Filter{Match: map[string]string{"a..b": "1"}}}, "field path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewForwarder(&memSink{}, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestForwarder_RefusedSinkParksBatchAtOnce: a refusal of the sink itself
// (an invalid token) parks the whole batch with one write, not one per
// event, and the status says the sink refuses.
func TestForwarder_RefusedSinkParksBatchAtOnce(t *testing.T) {
	s := &memSink{refuse: func([]eventlog.Record) error { return PermanentAll(errors.New("invalid token")) }}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	ctx := context.Background()
	if err := fw.Handle(ctx, events(100)); err != nil {
		t.Fatal(err)
	}
	if s.writes != 1 {
		t.Errorf("writes = %d, want 1", s.writes)
	}
	st := mustStatus(t, mgr)
	if st.State != "refusing" || st.DeadLetter != 100 || st.DeadLettered != 100 || st.LastError != "invalid token" {
		t.Errorf("status = %+v", st)
	}
	s.setRefuse(nil)
	if res, err := mgr.ReplayDeadLetter(ctx, "siem"); err != nil || res != (DeadLetterReplay{Replayed: 100}) {
		t.Fatalf("replay = %+v, %v", res, err)
	}
	if st := mustStatus(t, mgr); st.State != "ok" {
		t.Errorf("state after the fix = %q, want ok", st.State)
	}
}

// TestDeadLetter_ParkedOnce: a batch handed over again (or replayed from
// the log) parks its refused events once.
func TestDeadLetter_ParkedOnce(t *testing.T) {
	s := &memSink{refuse: refuseIDs("ev001")}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	for range 3 {
		if err := fw.Handle(context.Background(), events(4)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := dl.Count(context.Background(), "siem"); n != 1 {
		t.Errorf("dead letter holds %d, want 1", n)
	}
}

// TestManager_OneDeadLetterReplayAtATime: a second dead-letter replay
// while one runs is refused, so no parked event is sent twice by them.
func TestManager_OneDeadLetterReplayAtATime(t *testing.T) {
	dl := newDeadLetter(t)
	s := &memSink{refuse: refuseIDs("ev000")}
	fw := newForwarder(t, s, Filter{}, dl, nil)
	ctx := context.Background()
	if err := fw.Handle(ctx, events(1)); err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	s.setRefuse(func([]eventlog.Record) error {
		close(entered)
		<-release
		return nil
	})
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	done := make(chan error)
	go func() {
		_, err := mgr.ReplayDeadLetter(ctx, "siem")
		done <- err
	}()
	<-entered
	if _, err := mgr.ReplayDeadLetter(ctx, "siem"); !errors.Is(err, ErrBusy) {
		t.Errorf("second replay: %v, want ErrBusy", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestManager_ReplayAfterStop(t *testing.T) {
	dl := newDeadLetter(t)
	fw := newForwarder(t, &memSink{}, Filter{}, dl, nil)
	replay := func(context.Context, time.Time, func(eventlog.Record) error) error { return nil }
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl, Replay: replay})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mgr.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := mgr.StartReplay("siem", time.Now()); !errors.Is(err, ErrStopping) {
		t.Errorf("replay after stop: %v, want ErrStopping", err)
	}
	noLog := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl})
	if _, err := noLog.StartReplay("siem", time.Now()); !errors.Is(err, ErrNoReplay) {
		t.Errorf("replay without a log: %v, want ErrNoReplay", err)
	}
}
