package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// packageConfig is how a package's Config looks: plain Go types, with
// sizes tagged as bytes.
type packageConfig struct {
	Timeout  time.Duration  `yaml:"timeout"`
	Every    *time.Duration `yaml:"every"`
	MaxBytes int64          `yaml:"max_bytes" size:"bytes"`
	Batch    int            `yaml:"batch" size:"bytes"`
	Count    int            `yaml:"count"`
}

func TestDecode_PlainDurationsAndSizes(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want packageConfig
	}{
		{"Days", "timeout: 7d\n", packageConfig{Timeout: 7 * 24 * time.Hour}},
		{"DaysAndHours", "timeout: 1d12h\n", packageConfig{Timeout: 36 * time.Hour}},
		{"GoSyntax", "timeout: 1m30s\n", packageConfig{Timeout: 90 * time.Second}},
		{"Pointer", "every: 2d\n", packageConfig{Every: new(48 * time.Hour)}},
		{"Sizes", "max_bytes: 10GiB\nbatch: 64 KiB\n", packageConfig{MaxBytes: 10 << 30, Batch: 64 << 10}},
		{"PlainNumberOfBytes", "max_bytes: 1000\n", packageConfig{MaxBytes: 1000}},
		{"Alias", "timeout: &d 3d\nevery: *d\n", packageConfig{Timeout: 72 * time.Hour, Every: new(72 * time.Hour)}},
		{"FromEnvironment", "timeout: ${D}\nmax_bytes: ${B}\n", packageConfig{Timeout: 24 * time.Hour, MaxBytes: 1 << 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got packageConfig
			if err := Decode([]byte(tt.yaml), &got, testEnv(map[string]string{"D": "1d", "B": "1MiB"})); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecode_PlainDurationsAndSizes_Errors(t *testing.T) {
	var got packageConfig
	err := Decode([]byte("timeout: soon\nmax_bytes: lots\ncount: 3KiB\n"), &got)
	want := []string{
		`config line 1: invalid duration "soon": want a number with a unit such as 30s, 5m, 12h or 7d`,
		`config line 2: invalid byte size "lots": want a number of bytes, optionally with a unit such as MiB, GiB or GB`,
	}
	if err == nil {
		t.Fatal("Decode: nil error")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	// A size on a field not tagged as bytes is the YAML library's error.
	err = Decode([]byte("count: 3KiB\n"), &got)
	if err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("untagged size: %v, want an error naming line 1", err)
	}
}

func TestProblems_Nest(t *testing.T) {
	var inner Problems
	inner.Add("addr", "required")
	inner.Add("", "exactly one of a, b must be set, got 0")
	var list Problems
	list.Add("[2].name", "duplicate")
	var p Problems
	p.Nest("store.clickhouse", inner.Err())
	p.Nest("sinks", list.Err())
	p.Nest("tls", errString("not a field error"))
	p.Nest("nothing", nil)
	p.Pair("cert_file", "c.pem", "key_file", "")
	p.Address("listen", "localhost")
	p.NotNegative("linger", -1)
	want := []string{
		"store.clickhouse.addr: required",
		"store.clickhouse: exactly one of a, b must be set, got 0",
		"sinks[2].name: duplicate",
		"tls: not a field error",
		"key_file: required when cert_file is set",
		`listen: "localhost" is not host:port`,
		"linger: must not be negative",
	}
	if diff := cmp.Diff(want, strings.Split(p.Err().Error(), "\n")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if (Problems{}).Err() != nil {
		t.Error("no problems: want a nil error")
	}
}

type errString string

func (e errString) Error() string { return string(e) }

type kindA struct{ N int }

func (k kindA) Validate() error {
	var p Problems
	if k.N < 0 {
		p.Add("n", "must not be negative")
	}
	return p.Err()
}

type kindB struct{}

type section struct {
	Common string `yaml:"common"`
	Flag   *bool  `yaml:"flag"`
	A      *kindA `yaml:"a"`
	B      *kindB `yaml:"b_kind"`
	Hidden *kindB `yaml:"-"`
}

func TestKind(t *testing.T) {
	tests := []struct {
		name string
		s    section
		kind string
		want []string
	}{
		{"None", section{}, "", []string{"exactly one of a, b_kind must be set, got 0"}},
		{"One", section{A: &kindA{}}, "a", nil},
		{"OneInvalid", section{A: &kindA{N: -1}}, "a", []string{"a.n: must not be negative"}},
		{"Two", section{A: &kindA{N: -1}, B: &kindB{}}, "", []string{"exactly one of a, b_kind must be set, got 2", "a.n: must not be negative"}},
		{"HiddenIsNoKind", section{B: &kindB{}, Hidden: &kindB{}}, "b_kind", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Kind(tt.s); got != tt.kind {
				t.Errorf("Kind = %q, want %q", got, tt.kind)
			}
			if got := Kind(&tt.s); got != tt.kind {
				t.Errorf("Kind of a pointer = %q, want %q", got, tt.kind)
			}
			var p Problems
			p.OneKind(tt.s)
			var got []string
			if err := p.Err(); err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("OneKind (-want +got):\n%s", diff)
			}
		})
	}
}
