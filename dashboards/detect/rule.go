package detect

import (
	"fmt"
	"time"

	"github.com/google/cel-go/cel"

	"github.com/vigilaudit/vigil/internal/config"
)

// kind is what a rule fires on.
type kind int

const (
	kindThreshold kind = iota
	kindSequence
	kindBaseline
	kindNovel
	kindRecap
)

// compiled is a rule with its expressions compiled, ready to run.
type compiled struct {
	Rule
	kind      kind
	match     *program
	groupBy   []*program
	distinct  *program // threshold or baseline distinct
	sum       *program
	novel     *program
	trigger   *program
	triggerBy []*program
	steps     []compiledStep
	// present is how many steps must match: all, less an absent last one.
	present  int
	window   time.Duration
	hop      time.Duration
	suppress time.Duration
	// span is how far back in event time the rule looks.
	span time.Duration
}

type compiledStep struct {
	Step
	match   *program
	groupBy []*program
	within  time.Duration
}

// compileRule checks r and compiles its expressions; problems are at key
// paths relative to the rule.
func compileRule(env *cel.Env, r Rule) (*compiled, error) {
	var p config.Problems
	c := &compiled{Rule: r, window: time.Duration(r.Window), suppress: time.Duration(r.Suppress)}
	if !ruleName.MatchString(r.Name) {
		p.Add("name", "must be 1 to 64 lower-case letters, digits, '.', '_' or '-', got %q", r.Name)
	}
	if !validSeverity(r.Severity) {
		p.Add("severity", "must be low, medium, high or critical, got %q", r.Severity)
	}
	cond := func(path, src string) *program {
		prg, err := compile(env, src, true)
		if err != nil {
			p.Add(path, "%v", err)
		}
		return prg
	}
	value := func(path, src string) *program {
		prg, err := compile(env, src, false)
		if err != nil {
			p.Add(path, "%v", err)
		}
		return prg
	}
	values := func(path string, srcs []string) []*program {
		var out []*program
		for i, src := range srcs {
			out = append(out, value(fmt.Sprintf("%s[%d]", path, i), src))
		}
		return out
	}
	c.groupBy = values("group_by", r.GroupBy)
	p.NotNegative("window", int64(r.Window))
	p.NotNegative("suppress", int64(r.Suppress))

	kinds := 0
	if r.Threshold != nil {
		kinds++
		c.kind = kindThreshold
		c.match = cond("match", r.Match)
		t := r.Threshold
		p.NotNegative("threshold.count", t.Count)
		switch {
		case t.Distinct != "" && t.Sum != "":
			p.Add("threshold", "distinct and sum exclude each other")
		case t.Distinct != "":
			c.distinct = value("threshold.distinct", t.Distinct)
		case t.Sum != "":
			c.sum = value("threshold.sum", t.Sum)
		}
		if r.Window <= 0 {
			p.Add("window", "a threshold needs a window")
		}
		c.span = c.window
	}
	if len(r.Sequence) > 0 {
		kinds++
		c.kind = kindSequence
		if r.Match != "" {
			p.Add("match", "a sequence matches in its steps")
		}
		if len(r.Sequence) < 2 {
			p.Add("sequence", "needs at least two steps")
		}
		if r.Window <= 0 {
			p.Add("window", "a sequence needs a window for its first step")
		}
		c.span = c.window
		for i, s := range r.Sequence {
			path := fmt.Sprintf("sequence[%d]", i)
			cs := compiledStep{Step: s, match: cond(path+".match", s.Match), within: time.Duration(s.Within)}
			if len(s.GroupBy) > 0 {
				cs.groupBy = values(path+".group_by", s.GroupBy)
				if len(s.GroupBy) != len(r.GroupBy) {
					p.Add(path+".group_by", "needs as many entries as the rule's group_by (%d)", len(r.GroupBy))
				}
			} else {
				cs.groupBy = c.groupBy
			}
			p.NotNegative(path+".count", s.Count)
			if s.Absent && (i == 0 || i != len(r.Sequence)-1) {
				p.Add(path+".absent", "only the last step, not the first, may be absent")
			}
			if s.Absent && s.Count != 0 {
				p.Add(path+".count", "an absent step has no count")
			}
			p.NotNegative(path+".within", int64(s.Within))
			if i == 0 {
				cs.within = c.window
			} else if cs.within <= 0 {
				cs.within = c.window
			}
			if i > 0 {
				c.span += cs.within
			}
			c.steps = append(c.steps, cs)
		}
		c.present = len(c.steps)
		if len(c.steps) > 1 && c.steps[len(c.steps)-1].Absent {
			c.present--
		}
	}
	if r.Baseline != nil {
		kinds++
		c.kind = kindBaseline
		c.match = cond("match", r.Match)
		b := r.Baseline
		switch b.Metric {
		case "", "count":
			if b.Distinct != "" {
				p.Add("baseline.distinct", "only with metric: distinct")
			}
		case "distinct":
			c.distinct = value("baseline.distinct", b.Distinct)
		default:
			p.Add("baseline.metric", "must be count or distinct, got %q", b.Metric)
		}
		if b.Days < 0 || b.MinDays < 0 {
			p.Add("baseline", "days and min_days must not be negative")
		}
		if b.Factor < 0 {
			p.Add("baseline.factor", "must not be negative")
		}
		p.NotNegative("baseline.floor", b.Floor)
		if b.Days == 0 {
			b2 := *b
			b2.Days = defaultDays
			c.Baseline = &b2
		}
		if c.Baseline.MinDays == 0 {
			b2 := *c.Baseline
			b2.MinDays = min(defaultMinDays, b2.Days)
			c.Baseline = &b2
		}
		c.window = 24 * time.Hour
		c.span = time.Duration(c.Baseline.Days+1) * 24 * time.Hour
	}
	if r.Novel != nil {
		kinds++
		c.kind = kindNovel
		c.match = cond("match", r.Match)
		c.novel = value("novel.value", r.Novel.Value)
		n := *r.Novel
		if n.Days < 0 || n.MinDays < 0 {
			p.Add("novel", "days and min_days must not be negative")
		}
		if n.Days == 0 {
			n.Days = defaultDays
		}
		if n.MinDays == 0 {
			n.MinDays = n.Days
		}
		c.Novel = &n
		c.window = time.Duration(n.Days) * day
		c.span = c.window
	}
	if r.Recap != nil {
		kinds++
		c.kind = kindRecap
		c.match = cond("match", r.Match)
		c.trigger = cond("recap.trigger", r.Recap.Trigger)
		c.triggerBy = values("recap.trigger_group_by", r.Recap.TriggerGroupBy)
		if len(r.Recap.TriggerGroupBy) != len(r.GroupBy) {
			p.Add("recap.trigger_group_by", "needs as many entries as the rule's group_by (%d)", len(r.GroupBy))
		}
		rc := *r.Recap
		if rc.Days < 0 {
			p.Add("recap.days", "must not be negative")
		}
		if rc.Days == 0 {
			rc.Days = defaultDays
		}
		c.Recap = &rc
		c.window = time.Duration(rc.Days) * day
		c.span = c.window + day
	}
	if kinds != 1 {
		p.Add("", "needs exactly one of threshold, sequence, baseline, novel and recap, has %d", kinds)
	}
	c.hop = c.window / 4
	if c.kind == kindBaseline || c.kind == kindNovel || c.kind == kindRecap {
		c.hop = c.window
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	if c.hop < time.Millisecond {
		return nil, fmt.Errorf("window: must be at least 4ms")
	}
	return c, nil
}

func validSeverity(s Severity) bool {
	for _, v := range severities {
		if s == v {
			return true
		}
	}
	return false
}
