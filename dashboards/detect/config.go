package detect

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
)

// Group is the consumer group the engine reads the event log as.
const Group = "detect"

// Severity is how urgent an alert is.
type Severity string

// The severities, least urgent first.
const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

var severities = []Severity{Low, Medium, High, Critical}

// Config is the detect section: the rules, the built-in ones on by
// default, and the engine's consume loop. Zero values are the defaults.
type Config struct {
	// Disabled turns the engine off: no rule runs, no alert is raised.
	Disabled bool `yaml:"disabled"`
	// Builtin turns built-in rules off or retunes them, by rule name.
	Builtin map[string]Override `yaml:"builtin"`
	// Rules are the site's own rules, after the built-in ones. A rule
	// named as a built-in one replaces it.
	Rules []Rule `yaml:"rules"`
	// Late is how far behind the newest arrival an event's timestamp may
	// be and still count (default 72h, beyond the rule's window): older
	// events are skipped and counted (vigil_detect_late_events_total).
	Late config.Duration `yaml:"late"`
	// CheckpointInterval is how often the engine's state is written to
	// the data directory (default 1s); the group's offset moves only
	// past what a checkpoint holds.
	CheckpointInterval config.Duration `yaml:"checkpoint_interval"`
	// OrgDomains are the organization's email domains; an address in
	// none of them (nor a partner's) is external to the external-sharing
	// rules, which without them raise nothing.
	OrgDomains []string `yaml:"org_domains"`
	// Partners are domains outside the organization that sharing with
	// is allowed, each until the end of its allowed_until date if given.
	Partners []Partner `yaml:"partners"`
	// Consumer tunes the detect group's consume loop.
	Consumer eventlog.ConsumerConfig `yaml:"consumer"`
}

// Override retunes a built-in rule; a zero field keeps the built-in
// value.
type Override struct {
	// Enabled false turns the rule off.
	Enabled  *bool           `yaml:"enabled"`
	Severity Severity        `yaml:"severity"`
	Window   config.Duration `yaml:"window"`
	Suppress config.Duration `yaml:"suppress"`
	// Count is the threshold's count, or the last sequence step's (the
	// one before an absent last step).
	Count *int64 `yaml:"count"`
	// Days, Factor and Floor retune a baseline; Days also a novel or
	// recap rule.
	Days   int     `yaml:"days"`
	Factor float64 `yaml:"factor"`
	Floor  *int64  `yaml:"floor"`
}

// Rule is one detection. Exactly one of Threshold, Sequence, Baseline,
// Novel and Recap is set.
type Rule struct {
	Name        string   `yaml:"name"`
	Description string   `yaml:"description"`
	Severity    Severity `yaml:"severity"`
	// Match is a CEL condition over the event's wire fields.
	Match string `yaml:"match"`
	// GroupBy are CEL expressions whose values group events (for example
	// verified_submitter.user_id); an event whose value is null is not
	// grouped. No entries is one group.
	GroupBy []string `yaml:"group_by"`
	// Window is the threshold's window length (hopping, a new one every
	// quarter of it) and the time a sequence's first step has.
	Window config.Duration `yaml:"window"`
	// Unit names what the rule counts in its summary ("files").
	Unit      string     `yaml:"unit"`
	Threshold *Threshold `yaml:"threshold"`
	Sequence  []Step     `yaml:"sequence"`
	Baseline  *Baseline  `yaml:"baseline"`
	Novel     *Novel     `yaml:"novel"`
	Recap     *Recap     `yaml:"recap"`
	// Suppress is how long after an alert's window the rule raises no
	// other alert for the same group; overlapping windows always fold
	// into the first alert.
	Suppress config.Duration `yaml:"suppress"`
}

// Threshold fires when the window's value is more than Count: the number
// of matching events, of Distinct values, or the Sum of a number.
type Threshold struct {
	Count    int64  `yaml:"count"`
	Distinct string `yaml:"distinct"`
	Sum      string `yaml:"sum"`
}

// Step is one step of a sequence: more than Count events (default 0: at
// least one) matching Match, within Within after the previous step
// completed (the rule's window for the first step). An Absent step, only
// the last, is the opposite: the sequence completes when no event matches
// it within Within after the previous step; the engine knows that once an
// event of any kind is timestamped after the deadline.
type Step struct {
	Match  string `yaml:"match"`
	Absent bool   `yaml:"absent"`
	// OnlyAfter records the step's events only for a group that has
	// marks of the first step already: for a step that matches most
	// events (actor != null), so the engine does not keep them all. An
	// event logged before the first step's is then not counted.
	OnlyAfter bool            `yaml:"only_after"`
	GroupBy   []string        `yaml:"group_by"`
	Count     int64           `yaml:"count"`
	Within    config.Duration `yaml:"within"`
}

// Baseline fires when the group's value of a UTC day is more than Factor
// times its daily average of the Days before and more than Floor; a
// group with less than MinDays of history has no baseline yet.
type Baseline struct {
	// Metric is count (matching events, the default) or distinct (of
	// Distinct's values).
	Metric   string  `yaml:"metric"`
	Distinct string  `yaml:"distinct"`
	Days     int     `yaml:"days"`
	Factor   float64 `yaml:"factor"`
	Floor    int64   `yaml:"floor"`
	MinDays  int     `yaml:"min_days"`
}

