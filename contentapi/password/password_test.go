package password

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/config"
)

// cheap is a cost that keeps the tests fast; the default's is measured by
// BenchmarkHash.
var cheap = Config{Memory: 64 << 10, Iterations: 1, Parallelism: 1}

// known is x/crypto's argon2id vector (password "password", salt
// "somesalt", t=2, m=64 KiB, p=1, 24-byte key) in PHC form.
const known = "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHQ$Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"

func TestVerify_KnownVector(t *testing.T) {
	ok, err := Verify("password", known)
	if err != nil || !ok {
		t.Fatalf("Verify(password, known) = %v, %v; want true", ok, err)
	}
	ok, err = Verify("Password", known)
	if err != nil || ok {
		t.Fatalf("Verify(Password, known) = %v, %v; want false", ok, err)
	}
}

func TestHash_RoundTrip(t *testing.T) {
	h := New(cheap)
	stored := h.Hash("correct horse")
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Fatalf("Hash = %q, want the PHC form at the configured cost", stored)
	}
	if strings.Contains(stored, "correct horse") {
		t.Fatal("the hash contains the password")
	}
	for pw, want := range map[string]bool{"correct horse": true, "correct hors": false, "": false, "correct horse ": false} {
		got, err := Verify(pw, stored)
		if err != nil || got != want {
			t.Errorf("Verify(%q) = %v, %v; want %v", pw, got, err, want)
		}
	}
	if again := h.Hash("correct horse"); again == stored {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
	if h.NeedsRehash(stored) {
		t.Error("NeedsRehash of a hash at the current cost = true")
	}
}

func TestNeedsRehash(t *testing.T) {
	h := New(cheap)
	stored := h.Hash("pw")
	for name, cfg := range map[string]Config{
		"memory":      {Memory: 128 << 10, Iterations: 1, Parallelism: 1},
		"iterations":  {Memory: 64 << 10, Iterations: 2, Parallelism: 1},
		"parallelism": {Memory: 64 << 10, Iterations: 1, Parallelism: 2},
	} {
		if !New(cfg).NeedsRehash(stored) {
			t.Errorf("%s changed: NeedsRehash = false", name)
		}
	}
	// The known vector has an 8-byte salt and a 24-byte key.
	if !New(Config{Memory: 64 << 10, Iterations: 2, Parallelism: 1}).NeedsRehash(known) {
		t.Error("short salt and key: NeedsRehash = false")
	}
	if !h.NeedsRehash("not a hash") {
		t.Error("unparsable: NeedsRehash = false")
	}
}

func TestVerify_MalformedIsAnErrorWithoutTheHash(t *testing.T) {
	bad := strings.Replace(known, "v=19", "v=16", 1)
	ok, err := Verify("password", bad)
	if err == nil || ok {
		t.Fatalf("Verify(malformed) = %v, %v; want an error", ok, err)
	}
	if strings.Contains(err.Error(), "c29tZXNhbHQ") || strings.Contains(err.Error(), "Bo1ism") {
		t.Errorf("error %q repeats the hash or the password", err)
	}
}

func TestParse_Strict(t *testing.T) {
	salt, key := "c29tZXNhbHQ", "Bo1ismRVk2qm6+YAYLCmWHDb+j3fjUH3"
	bad := map[string]string{
		"empty":                "",
		"argon2i":              "$argon2i$v=19$m=64,t=2,p=1$" + salt + "$" + key,
		"no version":           "$argon2id$m=64,t=2,p=1$" + salt + "$" + key,
		"version 16":           "$argon2id$v=16$m=64,t=2,p=1$" + salt + "$" + key,
		"order":                "$argon2id$v=19$t=2,m=64,p=1$" + salt + "$" + key,
		"leading zero":         "$argon2id$v=19$m=064,t=2,p=1$" + salt + "$" + key,
		"sign":                 "$argon2id$v=19$m=+64,t=2,p=1$" + salt + "$" + key,
		"space":                "$argon2id$v=19$m=64, t=2,p=1$" + salt + "$" + key,
		"t=0":                  "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"p=0":                  "$argon2id$v=19$m=64,t=2,p=0$" + salt + "$" + key,
		"p=256":                "$argon2id$v=19$m=4096,t=2,p=256$" + salt + "$" + key,
		"m below 8 per lane":   "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key,
		"m over uint32":        "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key,
		"extra param":          "$argon2id$v=19$m=64,t=2,p=1,k=1$" + salt + "$" + key,
		"keyid":                "$argon2id$v=19$m=64,t=2,p=1,keyid=x$" + salt + "$" + key,
		"padded salt":          "$argon2id$v=19$m=64,t=2,p=1$" + salt + "=$" + key,
		"url base64":           "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "+", "-"),
		"non-canonical tail":   "$argon2id$v=19$m=64,t=2,p=1$c29tZXNhbHR$" + key,
		"short salt":           "$argon2id$v=19$m=64,t=2,p=1$c29tZQ$" + key,
		"short key":            "$argon2id$v=19$m=64,t=2,p=1$" + salt + "$Bo1ismRVk2qm6+YA",
		"no key":               "$argon2id$v=19$m=64,t=2,p=1$" + salt,
		"trailing dollar":      known + "$",
		"trailing newline":     known + "\n",
		"newline in salt":      "$argon2id$v=19$m=64,t=2,p=1$c29tZX\nNhbHQ$" + key,
		"upper-case algorithm": strings.Replace(known, "argon2id", "ARGON2ID", 1),
	}
	for name, s := range bad {
		if _, err := Parse(s); err == nil {
			t.Errorf("%s: Parse(%q) accepted", name, s)
		}
	}
	h, err := Parse(known)
	if err != nil {
		t.Fatal(err)
	}
	want := Params{Memory: 64, Iterations: 2, Parallelism: 1}
	if diff := cmp.Diff(want, h.Params); diff != "" {
		t.Errorf("Params (-want +got):\n%s", diff)
	}
	if string(h.Salt) != "somesalt" || len(h.Key) != 24 || h.String() != known {
		t.Errorf("Parse(known) = %+v, String %q", h, h.String())
	}
}

