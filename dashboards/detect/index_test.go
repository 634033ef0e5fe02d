package detect

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/schema"
)

// plain turns off the engine's shortcuts: every condition is evaluated
// whatever the event's name, and every value goes through CEL.
func plain(e *Engine) {
	for _, c := range e.rules {
		for _, p := range c.programs() {
			p.events, p.path = nil, nil
		}
	}
}

// programs are every compiled expression of the rule.
func (c *compiled) programs() []*program {
	out := []*program{c.match, c.distinct, c.sum, c.novel, c.trigger}
	out = append(out, c.groupBy...)
	out = append(out, c.triggerBy...)
	for _, s := range c.steps {
		out = append(out, s.match)
		out = append(out, s.groupBy...)
	}
	return slices.DeleteFunc(out, func(p *program) bool { return p == nil })
}

// goldenEvents are the events of every golden case, each case's in order.
func goldenEvents(t *testing.T) []*schema.Event {
	t.Helper()
	return slices.Concat(goldenCases(t)...)
}

// goldenCases are the events of each golden case.
func goldenCases(t *testing.T) [][]*schema.Event {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "rules", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden files: %v (%d)", err, len(files))
	}
	var out [][]*schema.Event
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if strings.HasSuffix(f.Name, "/events") {
				out = append(out, expand(t, f.Data))
			}
		}
	}
	return out
}

// alertsOf runs events through a fresh engine of every built-in rule,
// as log records (through: the log's reading) or as events, and returns
// the alerts' wire lines.
func alertsOf(t *testing.T, events []*schema.Event, shortcuts, records bool) string {
	return alertsPruned(t, events, shortcuts, records, false)
}

// alertsPruned is alertsOf, pruning the state after every event when
// prune is set.
func alertsPruned(t *testing.T, events []*schema.Event, shortcuts, records, prune bool) string {
	t.Helper()
	eng, err := newEngine(Builtins(), defaultLate, goldenDomains(t))
	if err != nil {
		t.Fatal(err)
	}
	if !shortcuts {
		plain(eng)
	}
	var got bytes.Buffer
	for i, e := range events {
		var alerts []Alert
		if records {
			r := eventlog.RecordOf(e)
			r.Offset = int64(i)
			alerts = eng.Record(r)
		} else {
			alerts = eng.Event(e)
		}
		if prune {
			eng.Prune()
		}
		for _, a := range alerts {
			ev, err := a.Event()
			if err != nil {
				t.Fatal(err)
			}
			got.Write(ev.Wire())
			got.WriteByte('\n')
		}
	}
	return got.String()
}

// TestShortcuts_SameAlerts checks that the engine's shortcuts (skipping
// conditions by event name, reading field paths without CEL, reading
// log records without the normalizer) and when it prunes its state
// change no alert: the golden
// events of every rule, all rules on, in order and shuffled.
func TestShortcuts_SameAlerts(t *testing.T) {
	events := goldenEvents(t)
	orders := map[string][]*schema.Event{"in order": events}
	for seed := range uint64(5) {
		shuffled := append([]*schema.Event(nil), events...)
		rand.New(rand.NewPCG(seed, 1)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		orders["shuffled "+string(rune('a'+seed))] = shuffled
	}
	for name, evs := range orders {
		t.Run(name, func(t *testing.T) {
			want := alertsOf(t, evs, false, false)
			if name == "in order" && want == "" {
				t.Fatal("the golden events raise no alert with every rule on")
			}
			if got := alertsOf(t, evs, true, true); got != want {
				t.Errorf("records with shortcuts: alerts differ (-plain +shortcuts):\n%s", cmp.Diff(want, got))
			}
			if got := alertsOf(t, evs, true, false); got != want {
				t.Errorf("events with shortcuts: alerts differ (-plain +shortcuts):\n%s", cmp.Diff(want, got))
			}

		})
	}
}

func TestEventNames(t *testing.T) {
	for _, tc := range []struct {
		expr string
		want []string // nil: not limited
	}{
		{`event == "a"`, []string{"a"}},
		{`"a" == event`, []string{"a"}},
		{`event in ["a", "b"]`, []string{"a", "b"}},
		{`event == "a" || event == "b"`, []string{"a", "b"}},
		{`event == "a" && user == "x"`, []string{"a"}},
		{`user == "x" && event in ["a", "b"]`, []string{"a", "b"}},
		{`event in ["a", "b"] && event == "b"`, []string{"b"}},
		{`event == "a" && event == "b"`, []string{}},
		{`event == "a" || user == "x"`, nil},
		{`event != "a"`, nil},
		{`!(event == "a")`, nil},
		{`event in ["a", user]`, nil},
		{`event.startsWith("a")`, nil},
		{`actor != null`, nil},
		{`event == "a" ? true : false`, nil},
	} {
		env, err := newEnv(nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := compile(env, tc.expr, true)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		var got []string
		if p.events != nil {
			got = []string{}
			for n := range p.events {
				got = append(got, n)
			}
		}
		if diff := cmp.Diff(tc.want, got, cmpSorted); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", tc.expr, diff)
		}
	}
}

var cmpSorted = cmpopts.SortSlices(func(a, b string) bool { return a < b })

func TestFieldPath(t *testing.T) {
	for expr, want := range map[string][]string{
		"actor":                         {"actor"},
		"verified_submitter.user_id":    {"verified_submitter", "user_id"},
		"path.sid":                      {"path", "sid"},
		"has(path.sid)":                 nil,
		"user + device":                 nil,
		`verified_submitter["user_id"]`: nil,
	} {
		env, err := newEnv(nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := compile(env, expr, false)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		if diff := cmp.Diff(want, p.path); diff != "" {
			t.Errorf("%s: (-want +got):\n%s", expr, diff)
		}
	}
}

func TestCheckpointPause(t *testing.T) {
	for _, tc := range []struct{ every, took, want time.Duration }{
		{time.Second, 10 * time.Millisecond, time.Second},
		{time.Second, 200 * time.Millisecond, time.Second},
		{time.Second, 300 * time.Millisecond, 1500 * time.Millisecond},
		{2 * time.Second, time.Second, 5 * time.Second},
	} {
		if got := checkpointPause(tc.every, tc.took); got != tc.want {
			t.Errorf("checkpointPause(%s, %s) = %s, want %s", tc.every, tc.took, got, tc.want)
		}
	}
}

// TestPrune_SameAlerts checks that pruning the state, after every event
// or never, changes no alert of a golden case with every rule on: what
// a prune drops could no longer count.
func TestPrune_SameAlerts(t *testing.T) {
	for i, evs := range goldenCases(t) {
		want := alertsPruned(t, evs, true, true, false)
		if got := alertsPruned(t, evs, true, true, true); got != want {
			t.Errorf("case %d: pruned after every event: alerts differ (-never pruned +pruned):\n%s", i, cmp.Diff(want, got))
		}
	}
}
