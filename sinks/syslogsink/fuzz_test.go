package syslogsink

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
)

func seedFrames(f *testing.F) {
	if wire, err := os.ReadFile(filepath.Join("testdata", "wire.golden")); err == nil {
		f.Add(wire)
	}
	for _, s := range []string{"", "5 hello", "0 ", "05 x", "3 abc4 defg", "99999999999999999999 x", "1 "} {
		f.Add([]byte(s))
	}
}

// FuzzReadFrame: whatever the stream, the frames read are a prefix of it,
// each exactly as long as its length says.
func FuzzReadFrame(f *testing.F) {
	seedFrames(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := readAll(data, 1<<16)
		if err == nil {
			t.Fatal("readAll ended without an error")
		}
		if !bytes.HasPrefix(data, out) {
			t.Fatalf("frames read %q are not a prefix of the stream %q", out, data)
		}
	})
}

// FuzzParseMessage: a message that parses has fields within RFC 5424's
// ranges, and its MSG is the end of the input.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - 'su root' failed",
		`<165>1 2003-10-11T22:14:15.003Z h evntslog - ID47 [exampleSDID@32473 iut="3" a="\]"][p@32473 class="high"]`,
		"<0>1 - - - - - - ",
		`<14>1 - h a 42 - [x@32473 v="a\"b\]c\\"] {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		if m.Facility < 0 || m.Facility > 23 || m.Severity < 0 || m.Severity > 7 {
			t.Errorf("facility %d, severity %d out of range", m.Facility, m.Severity)
		}
		for _, s := range []string{m.Hostname, m.AppName, m.ProcID, m.MsgID} {
			if !(s == "" || headerField(s, 255)) {
				t.Errorf("header field %q holds a space or a non-printable byte", s)
			}
		}
		if m.Msg != nil && !bytes.HasSuffix(data, m.Msg) {
			t.Errorf("MSG %q is not the end of the message", m.Msg)
		}
	})
}

// FuzzFrame: any event the formatter accepts reads back, through ReadFrame
// and ParseMessage, as one message whose MSG is the event, unchanged.
func FuzzFrame(f *testing.F) {
	f.Add([]byte(`{"topic":"FILE","event":"file.transfer","timestamp":"2026-03-30T21:18:19.123Z","event_id":"x","path":"Résumé"}`), "h", "local3")
	f.Add([]byte(`{"event":"e","timestamp":"2026-03-30T21:18:19Z","topic":"ALERT"}`), "vigil-1.example.com", "")
	f.Add([]byte(`{"topic":"T","event":"a b\u00e9\n","timestamp":"0001-01-01T00:00:00+01:00"}`), "h", "kern")
	f.Add([]byte(`{"topic":"","event":"e","timestamp":"2026-02-29T10:00:00.000Z"}`), "h", "user")
	f.Add([]byte(`{"topic":"FILE","event":"e","timestamp":"2024-02-29T23:59:59.999Z","event_id":"01"}`), "h", "user")
	f.Fuzz(func(t *testing.T, event []byte, host, facility string) {
		fr, err := NewFormatter(facility, "", host)
		if err != nil || !headerField(host, 255) {
			return
		}
		out, err := fr.frame(nil, eventlog.Record{Value: event})
		if err != nil {
			return
		}
		r := bufio.NewReader(bytes.NewReader(out))
		msg, err := ReadFrame(r, len(out))
		if err != nil {
			t.Fatalf("read back %q: %v", out, err)
		}
		if _, err := r.ReadByte(); err == nil {
			t.Fatalf("bytes left after the frame: its length is wrong in %q", out)
		}
		m, err := ParseMessage(msg)
		if err != nil {
			t.Fatalf("parse back %q: %v", msg, err)
		}
		if !bytes.Equal(m.Msg, event) {
			t.Fatalf("MSG %q, want the event %q", m.Msg, event)
		}
		if m.Hostname != host {
			t.Errorf("hostname %q, want %q", m.Hostname, host)
		}
		// The header says what the event's envelope says.
		env, err := sinks.ParseEnvelope(event)
		if err != nil {
			t.Fatalf("framed an event whose envelope does not parse: %v", err)
		}
		if want := env.Timestamp.Truncate(time.Millisecond); !m.Timestamp.Equal(want) {
			t.Errorf("timestamp %v, want %v", m.Timestamp, want)
		}
		if want := string(appendMsgID(nil, []byte(env.Event))); m.MsgID != want {
			t.Errorf("msgid %q, want %q", m.MsgID, want)
		}
		if wantSev := map[bool]int{true: SeverityNotice, false: SeverityInformational}[env.Topic == alertTopic]; m.Severity != wantSev {
			t.Errorf("severity %d for topic %q, want %d", m.Severity, env.Topic, wantSev)
		}
	})
}
