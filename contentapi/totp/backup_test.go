package totp

import (
	"strings"
	"testing"
)

func TestBackupCodes_ShownOnceStoredHashedUsableOnce(t *testing.T) {
	codes, hashes := NewBackupCodes()
	if len(codes) != BackupCount || len(hashes) != BackupCount {
		t.Fatalf("%d codes, %d hashes", len(codes), len(hashes))
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if len(c) != 11 || c[5] != '-' || strings.Trim(strings.Replace(c, "-", "", 1), alphabet) != "" {
			t.Errorf("code %q is not xxxxx-xxxxx of the alphabet", c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
		if strings.Contains(hashes[i], strings.Replace(c, "-", "", 1)) {
			t.Errorf("hash %d holds its code", i)
		}
		if got := MatchBackupCode(c, hashes); got != i {
			t.Errorf("MatchBackupCode(code %d) = %d", i, got)
		}
	}
	// Using one deletes its hash: it no longer matches.
	i := MatchBackupCode(codes[3], hashes)
	hashes = append(hashes[:i], hashes[i+1:]...)
	if MatchBackupCode(codes[3], hashes) != -1 {
		t.Error("a used code matched again")
	}
	if MatchBackupCode(codes[4], hashes) != 3 {
		t.Error("the next code moved or stopped matching")
	}
}

func TestNormalizeBackupCode(t *testing.T) {
	for in, want := range map[string]string{
		"abcde-12345":           "abcde12345",
		"ABCDE 12345":           "abcde12345",
		"abcde12345":            "abcde12345",
		"o0iIlL-ab c-d":         "00111" + "1abcd",
		" a-b-c-d-e-f-g-h-j-k ": "abcdefghjk",
	} {
		got, ok := NormalizeBackupCode(in)
		if !ok || got != want {
			t.Errorf("NormalizeBackupCode(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abcde-1234", "abcde-123456", "abcde-1234u", "abcde_12345", strings.Repeat("-", 100) + "abcde12345", "abcdé-1234"} {
		if got, ok := NormalizeBackupCode(in); ok {
			t.Errorf("NormalizeBackupCode(%q) = %q, accepted", in, got)
		}
	}
	if MatchBackupCode("not a code", []string{""}) != -1 {
		t.Error("a malformed code matched an empty hash")
	}
}

func FuzzNormalizeBackupCode(f *testing.F) {
	f.Add("abcde-12345")
	f.Add("OIL11 ZZZZZ")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := NormalizeBackupCode(s)
		if !ok {
			return
		}
		if len(n) != BackupLen || strings.Trim(n, alphabet) != "" {
			t.Fatalf("NormalizeBackupCode(%q) = %q", s, n)
		}
		if again, ok := NormalizeBackupCode(n); !ok || again != n {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, n, again)
		}
		h, _ := HashBackupCode(s)
		if MatchBackupCode(n, []string{h}) != 0 {
			t.Fatalf("%q and its normal form %q hash apart", s, n)
		}
	})
}
