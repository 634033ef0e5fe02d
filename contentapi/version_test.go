package contentapi

import (
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in   string
		want Version
		ok   bool
	}{
		{"v0.7", Version{}, false},
		{"v0.8", V(0, 8), true},
		{"v0.9", V(0, 9), true},
		{"v0.10", V(0, 10), true},
		{"v0.11", Version{}, false},
		{"v1.0", V(1, 0), true},
		{"v1.1", V(1, 1), true},
		{"v1.4", V(1, 4), true},
		{"v1.5", Version{}, false},
		{"v2.0", Version{}, false},
		{"v00.8", Version{}, false},
		{"v1.04", Version{}, false},
		{"V1.4", Version{}, false},
		{"1.4", Version{}, false},
		{"v1", Version{}, false},
		{"v1.", Version{}, false},
		{"v.4", Version{}, false},
		{"v+1.4", Version{}, false},
		{"v1.4.0", Version{}, false},
		{"", Version{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseVersion(tt.in)
		if ok != tt.ok || ok && got != tt.want {
			t.Errorf("ParseVersion(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestVersion_Less(t *testing.T) {
	order := []Version{V(0, 8), V(0, 9), V(0, 10), V(1, 0), V(1, 1), V(1, 4)}
	for i, v := range order {
		for j, w := range order {
			if got := v.Less(w); got != (i < j) {
				t.Errorf("%v.Less(%v) = %v", v, w, got)
			}
		}
	}
	if Latest != versions[len(versions)-1] {
		t.Errorf("Latest %v is not the last version served", Latest)
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"v0.8", "v0.10", "v1.4", "v01.4", "v1.", "v9999.1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, ok := ParseVersion(s)
		if !ok {
			return
		}
		// One spelling per version.
		if "v"+v.String() != s {
			t.Fatalf("ParseVersion(%q) = %v, which is spelt v%s", s, v, v)
		}
		if !v.Known() {
			t.Fatalf("ParseVersion(%q) accepted %v, which is not served", s, v)
		}
	})
}
