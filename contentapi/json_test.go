package contentapi

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestTime_JSON(t *testing.T) {
	type obj struct {
		At   Time `json:"at"`
		Gone Time `json:"gone,omitzero"`
	}
	in := obj{At: Time{time.Date(2014, 1, 1, 1, 32, 58, 999e6, time.FixedZone("x", 3600))}}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"at":"2014-01-01T00:32:58Z"}` {
		t.Errorf("Marshal = %s, %v; want UTC to the second, the zero date left out", b, err)
	}
	for _, s := range []string{`"2014-01-01T00:32:58Z"`, `"2014-01-01T01:32:58+01:00"`, `"2014-01-01T00:32:58.000Z"`,
		`1388536378000`, `"1388536378000"`} {
		var o obj
		if err := json.Unmarshal([]byte(`{"at":`+s+`}`), &o); err != nil || !o.At.Equal(time.Date(2014, 1, 1, 0, 32, 58, 0, time.UTC)) {
			t.Errorf("Unmarshal %s = %v, %v", s, o.At, err)
		}
	}
	var o obj
	if err := json.Unmarshal([]byte(`{"at":"2013-03-17T01:23Z"}`), &o); err != nil || !o.At.Equal(time.Date(2013, 3, 17, 1, 23, 0, 0, time.UTC)) {
		t.Errorf("the reference's minute form: %v, %v", o.At, err)
	}
	for _, s := range []string{`"yesterday"`, `true`, `{}`, `"2014-13-01T00:00:00Z"`, `1.5`, `-1`} {
		var o obj
		if err := json.Unmarshal([]byte(`{"at":`+s+`}`), &o); err == nil {
			t.Errorf("Unmarshal %s = %v, want an error", s, o.At)
		}
	}
}

func TestParseEmail(t *testing.T) {
	for in, want := range map[string]string{
		"a@example.com":          "a@example.com",
		"Ann.Lee@Example.COM":    "ann.lee@example.com",
		"ann%40example.com":      "ann@example.com",
		"ann%2540example.com":    "ann@example.com",
		"a%2Bb%40example.com":    "a+b@example.com",
		"a+b@example.com":        "a+b@example.com",
		"100%25@example.com":     "100%@example.com",
		"broken%zz@example.com":  "broken%zz@example.com",
		"\"quoted\"@example.com": "",
		"nobody":                 "",
		"@example.com":           "",
		"a@":                     "",
		"a%20b@example.com":      "",
		"a%0a@example.com":       "",
		"":                       "",
	} {
		got, err := ParseEmail(in)
		if want == "" {
			if err == nil {
				t.Errorf("ParseEmail(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func FuzzParseEmail(f *testing.F) {
	for _, s := range []string{"a@example.com", "ann%40example.com", "ann%2540example.com", "%", "a%0a@b", "A@B"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseEmail(s)
		if err != nil {
			return
		}
		if !utf8.ValidString(e) || strings.ToLower(e) != e || !strings.Contains(e, "@") || strings.ContainsAny(e, " \r\n\"\\<>,;") {
			t.Fatalf("ParseEmail(%q) = %q", s, e)
		}
	})
}

func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2014-01-01T00:32:58Z", "2013-03-17T01:23Z", "1388536378000", "2014-01-01T01:32:58+01:00", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseTime(s)
		if err != nil {
			return
		}
		if v.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, v)
		}
		// What is written reads back to the same second.
		b, _ := Time{v}.MarshalJSON()
		var back Time
		if v.Year() >= 0 && v.Year() <= 9999 {
			if err := back.UnmarshalJSON(b); err != nil || !back.Equal(v.Truncate(time.Second)) {
				t.Fatalf("ParseTime(%q) = %v, written %s, read back %v, %v", s, v, b, back.Time, err)
			}
		}
	})
}
