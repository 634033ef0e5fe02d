package schema

import (
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2016, 3, 30, 21, 18, 19, 123e6, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"2016-03-30T21:18:19.123Z", want, true},
		{"2016-03-30t21:18:19.123z", want, true},
		{"2016-03-30T23:18:19.123+02:00", want, true},
		{"2016-03-30T21:18:19.123+0000", want, true},
		{"2016-03-30T16:18:19.123-0500", want, true},
		{"2016-03-30T22:18:19.123+01", want, true},
		{"2016-03-30 21:18:19.123", want, true},
		{"2016-03-30T21:18:19.123456", want, true},
		{"2016-03-30T21:18:19.123999999Z", want, true},
		{"2016-03-30T21:18:19Z", want.Truncate(time.Second), true},
		{"1459372699123", want, true},
		{"2016-02-29T00:00:00Z", time.Date(2016, 2, 29, 0, 0, 0, 0, time.UTC), true},
		{"2015-02-29T00:00:00Z", time.Time{}, false},
		{"2016-03-30T21:18:19.1234567891Z", time.Time{}, false},
		{"2016-03-30T21:18:19.Z", time.Time{}, false},
		{"2016-03-30T24:00:00Z", time.Time{}, false},
		{"2016-13-01T00:00:00Z", time.Time{}, false},
		{"2016-03-30T21:18:19+2:00", time.Time{}, false},
		{"2016-03-30T21:18:19 UTC", time.Time{}, false},
		{"1969-12-31T23:59:59Z", time.Time{}, false},
		{"", time.Time{}, false},
		{"yesterday", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parseTime(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendTime(t *testing.T) {
	for _, tt := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2016, 3, 30, 21, 18, 19, 123456789, time.UTC), "2016-03-30T21:18:19.123Z"},
		{time.Date(2016, 3, 30, 23, 18, 19, 0, time.FixedZone("", 7200)), "2016-03-30T21:18:19.000Z"},
		{time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC), "9999-12-31T23:59:59.999Z"},
		{time.Unix(0, 0), "1970-01-01T00:00:00.000Z"},
	} {
		if got := FormatTime(tt.in); got != tt.want {
			t.Errorf("FormatTime(%v) = %s, want %s", tt.in, got, tt.want)
		}
		if back, ok := parseTime(FormatTime(tt.in)); !ok || !back.Equal(tt.in.Truncate(time.Millisecond)) {
			t.Errorf("parseTime(FormatTime(%v)) = %v, %v", tt.in, back, ok)
		}
	}
}

func TestCleanRelative(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"doc/api/overview.pdf", "doc/api/overview.pdf", true},
		{"", "", true},
		{"/doc//api/", "doc/api", true},
		{"./a/./b", "a/b", true},
		{"a/b/../c", "a/c", true},
		{"a/..", "", true},
		{"..", "", false},
		{"a/../../b", "", false},
		{"/../etc/passwd", "", false},
		{"..foo/bar..", "..foo/bar..", true},
	}
	for _, tt := range tests {
		got, ok := cleanRelative(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cleanRelative(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := map[string]string{
		"plain":          `"plain"`,
		"q\"b\\":         `"q\"b\\"`,
		"\n\r\t\x01\x1f": `"\n\r\t\u0001\u001f"`,
		"é ü 日本":         `"é ü 日本"`,
		"a\u2028b\u2029": `"a\u2028b\u2029"`,
		"<&>":            `"<&>"`,
	}
	for in, want := range tests {
		if got := string(appendString(nil, in)); got != want {
			t.Errorf("appendString(%q) = %s, want %s", in, got, want)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "1e3": true, "1.5E-3": true, "-12.0e+10": true,
		"": false, "01": false, "1.": false, ".5": false, "1e": false, "NaN": false, "Inf": false, "1-2": false, "+1": false,
	} {
		if got := isJSONNumber([]byte(in)); got != want {
			t.Errorf("isJSONNumber(%q) = %v, want %v", in, got, want)
		}
	}
}
