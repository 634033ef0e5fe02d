package transfer

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRange(t *testing.T) {
	tests := []struct {
		name, in string
		want     []Spec
		err      error // a sentinel, or errSyntax for any other error
	}{
		{name: "closed", in: "bytes=0-99", want: []Spec{{0, 99}}},
		{name: "open", in: "bytes=100-", want: []Spec{{100, -1}}},
		{name: "suffix", in: "bytes=-5", want: []Spec{{-1, 5}}},
		{name: "list with spaces and empty elements", in: "bytes= 0-1 , ,5-6,", want: []Spec{{0, 1}, {5, 6}}},
		{name: "unit case", in: "Bytes=1-2", want: []Spec{{1, 2}}},
		{name: "huge last is clamped", in: "bytes=0-99999999999999999999999", want: []Spec{{0, math.MaxInt64}}},
		{name: "huge first is clamped", in: "bytes=99999999999999999999999-", want: []Spec{{math.MaxInt64, -1}}},
		{name: "other unit", in: "items=0-1", err: ErrRangeUnit},
		{name: "too many", in: "bytes=" + strings.Repeat("1-2,", MaxRanges+1), err: ErrTooManyRanges},
		{name: "no equals", in: "bytes 0-1", err: errSyntax},
		{name: "empty list", in: "bytes=", err: errSyntax},
		{name: "no dash", in: "bytes=5", err: errSyntax},
		{name: "backwards", in: "bytes=5-4", err: errSyntax},
		{name: "two dashes", in: "bytes=--5", err: errSyntax},
		{name: "sign", in: "bytes=+1-2", err: errSyntax},
		{name: "empty both", in: "bytes=-", err: errSyntax},
		{name: "not a number", in: "bytes=a-b", err: errSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRange(tt.in)
			checkErr(t, err, tt.err)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseRange(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// errSyntax stands for "some error, not a sentinel" in tables.
var errSyntax = errors.New("syntax")

func checkErr(t *testing.T, got, want error) {
	t.Helper()
	switch {
	case want == nil && got != nil:
		t.Fatalf("unexpected error %v", got)
	case want == nil:
	case got == nil:
		t.Fatalf("no error, want %v", want)
	case want == errSyntax:
		if errors.Is(got, ErrRangeUnit) || errors.Is(got, ErrTooManyRanges) {
			t.Fatalf("error %v, want a syntax error", got)
		}
	case !errors.Is(got, want):
		t.Fatalf("error %v, want %v", got, want)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name  string
		specs []Spec
		size  int64
		want  []Span
	}{
		{name: "first bytes", specs: []Spec{{0, 9}}, size: 100, want: []Span{{0, 10}}},
		{name: "last past end is cut", specs: []Spec{{90, 200}}, size: 100, want: []Span{{90, 10}}},
		{name: "open", specs: []Spec{{95, -1}}, size: 100, want: []Span{{95, 5}}},
		{name: "suffix", specs: []Spec{{-1, 5}}, size: 100, want: []Span{{95, 5}}},
		{name: "suffix longer than content", specs: []Spec{{-1, 500}}, size: 100, want: []Span{{0, 100}}},
		{name: "zero suffix", specs: []Spec{{-1, 0}}, size: 100},
		{name: "start past end", specs: []Spec{{100, -1}}, size: 100},
		{name: "empty content", specs: []Spec{{0, -1}, {-1, 3}}, size: 0},
		{name: "unsatisfiable dropped", specs: []Spec{{200, 300}, {0, 0}}, size: 100, want: []Span{{0, 1}}},
		{name: "sorted", specs: []Spec{{50, 59}, {0, 9}}, size: 100, want: []Span{{0, 10}, {50, 10}}},
		{name: "overlap merged", specs: []Spec{{0, 10}, {5, 20}}, size: 100, want: []Span{{0, 21}}},
		{name: "adjacent merged", specs: []Spec{{0, 9}, {10, 19}}, size: 100, want: []Span{{0, 20}}},
		{name: "contained merged", specs: []Spec{{0, 50}, {10, 19}}, size: 100, want: []Span{{0, 51}}},
		{name: "gap kept", specs: []Spec{{0, 9}, {11, 19}}, size: 100, want: []Span{{0, 10}, {11, 9}}},
		{name: "huge", specs: []Spec{{0, math.MaxInt64}, {math.MaxInt64, -1}, {-1, math.MaxInt64}}, size: 7, want: []Span{{0, 7}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Resolve(tt.specs, tt.size)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseContentRange(t *testing.T) {
	tests := []struct {
		in   string
		want ContentRange
		bad  bool
	}{
		{in: "bytes */*", want: ContentRange{-1, -1, -1}},
		{in: "bytes */100", want: ContentRange{-1, -1, 100}},
		{in: "bytes 0-99/*", want: ContentRange{0, 99, -1}},
		{in: "bytes 0-99/100", want: ContentRange{0, 99, 100}},
		{in: "BYTES  5-5/6", want: ContentRange{5, 5, 6}},
		{in: "bytes */0", want: ContentRange{-1, -1, 0}},
		{in: "bytes 0-100/100", bad: true},
		{in: "bytes 5-4/*", bad: true},
		{in: "bytes 0-99", bad: true},
		{in: "bytes=0-99/100", bad: true},
		{in: "items 0-1/2", bad: true},
		{in: "bytes -1/2", bad: true},
		{in: "bytes 0-/2", bad: true},
		{in: "bytes 0-1/-2", bad: true},
		{in: "bytes 0-1/99999999999999999999", bad: true},
		{in: "bytes 0-99999999999999999999/*", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseContentRange(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseContentRange(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseContentRange(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func FuzzParseRange(f *testing.F) {
	for _, s := range []string{"bytes=0-99", "bytes=-5", "bytes=5-", "bytes=0-1,3-4,,", "bytes=9999999999999999999999-",
		"bytes=" + strings.Repeat("0-0,", 40), "bytes=5-4", "x=1-2", "bytes=", "bytes=-", "bytes=\xff-1"} {
		f.Add(s, int64(100))
	}
	f.Add("bytes=0-", int64(0))
	f.Fuzz(func(t *testing.T, in string, size int64) {
		if size < 0 {
			size = -size
		}
		specs, err := ParseRange(in)
		if err != nil {
			if specs != nil {
				t.Fatalf("specs %v with error %v", specs, err)
			}
			return
		}
		if len(specs) == 0 || len(specs) > MaxRanges {
			t.Fatalf("%d specs", len(specs))
		}
		spans := Resolve(specs, size)
		var prevEnd int64 = -2
		for _, s := range spans {
			if s.Length <= 0 || s.Start < 0 || s.End() >= size {
				t.Fatalf("span %+v outside a content of %d bytes", s, size)
			}
			if s.Start <= prevEnd+1 {
				t.Fatalf("spans %v not sorted and merged", spans)
			}
			prevEnd = s.End()
		}
	})
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes */*", "bytes */10", "bytes 0-9/*", "bytes 0-9/10", "bytes 0-10/10",
		"bytes 9-0/*", "bytes 0-99999999999999999999/*", "bytes", "bytes  */*", "bytes 1-2/3/4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseContentRange(in)
		if err != nil {
			return
		}
		if c.First < -1 || c.Total < -1 || (c.First < 0) != (c.Last < 0) {
			t.Fatalf("%q: %+v", in, c)
		}
		if c.First >= 0 && (c.Last < c.First || (c.Total >= 0 && c.Last >= c.Total)) {
			t.Fatalf("%q: %+v", in, c)
		}
		if c.Len() < 0 {
			t.Fatalf("%q: length %d", in, c.Len())
		}
	})
}
