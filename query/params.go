package query

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/schema"
)

// ParamError is a query parameter that cannot be read; the API answers
// 400 naming it.
type ParamError struct {
	Param, Reason string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Reason }

// HTTPError answers 400 invalid_request.
func (e *ParamError) HTTPError() *httpapi.Error {
	return (&httpapi.ParamError{Param: e.Param, Reason: e.Reason}).HTTPError()
}

// Request is a parsed query of the API.
type Request struct {
	Page
	// LimitSet says whether limit was given: ndjson and csv stream every
	// match unless it was.
	LimitSet bool
	// Format is json, ndjson or csv ("" when neither format= nor Accept
	// chose one).
	Format string
	// Bucket, By and Top are the stats parameters.
	Bucket time.Duration
	By     string
	Top    int
}

// Limits of the API.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

var formats = []string{"json", "ndjson", "csv"}

// ParseRequest reads the query parameters of the events, stats and stream
// routes. Relative times (24h, 7d, 30m) count back from now. Topics and
// events may be repeated or comma-separated. Unknown parameters are
// ignored (cache busters).
func ParseRequest(q url.Values, now time.Time) (Request, error) {
	var r Request
	var err error
	if r.Since, r.SinceAgo, err = parseTime(q, "since", now); err != nil {
		return r, err
	}
	if r.Until, r.UntilAgo, err = parseTime(q, "until", now); err != nil {
		return r, err
	}
	for _, t := range list(q, "topic") {
		topic := schema.Topic(strings.ToUpper(t))
		if topic == "ORGANIZATION" {
			topic = schema.TopicOrg
		}
		if !knownTopic(topic) {
			return r, &ParamError{"topic", fmt.Sprintf("unknown topic %q", t)}
		}
		r.Topics = append(r.Topics, topic)
	}
	for _, e := range list(q, "event") {
		if _, ok := schema.Lookup(e); !ok {
			return r, &ParamError{"event", fmt.Sprintf("unknown event %q", e)}
		}
		r.Events = append(r.Events, e)
	}
	r.User = strings.ToLower(strings.TrimSpace(q.Get("user")))
	r.Device = strings.ToLower(strings.TrimSpace(q.Get("device")))
	r.SOID = strings.ToLower(strings.TrimSpace(q.Get("soid")))
	r.Folder = strings.ToLower(strings.TrimSpace(q.Get("folder")))
	r.Path = q.Get("path")
	r.IP = strings.TrimSpace(q.Get("ip"))
	r.Key = strings.TrimSpace(q.Get("key"))

	switch o := strings.ToLower(q.Get("order")); o {
	case "", "desc":
		r.Order = Desc
	case "asc":
		r.Order = Asc
	default:
		return r, &ParamError{"order", "must be asc or desc"}
	}
	pg, err := httpapi.Paging{Default: DefaultLimit, Max: MaxLimit}.Parse(q)
	var pe *httpapi.ParamError
	if errors.As(err, &pe) {
		return r, &ParamError{pe.Param, pe.Reason}
	}
	r.Limit, r.LimitSet, r.Cursor = pg.Limit, pg.LimitSet, pg.Cursor
	if f := strings.ToLower(q.Get("format")); f != "" {
		if !contains(formats, f) {
			return r, &ParamError{"format", "must be json, ndjson or csv"}
		}
		r.Format = f
	}
	if v := q.Get("bucket"); v != "" {
		d, err := parseDuration(v)
		if err != nil || d < time.Minute {
			return r, &ParamError{"bucket", "must be a duration of a minute or more, like 1h or 1d"}
		}
		r.Bucket = d
	}
	if v := q.Get("by"); v != "" {
		if !contains(rankable, v) {
			return r, &ParamError{"by", "must be one of " + strings.Join(rankable, ", ")}
		}
		r.By = v
	}
	r.Top = 10
	if v := q.Get("top"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return r, &ParamError{"top", "must be 1 to 1000"}
		}
		r.Top = n
	}
	if err := r.Filter.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

func list(q url.Values, name string) []string {
	var out []string
	for _, v := range q[name] {
		for part := range strings.SplitSeq(v, ",") {
			if part = strings.TrimSpace(part); part != "" {
				out = append(out, part)
			}
		}
	}
	return out
}

func knownTopic(t schema.Topic) bool {
	for _, k := range schema.Topics() {
		if k == t {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, l := range list {
		if l == s {
			return true
		}
	}
	return false
}

// parseTime reads an RFC 3339 time, or a duration before now (24h, 7d),
// which it also returns.
func parseTime(q url.Values, name string, now time.Time) (time.Time, time.Duration, error) {
	v := strings.TrimSpace(q.Get(name))
	if v == "" {
		return time.Time{}, 0, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), 0, nil
	}
	d, err := parseDuration(v)
	if err != nil || d <= 0 {
		return time.Time{}, 0, &ParamError{name, "must be an RFC 3339 time or a duration before now, like 24h or 7d"}
	}
	return now.Add(-d).UTC(), d, nil
}

// parseDuration reads a Go duration, with d for days and w for weeks.
func parseDuration(s string) (time.Duration, error) {
	for _, unit := range []struct {
		suffix string
		d      time.Duration
	}{{"d", 24 * time.Hour}, {"w", 7 * 24 * time.Hour}} {
		if n, ok := strings.CutSuffix(s, unit.suffix); ok {
			f, err := strconv.ParseFloat(n, 64)
			if err != nil || f <= 0 || f > 1e5 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(f * float64(unit.d)), nil
		}
	}
	return time.ParseDuration(s)
}
