package schema

import (
	"strings"
	"testing"
)

// TestPrefixScanners compares the word-at-a-time scanners with a byte
// loop on every position of a special byte within and after a word.
func TestPrefixScanners(t *testing.T) {
	slow := func(s string, special func(byte) bool) int {
		for i := 0; i < len(s); i++ {
			if special(s[i]) {
				return i
			}
		}
		return len(s)
	}
	lexical := func(c byte) bool { return c < 0x20 || c >= 0x80 || c == '\\' }
	plain := func(c byte) bool { return lexical(c) || c == '"' }
	for _, special := range []string{"\x00", "\x1f", "\x7f", "\x80", "é", "\"", "\\", " ", "~"} {
		for n := 0; n < 20; n++ {
			s := strings.Repeat("a", n) + special + strings.Repeat("b", 9)
			if got, want := lexicalPrefix([]byte(s)), slow(s, lexical); got != want {
				t.Errorf("lexicalPrefix(%q) = %d, want %d", s, got, want)
			}
			if got, want := plainPrefix(s), slow(s, plain); got != want {
				t.Errorf("plainPrefix(%q) = %d, want %d", s, got, want)
			}
		}
	}
}
