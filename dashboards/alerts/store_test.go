package alerts

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

var t0 = time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

func newStore(t *testing.T, b metadbtest.Backend) (*Store, *auth.Store) {
	t.Helper()
	db := b.New(t).Open(t)
	a, err := auth.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return t0.Add(2 * time.Hour) }
	return s, a
}

// raised builds an alert.raised event as the engine does.
func raised(t *testing.T, rule, user string, start time.Time) *schema.Event {
	t.Helper()
	a := detect.Alert{ID: detect.AlertID(rule, user, start.UnixMilli()), Rule: rule, Severity: "high", Group: user, User: user,
		Summary: "many files", Count: 101, Start: start, End: start.Add(time.Hour), Evidence: []string{"01M83XJ880G988VDCE1F5VZJF0"},
		EvidenceCount: 101, At: start.Add(time.Hour)}
	e, err := a.Event()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// drained returns the names and alert ids of the outbox's events.
func drained(t *testing.T, a *auth.Store) []string {
	t.Helper()
	var out []string
	if _, err := a.DrainOutbox(context.Background(), func(e *schema.Event) error {
		id, _ := e.String("alert_id")
		st, _ := e.String("state")
		rule, _ := e.String("rule")
		out = append(out, e.Name()+" "+id+st+rule)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func ids(list []Alert) []string {
	var out []string
	for _, a := range list {
		out = append(out, a.ID)
	}
	return out
}

func TestRecordAndList(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s, _ := newStore(t, b)
		ctx := context.Background()
		e1 := raised(t, "mass-download", "alice@example.com", t0)
		e2 := raised(t, "mass-download", "bob@example.com", t0.Add(15*time.Minute))
		e3 := raised(t, "mass-deletion", "alice@example.com", t0.Add(30*time.Minute))
		other, err := schema.New("alert.state", t0, schema.Fields{"alert_id": e1.ID(), "state": "resolved", "caller": ":token:ops"})
		if err != nil {
			t.Fatal(err)
		}
		// Recorded twice (a replay): still one row each.
		for range 2 {
			if err := s.Record(ctx, e1, e2, e3, other); err != nil {
				t.Fatal(err)
			}
		}
		tests := []struct {
			name string
			f    Filter
			want []string
		}{
			{"All", Filter{}, []string{e3.ID(), e2.ID(), e1.ID()}},
			{"Rule", Filter{Rule: "mass-download"}, []string{e2.ID(), e1.ID()}},
			{"User", Filter{User: "alice@example.com"}, []string{e3.ID(), e1.ID()}},
			{"Since", Filter{Since: t0.Add(10 * time.Minute)}, []string{e3.ID(), e2.ID()}},
			{"Until", Filter{Until: t0.Add(10 * time.Minute)}, []string{e1.ID()}},
			{"State", Filter{State: Resolved}, nil},
			{"Severity", Filter{Severity: "low"}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, _, err := s.List(ctx, tt.f)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, ids(got)); diff != "" {
					t.Errorf("List(%+v) (-want +got):\n%s", tt.f, diff)
				}
			})
		}
		// Paging: two pages of 2 and 1.
		p1, next, err := s.List(ctx, Filter{Limit: 2})
		if err != nil || next == "" {
			t.Fatalf("page 1: %v, next %q", err, next)
		}
		p2, next2, err := s.List(ctx, Filter{Limit: 2, Cursor: next})
		if err != nil || next2 != "" {
			t.Fatalf("page 2: %v, next %q", err, next2)
		}
		if diff := cmp.Diff([]string{e3.ID(), e2.ID(), e1.ID()}, append(ids(p1), ids(p2)...)); diff != "" {
			t.Errorf("pages (-want +got):\n%s", diff)
		}
		got, err := s.Get(ctx, e1.ID())
		if err != nil {
			t.Fatal(err)
		}
		want := Alert{ID: e1.ID(), Rule: "mass-download", Severity: "high", Group: "alice@example.com", User: "alice@example.com",
			Summary: "many files", Count: 101, WindowStart: t0, WindowEnd: t0.Add(time.Hour), RaisedAt: t0.Add(time.Hour), State: Open}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get (-want +got):\n%s", diff)
		}
		if _, err := s.Get(ctx, "01M83XJ880G988VDCE1F5VZJF0"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get of an unknown id = %v, want ErrNotFound", err)
		}
	})
}

