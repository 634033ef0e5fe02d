package detect

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/schema"
)

// maxEvidence is how many triggering event ids an alert lists.
const maxEvidence = 100

const day = 24 * time.Hour

// Engine runs rules over events in log order. It is not safe for
// concurrent use; the Detector serializes it.
type Engine struct {
	rules []*compiled
	late  int64 // ms
	st    *State
	norm  *schema.Normalizer
	dec   decoder
	// pruned is the watermark of the last prune (PruneDue).
	pruned int64
}

// NewEngine compiles rules. late is how far behind the newest arrival an
// event may be and still count (see Config.Late).
func NewEngine(rules []Rule, late time.Duration) (*Engine, error) {
	return newEngine(rules, late, nil)
}

// newEngine is NewEngine with the organization's domains, for
// external(...).
func newEngine(rules []Rule, late time.Duration, d *domains) (*Engine, error) {
	env, err := newEnv(d)
	if err != nil {
		return nil, fmt.Errorf("expression environment: %w", err)
	}
	e := &Engine{late: late.Milliseconds(), st: newState(), norm: schema.NewNormalizer(schema.Limits{})}
	for i, r := range rules {
		c, err := compileRule(env, r)
		if err != nil {
			return nil, fmt.Errorf("rule %d (%s): %w", i, r.Name, err)
		}
		e.rules = append(e.rules, c)
	}
	return e, nil
}

// State returns the engine's state; it changes as events are processed.
func (e *Engine) State() *State { return e.st }

// Restore replaces the engine's state, from a checkpoint.
func (e *Engine) Restore(st *State) {
	if st.Offsets == nil {
		st.Offsets = map[int]int64{}
	}
	if st.Rules == nil {
		st.Rules = map[string]*RuleState{}
	}
	e.st = st
}

// Record processes one record of the log; a record the state already
// holds (a redelivery) raises nothing, and so does one that is not a
// valid event (ingest validated it: it cannot be). The log holds events
// in their canonical form, so the envelope is read straight from the
// bytes; a record that does not read so goes through the normalizer.
func (e *Engine) Record(r eventlog.Record) []Alert {
	if last, ok := e.st.Offsets[r.Partition]; ok && r.Offset <= last {
		return nil
	}
	e.st.Offsets[r.Partition] = r.Offset
	if f, m, ok := e.dec.canonical(r.Value); ok {
		return e.process(f, m)
	}
	ev, err := e.norm.Normalize(r.Value, schema.Meta{Trusted: true})
	if err != nil {
		return nil
	}
	return e.Event(ev)
}

// meta is the envelope of the event being processed.
type meta struct {
	id       string
	ts       int64 // its timestamp, ms
	received int64 // when ingest accepted it, ms; 0 when unknown
}

// Event processes one event and returns the alerts it raised. Alerts
// (alert.raised) are not themselves matched.
func (e *Engine) Event(ev *schema.Event) []Alert {
	f, err := e.dec.decode(ev)
	if err != nil {
		return nil
	}
	m := meta{id: ev.ID(), ts: ev.Timestamp().UnixMilli()}
	if !ev.ReceivedAt().IsZero() {
		m.received = ev.ReceivedAt().UnixMilli()
	}
	return e.process(f, m)
}

