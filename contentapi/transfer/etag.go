package transfer

import (
	"fmt"
	"net/http"
	"strings"
	"time"
)

// ETag is an entity tag: Opaque is what goes between the quotes.
type ETag struct {
	Opaque string
	Weak   bool
}

// String is the tag as a header carries it: "x" or W/"x".
func (e ETag) String() string {
	if e.Weak {
		return `W/"` + e.Opaque + `"`
	}
	return `"` + e.Opaque + `"`
}

// StrongMatch is RFC 9110's strong comparison: neither tag is weak and
// the opaque parts are equal. If-Match and If-Range use it.
func (e ETag) StrongMatch(o ETag) bool { return !e.Weak && !o.Weak && e.Opaque == o.Opaque }

// WeakMatch is the weak comparison: the opaque parts are equal.
// If-None-Match uses it.
func (e ETag) WeakMatch(o ETag) bool { return e.Opaque == o.Opaque }

// ETagList is a parsed If-Match or If-None-Match: Any for "*", else
// Tags. The zero value (an absent or empty header) is no precondition.
type ETagList struct {
	Any  bool
	Tags []ETag
}

// Present says whether the header set a precondition.
func (l ETagList) Present() bool { return l.Any || len(l.Tags) > 0 }

// Strong says whether any tag (or "*") strongly matches cur.
func (l ETagList) Strong(cur ETag) bool {
	if l.Any {
		return true
	}
	for _, t := range l.Tags {
		if t.StrongMatch(cur) {
			return true
		}
	}
	return false
}

// Weak says whether any tag (or "*") weakly matches cur.
func (l ETagList) Weak(cur ETag) bool {
	if l.Any {
		return true
	}
	for _, t := range l.Tags {
		if t.WeakMatch(cur) {
			return true
		}
	}
	return false
}

// ParseETags parses an If-Match or If-None-Match value: "*" or a comma
// list of "x", W/"x" and, as real clients send them, bare tokens x (read
// as "x"). Empty elements are skipped; an empty value is no
// precondition.
func ParseETags(v string) (ETagList, error) {
	var l ETagList
	rest := v
	for {
		rest = strings.TrimLeft(rest, " \t,")
		if rest == "" {
			return l, nil
		}
		var t ETag
		var err error
		if rest[0] == '*' {
			l.Any = true
			rest = rest[1:]
		} else {
			t, rest, err = scanETag(rest)
			if err != nil {
				return ETagList{}, fmt.Errorf("etag list %q: %w", clip(v), err)
			}
			l.Tags = append(l.Tags, t)
		}
		rest = strings.TrimLeft(rest, " \t")
		if rest != "" && rest[0] != ',' {
			return ETagList{}, fmt.Errorf("etag list %q: expected ',' after a tag", clip(v))
		}
	}
}

// headerETags joins every line of the header h[key] and parses them.
func headerETags(h http.Header, key string) (ETagList, error) {
	return ParseETags(strings.Join(h.Values(key), ","))
}

// scanETag reads one tag from the front of s.
func scanETag(s string) (ETag, string, error) {
	var t ETag
	if strings.HasPrefix(s, "W/") {
		t.Weak = true
		s = s[2:]
		if s == "" || s[0] != '"' {
			return ETag{}, "", fmt.Errorf("a weak tag is W/ and a quoted string")
		}
	}
	if s != "" && s[0] == '"' {
		end := 1
		for end < len(s) && s[end] != '"' {
			if !etagc(s[end]) {
				return ETag{}, "", fmt.Errorf("byte %#x is not allowed in a tag", s[end])
			}
			end++
		}
		if end == len(s) {
			return ETag{}, "", fmt.Errorf("a tag lacks its closing quote")
		}
		t.Opaque = s[1:end]
		return t, s[end+1:], nil
	}
	end := 0
	for end < len(s) && s[end] != ',' && s[end] != ' ' && s[end] != '\t' {
		if !etagc(s[end]) {
			return ETag{}, "", fmt.Errorf("byte %#x is not allowed in a tag", s[end])
		}
		end++
	}
	t.Opaque = s[:end]
	return t, s[end:], nil
}

// etagc is RFC 9110's etagc: visible ASCII but '"', and obs-text.
func etagc(c byte) bool { return c == 0x21 || (c >= 0x23 && c <= 0x7e) || c >= 0x80 }

// IfRange is a parsed If-Range: an entity tag or a date.
type IfRange struct {
	ETag *ETag
	Date time.Time
}

// ParseIfRange parses an If-Range value: one entity tag (quoted, or W/
// quoted, which never matches) or an HTTP date.
func ParseIfRange(v string) (IfRange, error) {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `"`) || strings.HasPrefix(v, "W/") {
		t, rest, err := scanETag(v)
		if err != nil {
			return IfRange{}, fmt.Errorf("if-range %q: %w", clip(v), err)
		}
		if strings.TrimSpace(rest) != "" {
			return IfRange{}, fmt.Errorf("if-range %q holds more than one tag", clip(v))
		}
		return IfRange{ETag: &t}, nil
	}
	d, err := http.ParseTime(v)
	if err != nil {
		return IfRange{}, fmt.Errorf("if-range %q is neither a tag nor a date", clip(v))
	}
	return IfRange{Date: d}, nil
}

// Matches says whether the range may be served: a tag must match cur
// strongly; a date must equal mod to the second.
func (r IfRange) Matches(cur ETag, mod time.Time) bool {
	if r.ETag != nil {
		return r.ETag.StrongMatch(cur)
	}
	return !mod.IsZero() && mod.Truncate(time.Second).Equal(r.Date)
}

// CheckIfMatch evaluates the request's If-Match against the current
// content's tag (exists false when there is none yet): nil when it
// holds or the header is absent or empty, a 412 *Error carrying the
// current ETag when not, a 400 *Error for a header that does not parse.
func CheckIfMatch(h http.Header, cur ETag, exists bool) error {
	l, err := headerETags(h, "If-Match")
	if err != nil {
		return badRequest("%v", err)
	}
	if !l.Present() || (exists && l.Strong(cur)) {
		return nil
	}
	e := &Error{Status: http.StatusPreconditionFailed, Message: "the content has changed: its ETag does not match If-Match"}
	if exists {
		e.with("ETag", cur.String())
	}
	return e
}
