package schema

import (
	"errors"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

var (
	errUTF8   = errors.New("invalid UTF-8")
	errNumber = errors.New("not a JSON number")
)

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. It escapes the quote, the
// backslash, control characters and U+2028/U+2029, and nothing else, so
// that the output is the same whatever escapes the input used. s must be
// valid UTF-8.
func appendString[T string | []byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	i := plainPrefix(string(s))
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	for i < len(s) {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < 0x80 {
			i++
			continue
		}
		if c >= 0x80 {
			// U+2028 and U+2029 are E2 80 A8 and E2 80 A9.
			if c == 0xE2 && i+2 < len(s) && s[i+1] == 0x80 && (s[i+2] == 0xA8 || s[i+2] == 0xA9) {
				dst = append(dst, s[start:i]...)
				dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[s[i+2]&0xF])
				i += 3
				start = i
				continue
			}
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendValue appends v in Vigil's compact form: members in their input
// order, strings escaped by appendString, numbers as they were written.
// The input must have passed fastjson.Validate, so numbers are JSON
// numbers.
func appendValue(dst []byte, v *fastjson.Value) ([]byte, error) {
	switch v.Type() {
	case fastjson.TypeObject:
		o, _ := v.Object()
		dst = append(dst, '{')
		first := true
		var err error
		o.Visit(func(k []byte, vv *fastjson.Value) {
			if err != nil {
				return
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			if !utf8.Valid(k) {
				err = errUTF8
				return
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst, err = appendValue(dst, vv)
		})
		if err != nil {
			return dst, err
		}
		return append(dst, '}'), nil
	case fastjson.TypeArray:
		a, _ := v.Array()
		dst = append(dst, '[')
		for i, vv := range a {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendValue(dst, vv); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case fastjson.TypeString:
		b, _ := v.StringBytes()
		if !utf8.Valid(b) {
			return dst, errUTF8
		}
		return appendString(dst, b), nil
	case fastjson.TypeNumber:
		start := len(dst)
		dst = v.MarshalTo(dst)
		if !isJSONNumber(dst[start:]) {
			return dst[:start], errNumber
		}
		return dst, nil
	default: // true, false, null
		return v.MarshalTo(dst), nil
	}
}

// isJSONNumber reports whether b is a number as JSON spells it; the parser
// is more lenient (NaN, Inf, "1-2").
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(b)
}

// AppendString appends s as a JSON string escaped as the wire form
// escapes strings, so that a value taken apart can be put back byte for
// byte. s must be valid UTF-8.
func AppendString(dst []byte, s string) []byte { return appendString(dst, s) }