// process runs every rule that can match over one decoded event.
func (e *Engine) process(f *fields, m meta) []Alert {
	if f.event == "alert.raised" {
		return nil
	}
	ts := m.ts
	arrived := ts
	if m.received != 0 {
		arrived = m.received
	}
	e.st.Watermark = max(e.st.Watermark, arrived)
	e.st.Now = max(e.st.Now, ts)
	in := input{f: f, ts: ts, id: m.id, at: time.UnixMilli(max(arrived, ts)).UTC()}
	var out []Alert
	late := false
	for _, c := range e.rules {
		cutoff := e.st.Watermark - c.span.Milliseconds() - e.late
		switch c.kind {
		case kindSequence:
			for i := range c.steps {
				s := &c.steps[i]
				if !s.match.match(f) {
					continue
				}
				key, vals, ok := groupOf(s.groupBy, f)
				if !ok {
					continue
				}
				if s.OnlyAfter && !e.hasFirst(c, key) {
					continue
				}
				if ts < cutoff {
					late = true
					continue
				}
				if a, ok := e.sequence(c, i, e.group(c, key, vals), in); ok {
					out = append(out, a)
				}
			}
		case kindRecap:
			if c.trigger.match(f) {
				if key, vals, ok := groupOf(c.triggerBy, f); ok {
					if a, ok := e.recapAlert(c, e.group(c, key, vals), in); ok {
						out = append(out, a)
					}
				}
			}
			if !c.match.match(f) {
				continue
			}
			key, vals, ok := groupOf(c.groupBy, f)
			if !ok {
				continue
			}
			if ts < cutoff {
				late = true
				continue
			}
			e.recapAdd(c, e.group(c, key, vals), in)
		default:
			if !c.match.match(f) {
				continue
			}
			key, vals, ok := groupOf(c.groupBy, f)
			if !ok {
				continue
			}
			if ts < cutoff {
				late = true
				continue
			}
			g := e.group(c, key, vals)
			var a Alert
			switch c.kind {
			case kindThreshold:
				a, ok = e.threshold(c, g, in)
			case kindNovel:
				a, ok = e.novel(c, g, in)
			default:
				a, ok = e.baseline(c, g, in)
			}
			if ok {
				out = append(out, a)
			}
		}
	}
	if late {
		e.st.Late++
	}
	return append(out, e.due(in)...)
}

// due checks the groups of absent-step rules whose deadline the clock
// (the newest event timestamp) passed.
func (e *Engine) due(in input) []Alert {
	var out []Alert
	for _, c := range e.rules {
		rs := e.st.Rules[c.Name]
		if c.present == len(c.steps) || rs == nil || rs.NextDue == 0 || rs.NextDue >= e.st.Now {
			continue
		}
		rs.NextDue = 0
		for _, key := range sortedKeys(rs.Groups) {
			g := rs.Groups[key]
			ready := false
			for _, d := range g.Due {
				ready = ready || d < e.st.Now
			}
			if ready {
				if a, ok := e.complete(c, g, in); ok {
					out = append(out, a)
				}
				g.Due = slices.DeleteFunc(g.Due, func(d int64) bool { return d < e.st.Now })
			}
			for _, d := range g.Due {
				if rs.NextDue == 0 || d < rs.NextDue {
					rs.NextDue = d
				}
			}
		}
	}
	return out
}

// input is the event being processed.
type input struct {
	f  *fields
	ts int64 // its timestamp
	id string
	at time.Time // when the engine knew of it: the alert's timestamp
}

// groupOf evaluates the group_by expressions; false when one is null or
// fails.
func groupOf(by []*program, f *fields) (key string, vals []string, ok bool) {
	vals = make([]string, 0, len(by))
	for _, p := range by {
		v, ok := p.text(f)
		if !ok {
			return "", nil, false
		}
		vals = append(vals, v)
	}
	return strings.Join(vals, "\x00"), vals, true
}

func (e *Engine) group(c *compiled, key string, vals []string) *GroupState {
	rs := e.st.Rules[c.Name]
	if rs == nil {
		rs = &RuleState{Groups: map[string]*GroupState{}}
		e.st.Rules[c.Name] = rs
	}
	g := rs.Groups[key]
	if g == nil {
		g = &GroupState{Values: vals, FirstDay: -1}
		rs.Groups[key] = g
	}
	return g
}

// floorDiv is a/b rounded toward minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// add counts the event in bucket b; changed says whether the bucket's
// value moved (a distinct value it held already does not move it).
func add(b *Bucket, c *compiled, in input) (changed, ok bool) {
	changed = true
	if c.distinct != nil {
		v, ok := c.distinct.text(in.f)
		if !ok {
			return false, false
		}
		if b.Distinct == nil {
			b.Distinct = map[string]bool{}
		}
		changed = !b.Distinct[v]
		b.Distinct[v] = true
	}
	if c.sum != nil {
		n, ok := c.sum.number(in.f)
		if !ok {
			return false, false
		}
		b.Sum += n
		changed = n > 0
	}
	b.Count++
	if len(b.Evidence) < maxEvidence && !slices.Contains(b.Evidence, in.id) {
		b.Evidence = append(b.Evidence, in.id)
	}
	return changed, true
}