func TestConfig_DefaultsAndYAML(t *testing.T) {
	var c Config
	c.SetDefaults()
	want := Config{Memory: 19 << 20, Iterations: 2, Parallelism: 1}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if got := New(c).Params(); got != (Params{Memory: 19456, Iterations: 2, Parallelism: 1}) {
		t.Errorf("Params of the defaults = %+v, want m=19456", got)
	}

	var y Config
	if err := config.Decode([]byte("memory: 46MiB\niterations: 1\nparallelism: 2\n"), &y); err != nil {
		t.Fatal(err)
	}
	if y != (Config{Memory: 46 << 20, Iterations: 1, Parallelism: 2}) {
		t.Errorf("decoded %+v", y)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		key  string
	}{
		{"memory too small", Config{Memory: 4 << 10, Iterations: 2, Parallelism: 1}, "memory"},
		{"memory too small for lanes", Config{Memory: 16 << 10, Iterations: 2, Parallelism: 4}, "memory"},
		{"memory too big", Config{Memory: 8 << 30, Iterations: 2, Parallelism: 1}, "memory"},
		{"memory not KiB", Config{Memory: 19<<20 + 5, Iterations: 2, Parallelism: 1}, "memory"},
		{"no iterations", Config{Memory: 19 << 20, Parallelism: 1}, "iterations"},
		{"too many iterations", Config{Memory: 19 << 20, Iterations: 5000, Parallelism: 1}, "iterations"},
		{"no lanes", Config{Memory: 19 << 20, Iterations: 2}, "parallelism"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.HasPrefix(err.Error(), tt.key+": ") {
				t.Errorf("Validate() = %v, want a problem at %q", err, tt.key)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add(known)
	f.Add(New(cheap).Hash("x"))
	f.Add("$argon2id$v=19$m=64,t=2,p=1$$")
	f.Add("$argon2id$v=19$m=0,t=0,p=0$c29tZXNhbHQ$c29tZXNhbHQ")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := Parse(s)
		if err != nil {
			if len(s) >= 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q repeats the input", err)
			}
			return
		}
		if got := h.String(); got != s {
			t.Fatalf("Parse(%q).String() = %q: not canonical", s, got)
		}
		if h.Iterations < 1 || h.Parallelism < 1 || h.Memory < 8*uint32(h.Parallelism) ||
			len(h.Salt) < minSalt || len(h.Salt) > maxSalt || len(h.Key) < minKey || len(h.Key) > maxKey {
			t.Fatalf("Parse(%q) accepted out-of-bounds %+v", s, h)
		}
	})
}

// BenchmarkHash is one hash at the default cost: one sign-in's argon2id
// work. sign-ins/s/core is per lane of work the benchmark ran on.
func BenchmarkHash(b *testing.B) {
	var c Config
	c.SetDefaults()
	h := New(c)
	b.ReportAllocs()
	for b.Loop() {
		h.Hash("correct horse battery staple")
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sign-ins/s")
}

// BenchmarkVerify is one sign-in's check of a stored default-cost hash.
func BenchmarkVerify(b *testing.B) {
	var c Config
	c.SetDefaults()
	stored := New(c).Hash("correct horse battery staple")
	b.ReportAllocs()
	for b.Loop() {
		if ok, _ := Verify("correct horse battery staple", stored); !ok {
			b.Fatal("no match")
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sign-ins/s")
}
