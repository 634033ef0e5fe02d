package detect

import (
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/zeebo/xxh3"

	"github.com/vigilaudit/vigil/schema"
)

// Alert is one alert a rule raised: the fields of its alert.raised event.
type Alert struct {
	ID       string
	Rule     string
	Severity Severity
	// Group is the grouped values: the value itself for one group_by
	// expression, "expr=value, ..." for several.
	Group string
	// User is the first grouped value that is a user id, if any.
	User          string
	Summary       string
	Count         int64
	Start, End    time.Time
	Evidence      []string
	EvidenceCount int64
	// Baseline is the daily average compared with, for baseline rules.
	Baseline string
	// At is when the engine knew of the crossing: the arrival of the
	// event that made it.
	At time.Time
}

// maxText bounds the group and summary texts of an alert.
const maxText = 1024

// alert fills what every alert has.
func (e *Engine) alert(c *compiled, g *GroupState, in input, start, end, count int64, ids []string, total int64) Alert {
	a := Alert{Rule: c.Name, Severity: c.Severity, Count: count, Evidence: ids, EvidenceCount: total,
		Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC(), At: in.at}
	switch len(g.Values) {
	case 0:
		a.Group = "all"
	case 1:
		a.Group = g.Values[0]
	default:
		parts := make([]string, len(g.Values))
		for i, v := range g.Values {
			parts[i] = c.GroupBy[i] + "=" + v
		}
		a.Group = strings.Join(parts, ", ")
	}
	a.Group = cut(a.Group)
	for _, v := range g.Values {
		if strings.Contains(v, "@") || strings.HasPrefix(v, ":") {
			a.User = v
			break
		}
	}
	a.ID = AlertID(c.Name, strings.Join(g.Values, "\x00"), start)
	return a
}

// AlertID derives an alert's event_id from its rule, its group's key (the
// grouped values joined by NUL) and the aligned start of its window: a
// ULID whose time is the window start and whose other bits hash the
// three.
func AlertID(rule, group string, start int64) string {
	h := make([]byte, 0, len(rule)+len(group)+10)
	h = append(h, rule...)
	h = append(h, 0)
	h = append(h, group...)
	h = append(h, 0)
	h = binary.BigEndian.AppendUint64(h, uint64(start))
	sum := xxh3.Hash128(h).Bytes()
	var u ulid.ULID
	ms := max(start, 0)
	_ = u.SetTime(uint64(ms)) // window starts are event times, bounded well inside 48 bits
	copy(u[6:], sum[:10])
	return u.String()
}

// cut bounds s to maxText bytes, on a rune boundary.
func cut(s string) string {
	if len(s) <= maxText {
		return s
	}
	i := maxText
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i]
}

// Event returns the alert as its alert.raised event.
func (a Alert) Event() (*schema.Event, error) {
	f := schema.Fields{
		"event_id": a.ID, "rule": a.Rule, "severity": string(a.Severity), "group": a.Group,
		"summary": cut(a.Summary), "count": a.Count, "window_start": a.Start, "window_end": a.End,
		"evidence": strings.Join(a.Evidence, " "), "evidence_count": a.EvidenceCount,
	}
	if a.Baseline != "" {
		f["baseline"] = a.Baseline
	}
	if a.User != "" {
		f["user"] = a.User
	}
	e, err := schema.New("alert.raised", a.At, f)
	if err != nil && a.User != "" {
		// A grouped value that looked like a user id and is not one.
		delete(f, "user")
		e, err = schema.New("alert.raised", a.At, f)
	}
	if err != nil {
		return nil, fmt.Errorf("build alert %s of rule %s: %w", a.ID, a.Rule, err)
	}
	return e, nil
}
