package schema

import (
	"strconv"
	"unsafe"
)

// b2s views b as a string without copying; b must not change while the
// string is in use.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func lowerASCII(b []byte) {
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// quote quotes s for an error message, cut to a readable length.
func quote[T string | []byte](s T) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(string(s[:max]) + "...")
	}
	return strconv.Quote(string(s))
}

// unquote returns the text of a JSON string that appendString wrote
// without escapes (user ids, which hold no quotes or controls).
func unquote(b []byte) string {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		return string(b[1 : len(b)-1])
	}
	return string(b)
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
