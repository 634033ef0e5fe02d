package detect

import (
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

// FuzzRules decodes a detect section and validates it: no input panics,
// and a section that validates builds an engine that runs an event.
func FuzzRules(f *testing.F) {
	for _, seed := range []string{
		"rules: [{name: a, severity: low, match: 'event == \"user.signin\"', group_by: [user], window: 5m, threshold: {count: 1}}]",
		"rules: [{name: b, severity: high, group_by: [user], window: 10m, sequence: [{match: 'event == \"user.password.error\"', count: 4}, {match: 'event == \"user.signin\"', within: 10m}]}]",
		"rules: [{name: c, severity: medium, match: 'true', group_by: [actor], baseline: {metric: distinct, distinct: 'soid.oid', days: 7, factor: 2, floor: 3}}]",
		"rules: [{name: d, severity: low, match: 'event ==', window: 1h, threshold: {count: 1}}]",
		"rules: [{name: e, severity: low, match: '1 + ', window: 0s, threshold: {count: -1, distinct: x, sum: y}}]",
		"builtin: {mass-download: {enabled: false}, signin-brute-force: {count: 3, window: 1m}}",
		"builtin: {nope: {enabled: true}}",
		"late: 1h\ncheckpoint_interval: 5s",
	} {
		f.Add(seed)
	}
	ev := fuzzEvent(f)
	f.Fuzz(func(t *testing.T, doc string) {
		var c Config
		if err := config.Decode([]byte(doc), &c); err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			if strings.TrimSpace(err.Error()) == "" {
				t.Fatal("an empty error")
			}
			return
		}
		eng, err := NewEngine(c.Effective(), c.late())
		if err != nil {
			t.Fatalf("validated rules do not build: %v", err)
		}
		for _, a := range eng.Event(ev) {
			if _, err := a.Event(); err != nil {
				t.Fatalf("alert does not build: %v", err)
			}
		}
	})
}

// TestValidate_NamesTheRuleAndPosition checks the key path and position
// of a bad expression.
func TestValidate_NamesTheRuleAndPosition(t *testing.T) {
	tests := []struct {
		name, doc, want string
	}{
		{"syntax", "rules:\n- {name: ok, severity: low, match: 'true', window: 1h, threshold: {count: 1}}\n- {name: x, severity: low, match: 'event == ', window: 1h, threshold: {count: 1}}",
			"rules[1].match: at 1:"},
		{"unknown field", "rules: [{name: x, severity: low, match: 'nosuchfield == 1', window: 1h, threshold: {count: 1}}]",
			"rules[0].match: at 1:1: undeclared reference to 'nosuchfield'"},
		{"not a condition", "rules: [{name: x, severity: low, match: '1 + 2', window: 1h, threshold: {count: 1}}]",
			"rules[0].match: must be a condition"},
		{"group_by", "rules: [{name: x, severity: low, match: 'true', group_by: ['user +'], window: 1h, threshold: {count: 1}}]",
			"rules[0].group_by[0]: at 1:"},
		{"two kinds", "rules: [{name: x, severity: low, match: 'true', window: 1h, threshold: {count: 1}, baseline: {days: 3}}]",
			"rules[0]: needs exactly one of threshold, sequence, baseline, novel and recap"},
		{"severity", "rules: [{name: x, severity: urgent, match: 'true', window: 1h, threshold: {count: 1}}]",
			"rules[0].severity: must be low"},
		{"unknown builtin", "builtin: {mass-downlaod: {enabled: false}}", "builtin.mass-downlaod: no built-in rule"},
		{"bad override", "builtin: {mass-download: {severity: urgent}}", "builtin.mass-download.severity: must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			if err := config.Decode([]byte(tc.doc), &c); err != nil {
				t.Fatal(err)
			}
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestEffective_Overrides checks that a built-in turned off is gone, a
// retuned one changed, and a site rule of the same name replaces it.
func TestEffective_Overrides(t *testing.T) {
	off, three := false, int64(3)
	c := Config{
		Builtin: map[string]Override{"mass-download": {Enabled: &off}, "signin-brute-force": {Count: &three}},
		Rules:   []Rule{{Name: "mass-deletion", Severity: Low, Match: "true", Window: minutes(1), Threshold: &Threshold{Count: 1}}},
	}
	byName := map[string]Rule{}
	for _, r := range c.Effective() {
		byName[r.Name] = r
	}
	if _, ok := byName["mass-download"]; ok {
		t.Error("mass-download is still on")
	}
	if got := byName["signin-brute-force"].Threshold.Count; got != 3 {
		t.Errorf("signin-brute-force count = %d, want 3", got)
	}
	if got := byName["mass-deletion"].Severity; got != Low {
		t.Errorf("mass-deletion severity = %s, want the site rule's low", got)
	}
	if got := Builtins()[0].Threshold.Count; got != 100 {
		t.Errorf("the built-in's default changed to %d", got)
	}
}

func fuzzEvent(f *testing.F) *schema.Event {
	e, err := schema.Normalize([]byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T09:00:00.000Z","user":"alice@example.com","authority":"Credential","ip":"203.0.113.9"}`), schema.Meta{})
	if err != nil {
		f.Fatal(err)
	}
	return e
}