// Novel fires when the group's Value (for example network(ip)) is one it
// has not had in the Days before; a group first seen less than MinDays
// (default Days) ago has no history yet and raises nothing.
type Novel struct {
	Value   string `yaml:"value"`
	Days    int    `yaml:"days"`
	MinDays int    `yaml:"min_days"`
}

// Recap keeps the events matching the rule's match for Days, by group,
// and when an event matches Trigger raises one alert summarising the
// group's events of the Days before it, counted by event name (none:
// no alert). TriggerGroupBy are the trigger's group values, as many as
// the rule's group_by.
type Recap struct {
	Trigger        string   `yaml:"trigger"`
	TriggerGroupBy []string `yaml:"trigger_group_by"`
	Days           int      `yaml:"days"`
}

// Defaults that are not the zero value.
const (
	defaultLate       = 72 * time.Hour
	defaultCheckpoint = time.Second
	defaultDays       = 30
	defaultMinDays    = 14
)

var ruleName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Validate checks the section and compiles every rule's expressions,
// reporting each problem at its key path (rules[3].match) with the
// expression's position.
func (c Config) Validate() error {
	var p config.Problems
	p.NotNegative("late", int64(c.Late))
	p.NotNegative("checkpoint_interval", int64(c.CheckpointInterval))
	p.Nest("consumer", c.Consumer.Validate())
	d, err := newDomains(c.OrgDomains, c.Partners)
	if err != nil {
		p.Nest("", err)
	}
	env, err := newEnv(d)
	if err != nil {
		return fmt.Errorf("expression environment: %w", err)
	}
	for _, name := range sortedKeys(c.Builtin) {
		i := slices.IndexFunc(Builtins(), func(r Rule) bool { return r.Name == name })
		if i < 0 {
			p.Add("builtin."+name, "no built-in rule has this name")
			continue
		}
		_, err := compileRule(env, c.Builtin[name].apply(Builtins()[i]))
		p.Nest("builtin."+name, err)
	}
	seen := map[string]int{}
	for i, r := range c.Rules {
		path := fmt.Sprintf("rules[%d]", i)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			p.Add(path+".name", "%q is also rules[%d]'s name", r.Name, j)
		}
		seen[r.Name] = i
		_, err := compileRule(env, r)
		p.Nest(path, err)
	}
	return p.Err()
}

// Effective returns the rules the engine runs: the built-in ones with
// their overrides (those turned off left out, those a site rule names
// replaced by it), then the site's own rules.
func (c Config) Effective() []Rule {
	if c.Disabled {
		return nil
	}
	own := map[string]bool{}
	for _, r := range c.Rules {
		own[r.Name] = true
	}
	var out []Rule
	for _, r := range Builtins() {
		if own[r.Name] {
			continue
		}
		o := c.Builtin[r.Name]
		if o.Enabled != nil && !*o.Enabled {
			continue
		}
		out = append(out, o.apply(r))
	}
	return append(out, c.Rules...)
}

// apply retunes r.
func (o Override) apply(r Rule) Rule {
	if o.Severity != "" {
		r.Severity = o.Severity
	}
	if o.Window > 0 {
		r.Window = o.Window
	}
	if o.Suppress > 0 {
		r.Suppress = o.Suppress
	}
	if o.Count != nil {
		switch {
		case r.Threshold != nil:
			t := *r.Threshold
			t.Count = *o.Count
			r.Threshold = &t
		case len(r.Sequence) > 0:
			r.Sequence = slices.Clone(r.Sequence)
			last := len(r.Sequence) - 1
			if last > 0 && r.Sequence[last].Absent {
				last-- // an absent step has no count
			}
			r.Sequence[last].Count = *o.Count
		}
	}
	if r.Recap != nil && o.Days > 0 {
		rc := *r.Recap
		rc.Days = o.Days
		r.Recap = &rc
	}
	if r.Novel != nil && o.Days > 0 {
		n := *r.Novel
		n.Days = o.Days
		r.Novel = &n
	}
	if r.Baseline != nil {
		b := *r.Baseline
		if o.Days > 0 {
			b.Days = o.Days
		}
		if o.Factor > 0 {
			b.Factor = o.Factor
		}
		if o.Floor != nil {
			b.Floor = *o.Floor
		}
		r.Baseline = &b
	}
	return r
}

// engine compiles the effective rules with the organization's domains.
func (c Config) engine() (*Engine, error) {
	d, err := newDomains(c.OrgDomains, c.Partners)
	if err != nil {
		return nil, err
	}
	return newEngine(c.Effective(), c.late(), d)
}

func (c Config) late() time.Duration {
	if c.Late > 0 {
		return time.Duration(c.Late)
	}
	return defaultLate
}

func (c Config) checkpointInterval() time.Duration {
	if c.CheckpointInterval > 0 {
		return time.Duration(c.CheckpointInterval)
	}
	return defaultCheckpoint
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
