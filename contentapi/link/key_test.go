package link

import (
	"strings"
	"testing"
)

func TestNewKey(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		k := NewKey()
		got, err := ParseKey(k)
		if err != nil || got != k {
			t.Fatalf("ParseKey(%q) = %q, %v", k, got, err)
		}
		if seen[k] {
			t.Fatalf("key %s twice", k)
		}
		seen[k] = true
	}
}

func TestParseKey(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdef", true},
		{"", "", false},
		{"0123456789abcdef0123456789abcde", "", false},
		{"0123456789abcdef0123456789abcdef0", "", false},
		{"0123456789abcdef0123456789abcdeg", "", false},
		{"../../../../../../../../../../..", "", false},
		{"0123456789abcdef0123456789abcd\x00f", "", false},
	} {
		got, err := ParseKey(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseKey(%q) = %q, %v; want %q, ok %v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseKey: a key is accepted only as 32 hex digits, and comes back
// lower-cased and stable.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{NewKey(), strings.ToUpper(NewKey()), "", "..", "%2e%2e", "0123456789abcdef0123456789abcdeg", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, err := ParseKey(s)
		if err != nil {
			return
		}
		if len(k) != 32 || strings.Trim(k, "0123456789abcdef") != "" || !strings.EqualFold(k, s) {
			t.Fatalf("ParseKey(%q) = %q", s, k)
		}
		if again, err := ParseKey(k); err != nil || again != k {
			t.Fatalf("ParseKey(%q) again = %q, %v", k, again, err)
		}
	})
}
