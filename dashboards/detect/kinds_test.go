package detect

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/schema"
)

// run feeds raw events to an engine of rules with the golden
// organization and returns the rule names of the alerts, in order.
func run(t *testing.T, rules []Rule, raw ...string) []string {
	t.Helper()
	eng, err := newEngine(rules, defaultLate, goldenDomains(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range raw {
		e, err := schema.Normalize([]byte(r), schema.Meta{Trusted: true})
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		for _, a := range eng.Event(e) {
			got = append(got, a.Rule+"@"+a.End.Format("15:04"))
		}
	}
	return got
}

func pwChange(at string) string {
	return `{"topic":"USER","event":"user.password.change","timestamp":"2026-11-23T` + at + `:00.000Z","user":"u@example.com"}`
}

func twoFA(on bool, at string) string {
	name := "user.2fa.enable"
	extra := ""
	if !on {
		name, extra = "user.2fa.disable", `,"caller":{"email":"u@example.com"}`
	}
	return `{"topic":"USER","event":"` + name + `","timestamp":"2026-11-23T` + at + `:00.000Z","user":"u@example.com"` + extra + `}`
}

// TestEngine_AbsentStep: a sequence whose last step is absent completes
// only once an event of any kind is timestamped past the deadline with
// no absent event before it.
func TestEngine_AbsentStep(t *testing.T) {
	rule := Rule{Name: "off", Severity: High, GroupBy: []string{"user"}, Window: hours(1),
		Sequence: []Step{{Match: `event == "user.2fa.disable"`}, {Match: `event == "user.2fa.enable"`, Within: minutes(30), Absent: true}}}
	tests := []struct {
		name   string
		events []string
		want   []string
	}{
		{"deadline passed", []string{twoFA(false, "09:00"), pwChange("09:31")}, []string{"off@09:30"}},
		{"deadline not passed", []string{twoFA(false, "09:00"), pwChange("09:29")}, nil},
		{"enabled in time", []string{twoFA(false, "09:00"), twoFA(true, "09:10"), pwChange("10:00")}, nil},
		{"enabled too late", []string{twoFA(false, "09:00"), twoFA(true, "09:40")}, []string{"off@09:30"}},
		{"enabled before", []string{twoFA(true, "08:50"), twoFA(false, "09:00"), pwChange("09:31")}, []string{"off@09:30"}},
		{"out of order enable", []string{twoFA(false, "09:00"), pwChange("09:20"), twoFA(true, "09:10"), pwChange("09:45")}, nil},
		{"once per group", []string{twoFA(false, "09:00"), twoFA(false, "09:05"), pwChange("09:50")}, []string{"off@09:30"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, run(t, []Rule{rule}, tt.events...)); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

func signinAt(day, ip string) string {
	return `{"topic":"USER","event":"user.signin","timestamp":"2026-` + day + `T09:00:00.000Z","user":"u@example.com","authority":"Credential","ip":"` + ip + `"}`
}

// TestEngine_Novel: a value not had in the days before raises, once the
// group has that much history.
func TestEngine_Novel(t *testing.T) {
	rule := Rule{Name: "new", Severity: Medium, Match: `event == "user.signin"`, GroupBy: []string{"user"},
		Novel: &Novel{Value: "network(ip)", Days: 10}}
	tests := []struct {
		name   string
		events []string
		want   []string
	}{
		{"too new", []string{signinAt("11-01", "192.0.2.1"), signinAt("11-05", "198.51.100.1")}, nil},
		{"new network", []string{signinAt("11-01", "192.0.2.1"), signinAt("11-12", "198.51.100.1")}, []string{"new@09:00"}},
		{"same network", []string{signinAt("11-01", "192.0.2.1"), signinAt("11-09", "192.0.2.1"), signinAt("11-12", "192.0.2.77")}, nil},
		{"network unused too long", []string{signinAt("11-01", "192.0.2.1"), signinAt("11-20", "192.0.2.1")}, []string{"new@09:00"}},
		{"not an address", []string{signinAt("11-01", "192.0.2.1"), `{"topic":"USER","event":"user.signin","timestamp":"2026-11-20T09:00:00.000Z","user":"u@example.com","authority":"Credential"}`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, run(t, []Rule{rule}, tt.events...)); diff != "" {
				t.Errorf("alerts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNetwork(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.77", "192.0.2.0/24"},
		{"::ffff:192.0.2.77", "192.0.2.0/24"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"not-an-ip", ""},
	}
	for _, tt := range tests {
		got, _ := network(tt.in)
		if got != tt.want {
			t.Errorf("network(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDomains_External(t *testing.T) {
	d := goldenDomains(t)
	tests := []struct {
		addr, at string
		want     bool
	}{
		{"a@example.com", "2026-11-01T00:00:00Z", false},
		{"a@EXAMPLE.com", "2026-11-01T00:00:00Z", false},
		{"a@corp.example.com", "2026-11-01T00:00:00Z", false},
		{"a@gmail.test", "2026-11-01T00:00:00Z", true},
		{"a@partner.example", "2030-01-01T00:00:00Z", false},
		{"a@vendor.example", "2026-11-30T23:59:59Z", false},
		{"a@vendor.example", "2026-12-01T00:00:00Z", true},
		{":2a3f", "2026-11-01T00:00:00Z", false},
	}
	for _, tt := range tests {
		if got := d.external(tt.addr, tt.at); got != tt.want {
			t.Errorf("external(%q, %s) = %v, want %v", tt.addr, tt.at, got, tt.want)
		}
	}
	var none *domains
	if none.external("a@gmail.test", "2026-11-01T00:00:00Z") {
		t.Error("without org_domains an address is external")
	}
}

func TestValidate_DomainsAndNewKinds(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // "" for valid
	}{
		{"domains", Config{OrgDomains: []string{"example.com"}, Partners: []Partner{{Domain: "p.example", AllowedUntil: "2027-01-31"}}}, ""},
		{"bad domain", Config{OrgDomains: []string{"a@example.com"}}, "org_domains[0]: must be a domain name"},
		{"bad date", Config{Partners: []Partner{{Domain: "p.example", AllowedUntil: "31/01/2027"}}}, "partners[0].allowed_until: must be a date"},
		{"absent first", Config{Rules: []Rule{{Name: "x", Severity: Low, Window: hours(1), Sequence: []Step{{Match: "true", Absent: true}, {Match: "true"}}}}}, "rules[0].sequence[0].absent"},
		{"recap groups", Config{Rules: []Rule{{Name: "x", Severity: Low, Match: "true", GroupBy: []string{"user"}, Recap: &Recap{Trigger: "true"}}}}, "rules[0].recap.trigger_group_by"},
		{"novel value", Config{Rules: []Rule{{Name: "x", Severity: Low, Match: "true", Novel: &Novel{Value: "ip +"}}}}, "rules[0].novel.value: at 1:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Validate() = %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// TestOverride_CountSkipsAbsentStep: count retunes the step before an
// absent last step, which has no count.
func TestOverride_CountSkipsAbsentStep(t *testing.T) {
	two := int64(2)
	cfg := Config{Builtin: map[string]Override{"link-unprotected": {Count: &two}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, r := range cfg.Effective() {
		if r.Name == "link-unprotected" {
			if got := []int64{r.Sequence[0].Count, r.Sequence[1].Count}; !cmp.Equal(got, []int64{2, 0}) {
				t.Errorf("counts %v, want [2 0]", got)
			}
			return
		}
	}
	t.Fatal("link-unprotected is not effective")
}
