package query

import (
	"net/netip"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/schema"
)

// Limits of filter values.
const (
	maxUserLen   = 320
	maxPathLen   = 4096
	maxKeyLen    = 256
	maxListLen   = 128
	defaultTop   = 10
	maxTop       = 1000
	maxBucketCnt = 100_000
)

// Validate checks f and puts it in the form stores compare: User,
// Device, SOID and Folder lower-cased, IP in its canonical text, Path
// without leading slashes, Topics and Events sorted without repeats. The
// error names the offending field: "soid: must be 64 hex digits".
func (f *Filter) Validate() error {
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return &ParamError{"until", "must be after since"}
	}
	if len(f.Topics) > maxListLen {
		return &ParamError{"topic", "too many values"}
	}
	known := schema.Topics()
	for i, t := range f.Topics {
		u := schema.Topic(strings.ToUpper(strings.TrimSpace(string(t))))
		if !slices.Contains(known, u) {
			return &ParamError{"topic", "unknown topic " + quoteValue(string(t))}
		}
		f.Topics[i] = u
	}
	f.Topics = sortedSet(f.Topics)
	if len(f.Events) > maxListLen {
		return &ParamError{"event", "too many values"}
	}
	for i, e := range f.Events {
		name := strings.ToLower(strings.TrimSpace(e))
		if _, ok := schema.Lookup(name); !ok {
			return &ParamError{"event", "unknown event " + quoteValue(e)}
		}
		f.Events[i] = name
	}
	f.Events = sortedSet(f.Events)
	if f.User != "" {
		u := strings.ToLower(strings.TrimSpace(f.User))
		if u == "" || len(u) > maxUserLen || !printable(u) {
			return &ParamError{"user", "must be a user id of 1 to 320 printable characters"}
		}
		f.User = u
	}
	var ok bool
	if f.Device, ok = lowerHex(f.Device, 32); !ok {
		return &ParamError{"device", "must be 32 hex digits"}
	}
	if f.SOID, ok = lowerHex(f.SOID, 64); !ok {
		return &ParamError{"soid", "must be 64 hex digits"}
	}
	if f.Folder, ok = lowerHex(f.Folder, 32); !ok {
		return &ParamError{"folder", "must be 32 hex digits"}
	}
	if f.Path != "" {
		if len(f.Path) > maxPathLen || !printable(f.Path) {
			return &ParamError{"path", "must be a path of at most 4096 printable characters"}
		}
		f.Path = strings.TrimLeft(f.Path, "/")
	}
	if f.IP != "" {
		a, err := netip.ParseAddr(strings.TrimSpace(f.IP))
		if err != nil {
			return &ParamError{"ip", "not an IP address"}
		}
		f.IP = a.Unmap().String()
	}
	if f.Key != "" && (len(f.Key) > maxKeyLen || !printable(f.Key)) {
		return &ParamError{"key", "must be a link key of at most 256 printable characters"}
	}
	return nil
}

// Validate checks p's filter and limit; a zero Limit becomes
// DefaultLimit.
func (p *Page) Validate() error {
	if p.Order != Asc && p.Order != Desc {
		return &ParamError{"order", "must be asc or desc"}
	}
	switch {
	case p.Limit == 0:
		p.Limit = DefaultLimit
	case p.Limit < 0 || p.Limit > MaxLimit:
		return &ParamError{"limit", "must be 1 to 1000"}
	}
	return p.Filter.Validate()
}

// Validate checks s; a zero Top becomes 10.
func (s *StatsRequest) Validate() error {
	if s.Bucket < 0 || s.Bucket%time.Millisecond != 0 {
		return &ParamError{"bucket", "must be a positive whole number of milliseconds"}
	}
	if s.Bucket > 0 && !s.Since.IsZero() && !s.Until.IsZero() && s.Until.Sub(s.Since)/s.Bucket > maxBucketCnt {
		return &ParamError{"bucket", "too small for the time range"}
	}
	if s.By != "" && !slices.Contains(rankable, s.By) {
		return &ParamError{"by", "must be one of " + strings.Join(rankable, ", ")}
	}
	switch {
	case s.Top == 0:
		s.Top = defaultTop
	case s.Top < 0 || s.Top > maxTop:
		return &ParamError{"top", "must be 1 to 1000"}
	}
	return s.Filter.Validate()
}

// Checked returns f validated (see Validate), leaving the lists of the
// caller's f as they were: stores check what they are asked this way.
func (f Filter) Checked() (Filter, error) {
	f.Topics, f.Events = slices.Clone(f.Topics), slices.Clone(f.Events)
	err := f.Validate()
	return f, err
}

// Checked returns p validated, leaving the caller's lists as they were.
func (p Page) Checked() (Page, error) {
	p.Topics, p.Events = slices.Clone(p.Topics), slices.Clone(p.Events)
	err := p.Validate()
	return p, err
}

// Checked returns s validated, leaving the caller's lists as they were.
func (s StatsRequest) Checked() (StatsRequest, error) {
	s.Topics, s.Events = slices.Clone(s.Topics), slices.Clone(s.Events)
	err := s.Validate()
	return s, err
}

// lowerHex lower-cases an n-hex-digit id; "" stays "".
func lowerHex(s string, n int) (string, bool) {
	if s == "" {
		return "", true
	}
	s = strings.TrimSpace(s)
	if len(s) != n {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + 'a' - 'A'
		default:
			return "", false
		}
	}
	return string(b), true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

func sortedSet[T ~string](s []T) []T {
	if len(s) == 0 {
		return s
	}
	slices.Sort(s)
	return slices.Compact(s)
}

func quoteValue(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}
