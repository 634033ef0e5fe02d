package syslogsink

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseMessage(t *testing.T) {
	at := time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    Message
		wantErr string
	}{
		{
			name: "RFC 5424 example 1",
			in:   "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed for lonvick on /dev/pts/8",
			want: Message{Facility: 4, Severity: 2, Version: 1, Timestamp: at, Hostname: "mymachine.example.com",
				AppName: "su", MsgID: "ID47", Msg: []byte("'su root' failed for lonvick on /dev/pts/8")},
		},
		{
			name: "structured data and no message",
			in:   `<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
			want: Message{Facility: 20, Severity: 5, Version: 1, Timestamp: at, Hostname: "mymachine.example.com",
				AppName: "evntslog", MsgID: "ID47",
				StructuredData: `[exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`},
		},
		{
			name: "escapes in a parameter value",
			in:   `<14>1 - h a 42 - [x@32473 v="a\"b\]c\\"] {}`,
			want: Message{Facility: 1, Severity: 6, Version: 1, Hostname: "h", AppName: "a", ProcID: "42",
				StructuredData: `[x@32473 v="a\"b\]c\\"]`, Msg: []byte("{}")},
		},
		{
			name: "every field nil, empty message",
			in:   "<0>1 - - - - - - ",
			want: Message{Version: 1, Msg: []byte{}},
		},
		{name: "no PRI", in: "1 - - - - - -", wantErr: "want <PRI>"},
		{name: "PRI out of range", in: "<192>1 - - - - - -", wantErr: "out of range"},
		{name: "PRI with a leading zero", in: "<013>1 - - - - - -", wantErr: "malformed PRI"},
		{name: "version zero", in: "<13>0 - - - - - -", wantErr: "malformed version"},
		{name: "two spaces", in: "<13>1  - - - - -", wantErr: "timestamp"},
		{name: "bad timestamp", in: "<13>1 yesterday h a - m -", wantErr: "parse syslog timestamp"},
		{name: "MSGID too long", in: "<13>1 - h a - " + strings.Repeat("m", 33) + " -", wantErr: "msgid"},
		{name: "header cut short", in: "<13>1 - h a", wantErr: "want a space after the app-name"},
		{name: "unterminated value", in: `<13>1 - h a - m [x v="1]`, wantErr: "unescaped ']'"},
		{name: "structured data missing", in: "<13>1 - h a - m x", wantErr: "want structured data"},
		{name: "junk after structured data", in: "<13>1 - h a - m -x", wantErr: "after structured data"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseMessage([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("ParseMessage() error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseMessage: %v", err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseMessage() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReadFrame(t *testing.T) {
	long := strings.Repeat("x", 100) // beyond the reader's 16-byte buffer
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error  // the error after the frames, when a sentinel
		errText string // or its text
	}{
		{name: "empty stream", in: "", wantErr: io.EOF},
		{name: "two frames", in: "5 hello3 abc", want: []string{"hello", "abc"}, wantErr: io.EOF},
		{name: "frame larger than the buffer", in: "100 " + long, want: []string{long}, wantErr: io.EOF},
		{name: "cut inside a message", in: "5 hel", wantErr: io.ErrUnexpectedEOF},
		{name: "cut inside a long message", in: "100 xx", wantErr: io.ErrUnexpectedEOF},
		{name: "cut inside the length", in: "12", wantErr: io.ErrUnexpectedEOF},
		{name: "leading zero", in: "05 hello", errText: "unexpected byte '0'"},
		{name: "not a length", in: "<13>1 - - -", errText: "unexpected byte '<'"},
		{name: "no space", in: "5\nhello", errText: `unexpected byte '\n'`},
		{name: "too long", in: "1000001 x", errText: "more than 1000000 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var got []string
			var err error
			for {
				var msg []byte
				if msg, err = ReadFrame(r, 1000000); err != nil {
					break
				}
				got = append(got, string(msg))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("frames (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			case tt.errText != "" && (err == nil || !strings.Contains(err.Error(), tt.errText)):
				t.Errorf("error = %v, want one containing %q", err, tt.errText)
			}
		})
	}
}

// readAll reads frames until an error and returns them re-encoded, and
// the error.
func readAll(data []byte, maxLen int) ([]byte, error) {
	r := bufio.NewReaderSize(bytes.NewReader(data), 16)
	var out []byte
	for {
		msg, err := ReadFrame(r, maxLen)
		if err != nil {
			return out, err
		}
		out = append(out, []byte(strconv.Itoa(len(msg))+" ")...)
		out = append(out, msg...)
	}
}
