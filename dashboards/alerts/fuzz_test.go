package alerts

import (
	"net/url"
	"testing"
	"time"
)

// FuzzParseFilter: any query either parses into a filter whose limit is
// within bounds and whose state is known, or is a parameter error.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "state=open&limit=10", "since=24h&until=2026-11-23T10:00:00Z", "state=bogus", "limit=0",
		"limit=1001", "since=-1h", "cursor=01M83XJ880G988VDCE1F5VZJF0&rule=mass-download&user=a%40b.c"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		fl, err := ParseFilter(q, now)
		if err != nil {
			return
		}
		if fl.Limit < 0 || fl.Limit > MaxLimit {
			t.Errorf("ParseFilter(%q) limit %d", raw, fl.Limit)
		}
		if fl.State != "" && fl.State != Open && from[fl.State] == nil {
			t.Errorf("ParseFilter(%q) state %q", raw, fl.State)
		}
	})
}