// threshold counts the event in its hop and raises when one of the
// windows holding it crossed: the earliest such window, unless an alert
// already raised for the group folds it.
func (e *Engine) threshold(c *compiled, g *GroupState, in input) (Alert, bool) {
	hop := c.hop.Milliseconds()
	n := c.window.Milliseconds() / hop
	b := floorDiv(in.ts, hop)
	if g.Buckets == nil {
		g.Buckets = map[int64]*Bucket{}
	}
	bk := g.Buckets[b]
	if bk == nil {
		bk = &Bucket{}
		g.Buckets[b] = bk
	}
	g.Seen = max(g.Seen, in.ts)
	changed, ok := add(bk, c, in)
	if !ok || !changed {
		return Alert{}, false
	}
	for s := b - n + 1; s <= b; s++ {
		// A window an alert covers already needs no count.
		start := s * hop
		if e.folded(c, g, start, c.window+c.suppress) {
			continue
		}
		v := e.windowValue(c, g, s, n)
		if v <= c.Threshold.Count {
			continue
		}
		g.Raised = append(g.Raised, start)
		ids, total := evidence(g.Buckets, s, n)
		a := e.alert(c, g, in, start, start+c.window.Milliseconds(), v, ids, total)
		a.Summary = fmt.Sprintf("%d %s in %s by %s", v, c.unit(), duration(c.window), a.Group)
		return a, true
	}
	return Alert{}, false
}

// windowValue is the value of the window of n hops from hop s.
func (e *Engine) windowValue(c *compiled, g *GroupState, s, n int64) int64 {
	var count, sum, sizes int64
	for h := s; h < s+n; h++ {
		if bk := g.Buckets[h]; bk != nil {
			count += bk.Count
			sum += bk.Sum
			sizes += int64(len(bk.Distinct))
		}
	}
	switch {
	case c.sum != nil:
		return sum
	case c.distinct != nil:
		if sizes <= c.Threshold.Count {
			return sizes // cannot have crossed: no need to merge
		}
		seen := map[string]bool{}
		for h := s; h < s+n; h++ {
			if bk := g.Buckets[h]; bk != nil {
				for v := range bk.Distinct {
					seen[v] = true
				}
			}
		}
		return int64(len(seen))
	}
	return count
}

