package syslogsink

import (
	"bufio"
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

func TestFrame(t *testing.T) {
	const transfer = `{"topic":"FILE","event":"file.transfer","timestamp":"2026-03-30T21:18:19.123Z","event_id":"01KMZQ4G9V0000000000000001","path":"Résumé.pdf"}`
	tests := []struct {
		name  string
		cfg   Config
		value string
		want  Message
	}{
		{
			name:  "defaults",
			cfg:   Config{Hostname: "h"},
			value: transfer,
			want: Message{Facility: 1, Severity: SeverityInformational, Version: 1, Hostname: "h", AppName: "vigil",
				Timestamp: time.Date(2026, 3, 30, 21, 18, 19, 123e6, time.UTC), MsgID: "file.transfer"},
		},
		{
			name:  "alert topic is a notice",
			cfg:   Config{Hostname: "h", Facility: "local7", AppName: "vigil-eu"},
			value: `{"topic":"ALERT","event":"alert.log.skipped","timestamp":"2026-03-30T21:18:19.000Z","group":"sink.siem","skipped":12}`,
			want: Message{Facility: 23, Severity: SeverityNotice, Version: 1, Hostname: "h", AppName: "vigil-eu",
				Timestamp: time.Date(2026, 3, 30, 21, 18, 19, 0, time.UTC), MsgID: "alert.log.skipped"},
		},
		{
			name:  "timestamp with an offset is sent in UTC",
			cfg:   Config{Hostname: "h", Facility: "audit"},
			value: `{"topic":"USER","event":"user.signin","timestamp":"2026-03-30T23:18:19.5+02:00","user":"a@example.com"}`,
			want: Message{Facility: 13, Severity: SeverityInformational, Version: 1, Hostname: "h", AppName: "vigil",
				Timestamp: time.Date(2026, 3, 30, 21, 18, 19, 500e6, time.UTC), MsgID: "user.signin"},
		},
		{
			name:  "long and odd event names are cut and cleaned",
			cfg:   Config{Hostname: "h"},
			value: `{"topic":"X","event":"custom.évent name.that.is.much.longer.than.allowed","timestamp":"2026-03-30T21:18:19.000Z"}`,
			want: Message{Facility: 1, Severity: SeverityInformational, Version: 1, Hostname: "h", AppName: "vigil",
				Timestamp: time.Date(2026, 3, 30, 21, 18, 19, 0, time.UTC), MsgID: "custom.__vent_name.that.is.much."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := NewFormatter(tt.cfg.Facility, tt.cfg.AppName, tt.cfg.Hostname)
			if err != nil {
				t.Fatal(err)
			}
			prefix := []byte("previous frame|")
			out, err := f.frame(bytes.Clone(prefix), eventlog.Record{Value: []byte(tt.value)})
			if err != nil {
				t.Fatalf("frame: %v", err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("frame did not append to dst: %q", out)
			}
			r := bufio.NewReader(bytes.NewReader(out[len(prefix):]))
			msg, err := ReadFrame(r, 1<<16)
			if err != nil {
				t.Fatalf("read back: %v", err)
			}
			if rest, _ := r.Peek(1); len(rest) != 0 {
				t.Errorf("bytes after the frame: its length is wrong")
			}
			m, err := ParseMessage(msg)
			if err != nil {
				t.Fatalf("parse back %q: %v", msg, err)
			}
			tt.want.Msg = []byte(tt.value)
			if diff := cmp.Diff(tt.want, m); diff != "" {
				t.Errorf("message (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFrame_Errors(t *testing.T) {
	tests := []struct {
		name, value, wantErr string
	}{
		{"not JSON", `hello`, "parse event"},
		{"no timestamp", `{"topic":"FILE","event":"file.transfer"}`, "required"},
		{"UTC year beyond four digits", `{"topic":"FILE","event":"e","timestamp":"9999-12-31T23:30:00.000-01:00"}`, "four digits"},
		{"last representable time", `{"topic":"FILE","event":"e","timestamp":"9999-12-31T23:59:59.999Z"}`, ""},
	}
	f, err := NewFormatter("", "", "h")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.frame(nil, eventlog.Record{Value: []byte(tt.value)})
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("frame() = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("frame() = %v, want an error containing %q", err, tt.wantErr)
			}
			if len(out) != 0 {
				t.Errorf("frame() appended %q on error", out)
			}
		})
	}
}

// TestFrameSize: the size the sink reports for the frame limit is the
// length of the frame it writes, octet count included, whatever the
// event and wherever the count gains a digit.
func TestFrameSize(t *testing.T) {
	s, err := New(Config{Address: "127.0.0.1:1", Hostname: "host.example.com", Facility: "local7"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := NewFormatter("local7", "", "host.example.com")
	if err != nil {
		t.Fatal(err)
	}
	values := []string{
		`{"topic":"FILE","event":"file.transfer","timestamp":"2026-03-30T21:18:19.123Z","event_id":"01KMZQ4G9V0000000000000001"}`,
		`{"topic":"ALERT","event":"alert.log.skipped","timestamp":"2026-03-30T21:18:19.000Z","group":"sink.siem","skipped":12}`,
		`{"topic":"USER","event":"user.signin","timestamp":"2026-03-30T23:18:19.5+02:00","user":"a@example.com"}`,
		`{"topic":"X","event":"custom.évent name.that.is.much.longer.than.allowed","timestamp":"2026-03-30T21:18:19.000Z"}`,
	}
	for pad := range 12000 {
		if pad%997 == 0 || (pad > 9700 && pad < 10000) {
			values = append(values, `{"topic":"FILE","event":"file.transfer","timestamp":"2026-03-30T21:18:19.123Z","path":"`+strings.Repeat("a", pad)+`"}`)
		}
	}
	for _, v := range values {
		r := eventlog.Record{Value: []byte(v)}
		frame, err := f.frame(nil, r)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.FrameSize(r); got != len(frame) {
			t.Errorf("FrameSize = %d, want %d, the frame's length, for an event of %d bytes", got, len(frame), len(v))
		}
	}
}
