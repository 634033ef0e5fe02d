package transfer

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// MaxRanges is the most range-specs a Range header may hold. A longer
// list is ignored and the whole content served (RFC 9110 lets a server
// ignore a Range it will not honour), so that a request of many tiny
// ranges cannot make one answer cost more than the content itself.
const MaxRanges = 32

// The Range errors a caller branches on; any other ParseRange error is
// a malformed bytes range (400).
var (
	// ErrRangeUnit: the unit is not bytes; the header is to be ignored.
	ErrRangeUnit = errors.New("range unit is not bytes")
	// ErrTooManyRanges: more than MaxRanges range-specs; the header is
	// to be ignored.
	ErrTooManyRanges = errors.New("too many ranges")
)

// Spec is one range-spec of a Range header, in the header's order.
// First < 0 makes it a suffix: the last Last bytes. Last < 0 means to
// the end. Numbers too large for int64 are taken as math.MaxInt64,
// which means "past any end".
type Spec struct {
	First, Last int64
}

// Span is a satisfiable range resolved against a size: Length bytes
// from Start.
type Span struct {
	Start, Length int64
}

// End is the offset of the span's last byte.
func (s Span) End() int64 { return s.Start + s.Length - 1 }

// ParseRange parses a Range header value: "bytes=" and a comma list of
// "first-last", "first-" and "-suffix". Empty list elements are
// allowed, as in every HTTP list, but not an empty list.
func ParseRange(v string) ([]Spec, error) {
	unit, set, ok := strings.Cut(v, "=")
	if !ok {
		return nil, fmt.Errorf("range %q has no '='", clip(v))
	}
	if !strings.EqualFold(strings.TrimSpace(unit), "bytes") {
		return nil, ErrRangeUnit
	}
	var specs []Spec
	for elem := range strings.SplitSeq(set, ",") {
		elem = strings.Trim(elem, " \t")
		if elem == "" {
			continue
		}
		if len(specs) == MaxRanges {
			return nil, ErrTooManyRanges
		}
		first, last, ok := strings.Cut(elem, "-")
		if !ok {
			return nil, fmt.Errorf("range %q has no '-'", clip(elem))
		}
		var s Spec
		switch {
		case first == "":
			n, ok := parseDigits(last)
			if !ok {
				return nil, fmt.Errorf("range %q: the suffix length is not a number", clip(elem))
			}
			s = Spec{First: -1, Last: n}
		default:
			f, ok := parseDigits(first)
			if !ok {
				return nil, fmt.Errorf("range %q: the first byte is not a number", clip(elem))
			}
			s = Spec{First: f, Last: -1}
			if last != "" {
				l, ok := parseDigits(last)
				if !ok {
					return nil, fmt.Errorf("range %q: the last byte is not a number", clip(elem))
				}
				if l < f {
					return nil, fmt.Errorf("range %q ends before it starts", clip(elem))
				}
				s.Last = l
			}
		}
		specs = append(specs, s)
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("range %q lists no range", clip(v))
	}
	return specs, nil
}

// Resolve turns specs into the satisfiable spans of a content of size
// bytes, sorted, with overlapping and adjacent spans merged (RFC 9110
// allows a server to coalesce them). No span means the range is not
// satisfiable (416).
func Resolve(specs []Spec, size int64) []Span {
	var spans []Span
	for _, s := range specs {
		var start, end int64
		switch {
		case s.First < 0:
			if s.Last == 0 || size == 0 {
				continue
			}
			start, end = max(size-s.Last, 0), size-1
		case s.First >= size:
			continue
		default:
			start, end = s.First, size-1
			if s.Last >= 0 && s.Last < end {
				end = s.Last
			}
		}
		spans = append(spans, Span{Start: start, Length: end - start + 1})
	}
	slices.SortFunc(spans, func(a, b Span) int {
		switch {
		case a.Start < b.Start:
			return -1
		case a.Start > b.Start:
			return 1
		}
		return 0
	})
	merged := spans[:0]
	for _, s := range spans {
		if n := len(merged); n > 0 && s.Start <= merged[n-1].End()+1 {
			last := &merged[n-1]
			last.Length = max(last.End(), s.End()) - last.Start + 1
			continue
		}
		merged = append(merged, s)
	}
	return merged
}

// ContentRange is a request's Content-Range: bytes First..Last of a
// content of Total bytes. First < 0 is "*" (no bytes: the body is
// empty); Total < 0 is "*" (not known yet).
type ContentRange struct {
	First, Last, Total int64
}

// Len is how many bytes the range covers.
func (c ContentRange) Len() int64 {
	if c.First < 0 {
		return 0
	}
	return c.Last - c.First + 1
}

// ParseContentRange parses "bytes */*", "bytes */TOTAL",
// "bytes a-b/*" and "bytes a-b/TOTAL". Numbers must fit in int64.
func ParseContentRange(v string) (ContentRange, error) {
	unit, rest, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(unit, "bytes") {
		return ContentRange{}, fmt.Errorf("content-range %q does not start with \"bytes \"", clip(v))
	}
	rng, total, ok := strings.Cut(strings.TrimLeft(rest, " "), "/")
	if !ok {
		return ContentRange{}, fmt.Errorf("content-range %q has no '/'", clip(v))
	}
	c := ContentRange{First: -1, Last: -1, Total: -1}
	if total != "*" {
		n, ok := parseDigits(total)
		if !ok || n == math.MaxInt64 {
			return ContentRange{}, fmt.Errorf("content-range %q: the total is not a number", clip(v))
		}
		c.Total = n
	}
	if rng == "*" {
		return c, nil
	}
	first, last, ok := strings.Cut(rng, "-")
	if !ok {
		return ContentRange{}, fmt.Errorf("content-range %q has no '-'", clip(v))
	}
	f, ok1 := parseDigits(first)
	l, ok2 := parseDigits(last)
	if !ok1 || !ok2 || l == math.MaxInt64 {
		return ContentRange{}, fmt.Errorf("content-range %q: the bytes are not numbers", clip(v))
	}
	if l < f {
		return ContentRange{}, fmt.Errorf("content-range %q ends before it starts", clip(v))
	}
	if c.Total >= 0 && l >= c.Total {
		return ContentRange{}, fmt.Errorf("content-range %q ends past its total", clip(v))
	}
	c.First, c.Last = f, l
	return c, nil
}

// parseDigits reads a non-empty run of ASCII digits; a value past int64
// is math.MaxInt64 (the caller decides whether that is an error).
func parseDigits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			n = math.MaxInt64
			continue
		}
		n = n*10 + d
	}
	return n, true
}

// clip shortens what a message quotes of a header.
func clip(s string) string {
	const most = 64
	if len(s) <= most {
		return s
	}
	return s[:most] + "..."
}
