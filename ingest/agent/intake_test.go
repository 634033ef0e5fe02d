package agent

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// readLines runs a lineReader over in and returns the lines, with "!N"
// for an error on line N.
func readLines(t *testing.T, in string, max, bufSize int) []string {
	t.Helper()
	lr := newLineReaderSize(strings.NewReader(in), max, bufSize)
	var out []string
	for {
		line, err := lr.next()
		if err == io.EOF {
			return out
		}
		var lerr *LineError
		if errors.As(err, &lerr) {
			out = append(out, "!"+strings.TrimPrefix(lerr.Error(), "line "))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(line))
	}
}

func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 40)
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"empty", "", 100, nil},
		{"one without newline", `{"a":1}`, 100, []string{`{"a":1}`}},
		{"lf and crlf", "a\nb\r\nc\n", 100, []string{"a", "b", "c"}},
		{"blank lines kept", "a\n\n\r\nb\n", 100, []string{"a", "", "", "b"}},
		{"longer than the buffer", long + "\n" + "y\n", 100, []string{long, "y"}},
		{"too long", long + "\n" + "y\n", 30, []string{"!1: longer than 30 bytes", "y"}},
		{"too long last line", "y\n" + long, 30, []string{"y", "!2: longer than 30 bytes"}},
		{"exactly max", long + "\r\n", 40, []string{long}},
		{"max plus one", long + "x\r\n", 40, []string{"!1: longer than 40 bytes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, size := range []int{16, 64 << 10} {
				got := readLines(t, tt.in, tt.max, size)
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("buffer %d: lines (-want +got):\n%s", size, diff)
				}
			}
		})
	}
}

func TestCheckEvent(t *testing.T) {
	tests := []struct {
		line string
		want string
		err  error
	}{
		{`{"topic":"FILE"}`, `{"topic":"FILE"}`, nil},
		{"  {\"a\" : 1 }\t\r", `{"a" : 1 }`, nil},
		{"", "", nil},
		{"   ", "", nil},
		{`{"a":1`, "", errNotJSON},
		{`{"a":1}{"b":2}`, "", errNotJSON},
		{`[{"a":1}]`, "", errNotObject},
		{`"text"`, "", errNotObject},
		{`plain text`, "", errNotJSON},
		{`{"seq":5,"a":1}`, "", errHasSeq},
		{`{"s\u0065q":5}`, "", errHasSeq},
		{`{"a":{"seq":5}}`, `{"a":{"seq":5}}`, nil},
		// Invalid UTF-8 goes to the server, which quarantines it with the
		// submitter's identity: more use to an admin than a local file.
		{"{\"a\":\"\xff\"}", "{\"a\":\"\xff\"}", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := CheckEvent([]byte(tt.line))
			if err != tt.err || string(got) != tt.want {
				t.Errorf("CheckEvent(%q) = %q, %v; want %q, %v", tt.line, got, err, tt.want, tt.err)
			}
		})
	}
}

func TestChecker_Warning(t *testing.T) {
	c := checker{}
	a := New(nil, nil, Config{Check: true})
	good := `{"topic":"USER","event":"user.signin","timestamp":"2026-01-02T03:04:05.000Z","user":"alice@example.com","ip":"10.0.0.1","authority":"Credential"}`
	if w := a.check.warning([]byte(good)); w != "" {
		t.Errorf("a valid sign-in got a warning: %s", w)
	}
	if w := a.check.warning([]byte(`{"topic":"FILE","event":"no.such.event","timestamp":"2026-01-02T03:04:05.000Z"}`)); w == "" {
		t.Error("an unknown event got no warning")
	}
	if w := c.warning([]byte(`{}`)); w != "" {
		t.Errorf("a checker without a normalizer warned: %s", w)
	}
}

func TestCheckEvent_ByteOrderMark(t *testing.T) {
	got, err := CheckEvent([]byte("\xef\xbb\xbf{\"a\":1}\r"))
	if err != nil || string(got) != `{"a":1}` {
		t.Errorf("CheckEvent with a BOM = %q, %v", got, err)
	}
}
