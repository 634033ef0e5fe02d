package sinktest_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestEvents: generated events are canonical-looking wire JSON of about
// 530 bytes, with unique event_ids in increasing order.
func TestEvents(t *testing.T) {
	events := sinktest.Events(3000)
	total := 0
	prev := ""
	for i, r := range events {
		env, err := sinks.ParseEnvelope(r.Value)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if env.EventID != r.ID || r.ID <= prev {
			t.Fatalf("event %d: id %q (envelope %q) after %q, want unique increasing ids", i, r.ID, env.EventID, prev)
		}
		if !strings.HasPrefix(string(r.Value), `{"topic":"`+env.Topic+`","event":"`+env.Event+`","timestamp":"`) || len(r.Key) == 0 {
			t.Fatalf("event %d is not canonical or has no key: %s", i, r.Value)
		}
		prev = r.ID
		total += len(r.Value)
	}
	if avg := total / len(events); avg < 450 || avg > 600 {
		t.Errorf("events average %d bytes, want about 530", avg)
	}
	if next := sinktest.Events(1)[0].ID; next <= prev {
		t.Errorf("a later call's id %q does not follow %q", next, prev)
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("x", 40) // longer than the 16-byte buffer
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr error
	}{
		{"empty", "", nil, io.EOF},
		{"lines", "a\nbc\n", []string{"a", "bc"}, io.EOF},
		{"long line", long + "\n", []string{long}, io.EOF},
		{"cut line", "a\nbc", []string{"a"}, io.ErrUnexpectedEOF},
		{"cut long line", "a\n" + long, []string{"a"}, io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var got []string
			var err error
			for {
				var line []byte
				if line, err = sinktest.ReadLine(r); err != nil {
					break
				}
				got = append(got, string(line))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestStreamReceiver_DropDownUp: the receiver resets the connection after
// the events DropAfter says, refuses connections while down, and takes
// them again once up.
func TestStreamReceiver_DropDownUp(t *testing.T) {
	r := sinktest.NewStreamReceiver(t, sinktest.StreamConfig{ReadEvent: sinktest.ReadLine})
	r.DropAfter(2)
	c, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n"); err != nil {
		t.Fatal(err)
	}
	// The reset ends the connection: reading sees it end.
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("the connection is still open after DropAfter's events")
	}
	want := []string{`{"n":1}`, `{"n":2}`}
	if diff := cmp.Diff(want, received(r)); diff != "" {
		t.Errorf("received (-want +got):\n%s", diff)
	}

	r.Down()
	if c, err := net.Dial("tcp", r.Addr()); err == nil {
		c.Close()
		t.Error("dial succeeded while the receiver is down")
	}
	r.Up()
	c2, err := net.Dial("tcp", r.Addr())
	if err != nil {
		t.Fatalf("dial after Up: %v", err)
	}
	if _, err := io.WriteString(c2, "{\"n\":4}\n"); err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); len(r.Received()) < 3 && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	want = append(want, `{"n":4}`)
	if diff := cmp.Diff(want, received(r)); diff != "" {
		t.Errorf("received after Up (-want +got):\n%s", diff)
	}
}

func received(r sinktest.Receiver) []string {
	var out []string
	for _, ev := range r.Received() {
		out = append(out, string(ev))
	}
	return out
}