func TestSet(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		tests := []struct {
			name   string
			steps  []string // states, in order
			caller string
			// wantErr is the error of the last step, nil for none.
			wantErr error
			// wantEvents are the outbox's events after the steps.
			wantEvents []string
		}{
			{name: "AckResolve", steps: []string{Acknowledged, Resolved}, caller: ":token:ops",
				wantEvents: []string{"alert.state ID" + Acknowledged, "alert.state ID" + Resolved}},
			{name: "AckTwice", steps: []string{Acknowledged, Acknowledged}, caller: ":token:ops",
				wantEvents: []string{"alert.state ID" + Acknowledged, "alert.state ID" + Acknowledged}},
			{name: "ResolveThenAck", steps: []string{Resolved, Acknowledged}, caller: ":token:ops", wantErr: ErrConflict,
				wantEvents: []string{"alert.state ID" + Resolved}},
			{name: "DismissedIsFinal", steps: []string{Dismissed, Resolved}, caller: ":token:ops", wantErr: ErrConflict,
				wantEvents: []string{"alert.state ID" + Dismissed}},
			{name: "Open", steps: []string{Open}, caller: ":token:ops", wantErr: ErrInvalid},
			{name: "SelfDismissal", steps: []string{Dismissed}, caller: "alice@example.com",
				wantEvents: []string{"alert.state ID" + Dismissed, "alert.raised " + SelfDismissal}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, a := newStore(t, b)
				e := raised(t, "mass-download", "alice@example.com", t0)
				if err := s.Record(ctx, e); err != nil {
					t.Fatal(err)
				}
				var err error
				var got Alert
				for _, st := range tt.steps {
					got, err = s.Set(ctx, tt.caller, e.ID(), st, Change{Assignee: "bob@example.com", Note: "n"})
				}
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("last Set = %v, want %v", err, tt.wantErr)
				}
				var want []string
				for _, w := range tt.wantEvents {
					if rest, ok := strings.CutPrefix(w, "alert.state ID"); ok {
						w = "alert.state " + e.ID() + rest
					}
					want = append(want, w)
				}
				if diff := cmp.Diff(want, drained(t, a)); diff != "" {
					t.Errorf("events (-want +got):\n%s", diff)
				}
				if err != nil {
					return
				}
				stored, err := s.Get(ctx, e.ID())
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, stored); diff != "" {
					t.Errorf("Set's answer and the stored alert differ (-set +stored):\n%s", diff)
				}
				if stored.State != tt.steps[len(tt.steps)-1] || stored.ChangedBy != tt.caller || stored.Assignee != "bob@example.com" {
					t.Errorf("stored %+v", stored)
				}
				self, err := s.Get(ctx, SelfDismissalID(e.ID(), t0.UnixMilli()))
				if wantSelf := tt.name == "SelfDismissal"; wantSelf != (err == nil) {
					t.Errorf("self-dismissal alert: %+v, %v; want one: %v", self, err, wantSelf)
				}
			})
		}
		s, _ := newStore(t, b)
		if _, err := s.Set(ctx, ":token:ops", "01M83XJ880G988VDCE1F5VZJF0", Resolved, Change{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Set of an unknown alert = %v, want ErrNotFound", err)
		}
	})
}

// countingEmitter records what it emitted, failing the calls fail says.
type countingEmitter struct {
	emitted []string
	fail    func() bool
}

func (c *countingEmitter) Emit(_ context.Context, events ...*schema.Event) error {
	if c.fail != nil && c.fail() {
		return errors.New("log unavailable")
	}
	for _, e := range events {
		c.emitted = append(c.emitted, e.Name()+" "+e.ID())
	}
	return nil
}

// TestRecording_RetryEmitsOnce fails the recording's store, then its
// log, once each, and retries as the detector does: the alert is in the
// log exactly once and recorded, open.
func TestRecording_RetryEmitsOnce(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s, _ := newStore(t, b)
		ctx := context.Background()
		e := raised(t, "mass-download", "alice@example.com", t0)
		failLog := false
		next := &countingEmitter{fail: func() bool { f := failLog; failLog = false; return f }}
		em := s.Recording(next)

		// The alerts table is unavailable: nothing reaches the log.
		if _, err := s.db.ExecContext(ctx, `ALTER TABLE alerts RENAME TO alerts_away`); err != nil {
			t.Fatal(err)
		}
		if err := em.Emit(ctx, e); err == nil {
			t.Fatal("Emit with the alerts table gone succeeded")
		}
		if len(next.emitted) != 0 {
			t.Fatalf("emitted %v although the alert could not be recorded", next.emitted)
		}
		if _, err := s.db.ExecContext(ctx, `ALTER TABLE alerts_away RENAME TO alerts`); err != nil {
			t.Fatal(err)
		}
		// The log fails once after the row is in.
		failLog = true
		if err := em.Emit(ctx, e); err == nil {
			t.Fatal("Emit with the log failing succeeded")
		}
		if err := em.Emit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"alert.raised " + e.ID()}, next.emitted); diff != "" {
			t.Errorf("emitted (-want +got):\n%s", diff)
		}
		got, err := s.Get(ctx, e.ID())
		if err != nil || got.State != Open {
			t.Errorf("Get = %+v, %v; want the alert, open", got, err)
		}
	})
}

// TestRecordRead checks the audit.query event of a read of alerts made
// without the API.
func TestRecordRead(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s, a := newStore(t, b)
		if err := s.RecordRead(context.Background(), auth.LocalCaller, "vigil admin alerts list", "state=open"); err != nil {
			t.Fatal(err)
		}
		var got []string
		if _, err := a.DrainOutbox(context.Background(), func(e *schema.Event) error {
			route, _ := e.String("route")
			filter, _ := e.String("filter")
			got = append(got, e.Name()+" "+string(e.Value("caller"))+" "+route+" "+filter)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{`audit.query {"email":":local"} vigil admin alerts list state=open`}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outbox (-want +got):\n%s", diff)
		}
	})
}