// evidence lists up to maxEvidence event ids of hops s to s+n-1, and how
// many events they hold.
func evidence(buckets map[int64]*Bucket, s, n int64) ([]string, int64) {
	var ids []string
	var total int64
	for h := s; h < s+n; h++ {
		if bk := buckets[h]; bk != nil {
			total += bk.Count
			for _, id := range bk.Evidence {
				if len(ids) < maxEvidence {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids, total
}

// folded reports whether an alert raised for g, at a window start within
// reach of start, covers it.
func (e *Engine) folded(c *compiled, g *GroupState, start int64, reach time.Duration) bool {
	r := reach.Milliseconds()
	for _, s := range g.Raised {
		if start > s-r && start < s+r {
			return true
		}
	}
	return false
}

// sequence records a mark of step i and raises when the group completed
// every step.
func (e *Engine) sequence(c *compiled, i int, g *GroupState, in input) (Alert, bool) {
	if g.Steps == nil {
		g.Steps = make([][]Mark, len(c.steps))
	}
	g.Seen = max(g.Seen, in.ts)
	m := Mark{At: in.ts, ID: in.id}
	marks := g.Steps[i]
	j, found := slices.BinarySearchFunc(marks, m, func(a, b Mark) int {
		if a.At != b.At {
			return int(max(-1, min(1, a.At-b.At)))
		}
		return strings.Compare(a.ID, b.ID)
	})
	if found {
		return Alert{}, false
	}
	g.Steps[i] = slices.Insert(marks, j, m)
	if c.present < len(c.steps) {
		if i == c.present-1 {
			// The absent step's deadline for this mark: checked once the
			// clock passes it.
			d := in.ts + c.steps[c.present].within.Milliseconds()
			g.Due = append(g.Due, d)
			rs := e.st.Rules[c.Name]
			if rs.NextDue == 0 || d < rs.NextDue {
				rs.NextDue = d
			}
		}
		return Alert{}, false
	}
	return e.complete(c, g, in)
}

// complete raises when the group completed every step: for a rule with
// an absent step, present steps whose deadline passed with no absent
// event in it.
func (e *Engine) complete(c *compiled, g *GroupState, in input) (Alert, bool) {
	var accept func(int64) bool
	if c.present < len(c.steps) {
		within := c.steps[c.present].within.Milliseconds()
		absent := g.Steps[c.present]
		accept = func(t int64) bool {
			if t+within >= e.st.Now {
				return false
			}
			lo, _ := slices.BinarySearchFunc(absent, t+1, func(m Mark, t int64) int { return int(max(-1, min(1, m.At-t))) })
			return lo == len(absent) || absent[lo].At > t+within
		}
	}
	chain, ok := e.chain(c, g, 0, 0, 0, accept)
	if !ok {
		return Alert{}, false
	}
	hop := c.hop.Milliseconds()
	start := floorDiv(chain[0].At, hop) * hop
	if e.folded(c, g, start, c.span+c.suppress) {
		return Alert{}, false
	}
	g.Raised = append(g.Raised, start)
	last := c.steps[c.present-1]
	count := int64(last.Count + 1)
	ids := make([]string, 0, min(len(chain), maxEvidence))
	for _, m := range chain {
		if len(ids) < maxEvidence {
			ids = append(ids, m.ID)
		}
	}
	end := chain[len(chain)-1].At
	if c.present < len(c.steps) {
		last = c.steps[c.present]
		end += last.within.Milliseconds()
	}
	a := e.alert(c, g, in, start, end, count, ids, int64(len(chain)))
	what := c.Description
	if what == "" {
		what = c.Name
	}
	a.Summary = fmt.Sprintf("%s: %d %s within %s, for %s", what, count, c.unit(), duration(last.within), a.Group)
	return a, true
}

// chain finds marks that complete steps i and after, step i's first mark
// at or after from (and, for i > 0, its last by deadline). The first step
// needs its marks within the rule's window. accept, if not nil, must hold
// for the time the last present step completed.
func (e *Engine) chain(c *compiled, g *GroupState, i int, from, deadline int64, accept func(int64) bool) ([]Mark, bool) {
	s := c.steps[i]
	marks := g.Steps[i]
	need := int(s.Count) + 1
	lo, _ := slices.BinarySearchFunc(marks, from, func(m Mark, t int64) int { return int(max(-1, min(1, m.At-t))) })
	if i > 0 {
		// The earliest completion leaves the later steps the most room
		// only when they start with it; try each.
		for end := lo + need - 1; end < len(marks) && marks[end].At <= deadline; end++ {
			run := marks[end-need+1 : end+1]
			if i == c.present-1 {
				if accept == nil || accept(marks[end].At) {
					return slices.Clone(run), true
				}
				continue
			}
			if rest, ok := e.chain(c, g, i+1, marks[end].At, marks[end].At+c.steps[i+1].within.Milliseconds(), accept); ok {
				return append(slices.Clone(run), rest...), true
			}
		}
		return nil, false
	}
	w := c.window.Milliseconds()
	for end := need - 1; end < len(marks); end++ {
		run := marks[end-need+1 : end+1]
		if run[len(run)-1].At-run[0].At > w {
			continue
		}
		t := marks[end].At
		if c.present == 1 {
			if accept == nil || accept(t) {
				return slices.Clone(run), true
			}
			continue
		}
		if rest, ok := e.chain(c, g, 1, t, t+c.steps[1].within.Milliseconds(), accept); ok {
			return append(slices.Clone(run), rest...), true
		}
	}
	return nil, false
}

// baseline counts the event in its UTC day and raises when the day's
// value is over the floor and over factor times the group's daily
// average of the days before.
func (e *Engine) baseline(c *compiled, g *GroupState, in input) (Alert, bool) {
	const dayMS = int64(day / time.Millisecond)
	d := floorDiv(in.ts, dayMS)
	if g.Days == nil {
		g.Days = map[int64]*Bucket{}
	}
	if g.FirstDay < 0 || d < g.FirstDay {
		g.FirstDay = d
	}
	g.Seen = max(g.Seen, in.ts)
	bk := g.Days[d]
	if bk == nil {
		bk = &Bucket{}
		g.Days[d] = bk
	}
	changed, ok := add(bk, c, in)
	if !ok || !changed {
		return Alert{}, false
	}
	b := c.Baseline
	v := dayValue(c, bk)
	history := d - g.FirstDay
	if history < int64(b.MinDays) || v <= b.Floor {
		return Alert{}, false
	}
	days := min(int64(b.Days), history)
	var sum int64
	for x := d - days; x < d; x++ {
		if o := g.Days[x]; o != nil {
			sum += dayValue(c, o)
		}
	}
	avg := float64(sum) / float64(days)
	if float64(v) <= b.Factor*avg {
		return Alert{}, false
	}
	start := d * dayMS
	if slices.Contains(g.Raised, start) {
		return Alert{}, false
	}
	g.Raised = append(g.Raised, start)
	ids := slices.Clone(bk.Evidence)
	a := e.alert(c, g, in, start, start+dayMS, v, ids, bk.Count)
	a.Baseline = fmt.Sprintf("%.1f", avg)
	date := time.UnixMilli(start).UTC().Format(time.DateOnly)
	if avg == 0 {
		a.Summary = fmt.Sprintf("%d %s on %s by %s, with none in the %d days before", v, c.unit(), date, a.Group, days)
	} else {
		a.Summary = fmt.Sprintf("%d %s on %s by %s, %.0fx the daily average of %.1f over %d days", v, c.unit(), date, a.Group, float64(v)/avg, avg, days)
	}
	return a, true
}

// novel records the event's value for the group and raises when the
// group has Days of history and had not had the value in the Days before.
// The alert's window is the event's own instant, so each new value is its
// own alert; suppress holds back the next for that long.
func (e *Engine) novel(c *compiled, g *GroupState, in input) (Alert, bool) {
	v, ok := c.novel.text(in.f)
	if !ok {
		return Alert{}, false
	}
	if g.Novel == nil {
		g.Novel = map[string]int64{}
		g.First = in.ts
	}
	g.First = min(g.First, in.ts)
	g.Seen = max(g.Seen, in.ts)
	last, had := g.Novel[v]
	g.Novel[v] = max(last, in.ts)
	if !had {
		last = math.MinInt64
	}
	days := time.Duration(c.Novel.Days) * day
	history := in.ts - g.First
	if history < (time.Duration(c.Novel.MinDays) * day).Milliseconds() {
		return Alert{}, false
	}
	if had && (last >= in.ts || in.ts-last <= days.Milliseconds()) {
		return Alert{}, false
	}
	if e.folded(c, g, in.ts, c.suppress) || slices.Contains(g.Raised, in.ts) {
		return Alert{}, false
	}
	g.Raised = append(g.Raised, in.ts)
	a := e.alert(c, g, in, in.ts, in.ts, 1, []string{in.id}, 1)
	what := c.Description
	if what == "" {
		what = c.Name
	}
	a.Summary = fmt.Sprintf("%s: %s by %s, not seen in the %d days before", what, cut(v), a.Group, c.Novel.Days)
	return a, true
}

// hasFirst reports whether the group of key has marks of the sequence's
// first step.
func (e *Engine) hasFirst(c *compiled, key string) bool {
	rs := e.st.Rules[c.Name]
	if rs == nil {
		return false
	}
	g := rs.Groups[key]
	return g != nil && len(g.Steps) > 0 && len(g.Steps[0]) > 0
}

// recapAdd counts a recap's event in its UTC day, by event name.
func (e *Engine) recapAdd(c *compiled, g *GroupState, in input) {
	const dayMS = int64(day / time.Millisecond)
	d := floorDiv(in.ts, dayMS)
	if g.Days == nil {
		g.Days = map[int64]*Bucket{}
	}
	g.Seen = max(g.Seen, in.ts)
	bk := g.Days[d]
	if bk == nil {
		bk = &Bucket{Events: map[string]int64{}}
		g.Days[d] = bk
	}
	name := in.f.event
	bk.Events[name]++
	add(bk, c, in)
}

// recapAlert raises, at the trigger, one alert summarising the group's
// events of the Days before it.
func (e *Engine) recapAlert(c *compiled, g *GroupState, in input) (Alert, bool) {
	const dayMS = int64(day / time.Millisecond)
	from := in.ts - c.window.Milliseconds()
	if slices.Contains(g.Raised, in.ts) {
		return Alert{}, false
	}
	counts := map[string]int64{}
	var total int64
	var ids []string
	for _, d := range sortedDays(g.Days) {
		if (d+1)*dayMS <= from || d*dayMS > in.ts {
			continue
		}
		bk := g.Days[d]
		for name, n := range bk.Events {
			counts[name] += n
			total += n
		}
		for _, id := range bk.Evidence {
			if len(ids) < maxEvidence {
				ids = append(ids, id)
			}
		}
	}
	if total == 0 {
		return Alert{}, false
	}
	g.Raised = append(g.Raised, in.ts)
	a := e.alert(c, g, in, from, in.ts, total, ids, total)
	var parts []string
	for _, name := range sortedKeys(counts) {
		parts = append(parts, fmt.Sprintf("%d %s", counts[name], name))
	}
	what := c.Description
	if what == "" {
		what = c.Name
	}
	a.Summary = fmt.Sprintf("%s: %s in the %d days before, by %s", what, strings.Join(parts, ", "), c.Recap.Days, a.Group)
	return a, true
}

func sortedDays(m map[int64]*Bucket) []int64 {
	out := make([]int64, 0, len(m))
	for d := range m {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// dayValue is a day's metric: its events, or its distinct values (the
// count once the day's set was dropped, see prune).
func dayValue(c *compiled, b *Bucket) int64 {
	if c.distinct != nil && b.Distinct != nil {
		return int64(len(b.Distinct))
	}
	return b.Count
}

// Prune drops what no event inside the late horizon can still change.
func (e *Engine) Prune() {
	e.pruned = e.st.Watermark
	const dayMS = int64(day / time.Millisecond)
	for _, c := range e.rules {
		rs := e.st.Rules[c.Name]
		if rs == nil {
			continue
		}
		cutoff := e.st.Watermark - c.span.Milliseconds() - e.late
		reach := (c.span + c.suppress).Milliseconds()
		hop := c.hop.Milliseconds()
		for key, g := range rs.Groups {
			for b := range g.Buckets {
				if (b+1)*hop < cutoff-c.window.Milliseconds() {
					delete(g.Buckets, b)
				}
			}
			for d, bk := range g.Days {
				switch {
				case (d+1)*dayMS < cutoff:
					delete(g.Days, d)
				case (d+1)*dayMS < e.st.Watermark-e.late && bk.Distinct != nil:
					// No event can reach the day any more: keep its value.
					bk.Count, bk.Distinct, bk.Evidence = int64(len(bk.Distinct)), nil, nil
				}
			}
			for v, at := range g.Novel {
				if at < cutoff {
					delete(g.Novel, v)
				}
			}
			for i, marks := range g.Steps {
				g.Steps[i] = slices.DeleteFunc(marks, func(m Mark) bool { return m.At < cutoff })
			}
			g.Due = slices.DeleteFunc(g.Due, func(d int64) bool { return d < cutoff })
			g.Raised = slices.DeleteFunc(g.Raised, func(s int64) bool { return s < cutoff-reach })
			if g.Seen < cutoff-reach && len(g.Buckets) == 0 && len(g.Days) == 0 && len(g.Novel) == 0 {
				delete(rs.Groups, key)
			}
		}
	}
}

// pruneEvery is how far the watermark moves between two prunes of
// PruneDue: a prune walks the whole state, and what it drops could no
// longer count anyway, so when it runs changes no alert.
const pruneEvery = 30 * time.Second

// PruneDue prunes the state when the watermark moved pruneEvery since
// the last prune.
func (e *Engine) PruneDue() {
	if e.st.Watermark-e.pruned >= pruneEvery.Milliseconds() {
		e.Prune()
	}
}

// unit is what the rule counts, for summaries.
func (c *compiled) unit() string {
	u := c.Unit
	if u == "" {
		u = "events"
	}
	if c.distinct != nil && c.kind == kindThreshold {
		return "distinct " + u
	}
	return u
}

// duration writes d briefly: 1h, 10m, 24h, 90s.
func duration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}
