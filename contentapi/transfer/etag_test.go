package transfer

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseETags(t *testing.T) {
	tests := []struct {
		in   string
		want ETagList
		bad  bool
	}{
		{in: "", want: ETagList{}},
		{in: " , ", want: ETagList{}},
		{in: "*", want: ETagList{Any: true}},
		{in: `"a"`, want: ETagList{Tags: []ETag{{Opaque: "a"}}}},
		{in: `W/"a", "b" ,"c"`, want: ETagList{Tags: []ETag{{Opaque: "a", Weak: true}, {Opaque: "b"}, {Opaque: "c"}}}},
		{in: `""`, want: ETagList{Tags: []ETag{{Opaque: ""}}}},
		{in: `cb0f09`, want: ETagList{Tags: []ETag{{Opaque: "cb0f09"}}}},
		{in: `cb0f09, "d"`, want: ETagList{Tags: []ETag{{Opaque: "cb0f09"}, {Opaque: "d"}}}},
		{in: `"a`, bad: true},
		{in: `W/a`, bad: true},
		{in: `"a" "b"`, bad: true},
		{in: `"a"b`, bad: true},
		{in: "*x", bad: true},
		{in: "\"a\x00\"", bad: true},
		{in: "a\x7f", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseETags(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseETags(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseETags(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestETagComparison(t *testing.T) {
	strong, weak := ETag{Opaque: "x"}, ETag{Opaque: "x", Weak: true}
	tests := []struct {
		name         string
		a, b         ETag
		strongMatch  bool
		weakMatchArg bool
	}{
		{name: "strong strong", a: strong, b: strong, strongMatch: true, weakMatchArg: true},
		{name: "weak strong", a: weak, b: strong, weakMatchArg: true},
		{name: "weak weak", a: weak, b: weak, weakMatchArg: true},
		{name: "different", a: strong, b: ETag{Opaque: "y"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.a.StrongMatch(tt.b); got != tt.strongMatch {
				t.Errorf("StrongMatch = %v", got)
			}
			if got := tt.a.WeakMatch(tt.b); got != tt.weakMatchArg {
				t.Errorf("WeakMatch = %v", got)
			}
		})
	}
}

func TestParseIfRange(t *testing.T) {
	mod := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	cur := ETag{Opaque: "abc"}
	tests := []struct {
		in    string
		bad   bool
		match bool
	}{
		{in: `"abc"`, match: true},
		{in: `"abd"`},
		{in: `W/"abc"`},
		{in: mod.Format(http.TimeFormat), match: true},
		{in: mod.Add(time.Second).Format(http.TimeFormat)},
		{in: `"abc", "d"`, bad: true},
		{in: `abc`, bad: true},
		{in: `"abc`, bad: true},
		{in: ``, bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseIfRange(tt.in)
			if tt.bad {
				if err == nil {
					t.Fatalf("ParseIfRange(%q) = %+v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m := got.Matches(cur, mod.Add(300*time.Millisecond)); m != tt.match {
				t.Errorf("Matches = %v, want %v", m, tt.match)
			}
		})
	}
}

func TestCheckIfMatch(t *testing.T) {
	cur := ETag{Opaque: "abc"}
	tests := []struct {
		name   string
		values []string
		exists bool
		status int // 0: the precondition holds
	}{
		{name: "absent", exists: true},
		{name: "empty", values: []string{""}, exists: true},
		{name: "same", values: []string{`"abc"`}, exists: true},
		{name: "bare token", values: []string{`abc`}, exists: true},
		{name: "in a second line", values: []string{`"x"`, `"abc"`}, exists: true},
		{name: "star", values: []string{"*"}, exists: true},
		{name: "star without content", values: []string{"*"}, status: 412},
		{name: "stale", values: []string{`"old"`}, exists: true, status: 412},
		{name: "weak never matches", values: []string{`W/"abc"`}, exists: true, status: 412},
		{name: "garbage", values: []string{`"abc`}, exists: true, status: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"If-Match": tt.values}
			err := CheckIfMatch(h, cur, tt.exists)
			got := 0
			if e, ok := err.(*Error); ok {
				got = e.Status
				if got == 412 && tt.exists && e.Header.Get("ETag") != cur.String() {
					t.Errorf("412 ETag = %q", e.Header.Get("ETag"))
				}
			} else if err != nil {
				t.Fatalf("error %v is not an *Error", err)
			}
			if got != tt.status {
				t.Errorf("status %d, want %d (%v)", got, tt.status, err)
			}
		})
	}
}

func FuzzParseETags(f *testing.F) {
	for _, s := range []string{"*", `"a"`, `W/"a", "b"`, `a, b`, `"a`, `W/`, `,,,`, "\"\xff\"", `*, "a"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, err := ParseETags(in)
		if err != nil {
			return
		}
		if len(l.Tags) > len(in) {
			t.Fatalf("%d tags from %d bytes", len(l.Tags), len(in))
		}
		// What parses re-parses to the same list from its header form.
		var out []string
		if l.Any {
			out = append(out, "*")
		}
		for _, tg := range l.Tags {
			out = append(out, tg.String())
		}
		again, err := ParseETags(strings.Join(out, ", "))
		if err != nil {
			t.Fatalf("%q re-parsed from %q: %v", strings.Join(out, ", "), in, err)
		}
		if len(again.Tags) != len(l.Tags) || again.Any != l.Any {
			t.Fatalf("%q: %+v then %+v", in, l, again)
		}
	})
}

func FuzzParseIfRange(f *testing.F) {
	for _, s := range []string{`"a"`, `W/"a"`, "Wed, 21 Oct 2015 07:28:00 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", `"a" x`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := ParseIfRange(in)
		if err != nil {
			return
		}
		if r.ETag == nil && r.Date.IsZero() {
			t.Fatalf("%q parsed to nothing", in)
		}
		_ = r.Matches(ETag{Opaque: "a"}, time.Now())
	})
}
