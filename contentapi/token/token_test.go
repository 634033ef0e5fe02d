package token

import (
	"strings"
	"testing"
)

func TestNew_FormAndUniqueness(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		tok := New()
		if !Valid(tok) {
			t.Fatalf("New() = %q, not 32 lower-case hex", tok)
		}
		if seen[tok] {
			t.Fatalf("New() repeated %q", tok)
		}
		seen[tok] = true
	}
}

func TestValid(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"0123456789abcdef0123456789abcdef", true},
		{"0123456789ABCDEF0123456789abcdef", false}, // upper case
		{"0123456789abcdef0123456789abcde", false},  // 31
		{"0123456789abcdef0123456789abcdef0", false},
		{"0123456789abcdeg0123456789abcdef", false},
		{"", false},
		{strings.Repeat("a", 64), false},
	}
	for _, tt := range tests {
		if got := Valid(tt.in); got != tt.want {
			t.Errorf("Valid(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestHash_KnownValueAndMatch(t *testing.T) {
	tok := "0123456789abcdef0123456789abcdef"
	// printf %s 0123456789abcdef0123456789abcdef | sha256sum
	const want = "3eb1bd439947eb762998e566ccc2e099c791118b2f40579cc4f7da2b5061b7f9"
	h := Hash(tok)
	if h != want {
		t.Fatalf("Hash = %q, want %q", h, want)
	}
	if !Match(tok, h) {
		t.Error("Match(tok, Hash(tok)) = false")
	}
	other := New()
	if Match(other, h) {
		t.Error("Match(other, Hash(tok)) = true")
	}
	if Match(tok, "") || Match(tok, h[:63]) {
		t.Error("Match accepted a truncated hash")
	}
}

func FuzzValid(f *testing.F) {
	f.Add("0123456789abcdef0123456789abcdef")
	f.Add("0123456789ABCDEF0123456789abcdef")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		want := len(s) == Len && strings.Trim(s, "0123456789abcdef") == ""
		if got := Valid(s); got != want {
			t.Fatalf("Valid(%q) = %v, want %v", s, got, want)
		}
		if Valid(s) && !Match(s, Hash(s)) {
			t.Fatalf("Match(%q, Hash) = false", s)
		}
	})
}
