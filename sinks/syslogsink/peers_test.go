package syslogsink_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/peertest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// The oversize policy against real receivers with their default limits
// (syslog-ng 65536 bytes, rsyslog 8096): whatever the policy, no record
// the receiver writes is invalid JSON or a fragment of an event; with
// dead_letter the events over the limit are in the dead letter, with
// truncate they arrive as valid JSON marked "truncated": true.

// fileNotification is a file.notification of about size bytes, as two
// long paths make it.
func fileNotification(i, size int) eventlog.Record {
	id := fmt.Sprintf("01KMZQ4G9V%016d", i)
	half := strings.Repeat(fmt.Sprintf("dir%d/", i%10), size/2/5)
	v := fmt.Sprintf(`{"topic":"FILE","event":"file.notification","timestamp":"2026-11-23T10:00:00.%03dZ","event_id":%q,"received_at":"2026-11-23T10:00:01.000Z","verified_submitter":{"user_id":"a@example.com","device_id":"0123456789abcdef0123456789abcdef"},"user":"a@example.com","path":{"sid":"0123456789abcdef0123456789abcdef","relative_path":%q},"path_to":{"sid":"0123456789abcdef0123456789abcdef","relative_path":%q}}`,
		i%1000, id, half, half)
	return eventlog.Record{ID: id, Key: []byte("a@example.com"), Value: []byte(v)}
}

// peerCase is one sink against one receiver input.
type peerCase struct {
	kind  string // the sink's kind, for its default limit
	limit int    // max_frame_bytes; 0 for the kind's default
	sink  func(addr string) (sinks.Sink, error)
}

func syslogKind(addr string) (sinks.Sink, error) {
	return syslogsink.New(syslogsink.Config{Address: addr, Hostname: "vigil-test", Settle: 100 * time.Millisecond})
}

func tcpKind(addr string) (sinks.Sink, error) {
	return tcp.New(tcp.Config{Address: addr, Settle: 100 * time.Millisecond})
}

// runOversize sends batch through a forwarder with policy to input of p
// and checks what the receiver wrote and what the dead letter holds.
func runOversize(t *testing.T, p *peertest.Peer, input string, pc peerCase, policy string, batch []eventlog.Record) {
	t.Helper()
	s, err := pc.sink(p.Addr(input))
	if err != nil {
		t.Fatal(err)
	}
	dl, err := sinks.OpenDeadLetter(filepath.Join(t.TempDir(), "dead.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	cfg := sinks.Config{Name: "peer", MaxFrameBytes: config.ByteSize(pc.limit), Oversize: policy}
	cfg.SetDefaults()
	fc := cfg.Forwarder(pc.kind, dl, nil, nil)
	limit := fc.MaxFrameBytes
	fw, err := sinks.NewForwarder(s, fc)
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	framer := s.(sinks.Framer)
	// The receiver's file may hold the records of earlier cases.
	before := len(p.LinesOf(input))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		// Handle returns an error while the receiver is not listening
		// yet or a connection broke: the consume loop would hand the
		// batch over again, so does this.
		if err := fw.Handle(ctx, batch); err == nil {
			break
		} else if ctx.Err() != nil {
			t.Fatalf("handle: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	byID := map[string]eventlog.Record{}
	var over, fit []string
	for _, r := range batch {
		byID[r.ID] = r
		if framer.FrameSize(r) > limit {
			over = append(over, r.ID)
		} else {
			fit = append(fit, r.ID)
		}
	}
	if len(over) == 0 || len(fit) == 0 {
		t.Fatalf("the batch has %d events over the limit %d and %d within: want both", len(over), limit, len(fit))
	}
	want := len(batch)
	if policy == sinks.OversizeDeadLetter {
		want = len(fit)
	}
	p.WaitLinesOf(input, before+want, time.Minute)
	// A fragment would be an extra record, written with the others: a
	// moment later, look at all of them.
	time.Sleep(300 * time.Millisecond)
	lines := p.LinesOf(input)[before:]
	seen := map[string]int{}
	for i, line := range lines {
		line = []byte(strings.TrimSpace(string(line)))
		var e struct {
			EventID   string `json:"event_id"`
			Truncated bool   `json:"truncated"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			t.Errorf("record %d at the receiver is not JSON (%v): %.200s", i, err, line)
			continue
		}
		orig, ok := byID[e.EventID]
		switch {
		case !ok:
			t.Errorf("record %d: event_id %q was not sent", i, e.EventID)
		case e.Truncated:
			if framer.FrameSize(eventlog.Record{Value: line}) > limit {
				t.Errorf("record %d: truncated %s is still over the limit", i, e.EventID)
			}
		case string(line) != string(orig.Value):
			t.Errorf("record %d: %s is not the event as sent: %.200s", i, e.EventID, line)
		}
		if e.Truncated && policy != sinks.OversizeTruncate {
			t.Errorf("record %d: %s truncated with policy %s", i, e.EventID, policy)
		}
		seen[e.EventID]++
	}
	for _, id := range fit {
		if seen[id] != 1 {
			t.Errorf("event %s (within the limit) arrived %d times, want once", id, seen[id])
		}
	}
	parked, err := dl.List(context.Background(), "peer", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range over {
		switch policy {
		case sinks.OversizeDeadLetter:
			if seen[id] != 0 {
				t.Errorf("event %s over the limit arrived, want it parked", id)
			}
		case sinks.OversizeTruncate:
			if seen[id] != 1 {
				t.Errorf("event %s over the limit arrived %d times truncated, want once", id, seen[id])
			}
		}
	}
	if policy == sinks.OversizeDeadLetter {
		if len(parked) != len(over) {
			t.Errorf("%d events parked, want the %d over the limit", len(parked), len(over))
		}
		for _, pk := range parked {
			if pk.Reason != sinks.OversizeReason {
				t.Errorf("parked %s with reason %q, want %q", pk.EventID, pk.Reason, sinks.OversizeReason)
			}
		}
	} else if len(parked) != 0 {
		t.Errorf("%d events parked with policy %s, want none", len(parked), policy)
	}
}

// mixedBatch holds small events, 9 KB ones and one of about 70 KB.
func mixedBatch() []eventlog.Record {
	var batch []eventlog.Record
	for i := range 12 {
		switch {
		case i == 5:
			batch = append(batch, fileNotification(i, 70000))
		case i%2 == 0:
			batch = append(batch, fileNotification(i, 9000))
		default:
			batch = append(batch, fileNotification(i, 500))
		}
	}
	return batch
}

func TestOversize_SyslogNG(t *testing.T) {
	p := peertest.SyslogNG(t, peertest.Options{Inputs: []peertest.Input{{Name: "tcp", Kind: peertest.Lines}, {Name: "syslog", Kind: peertest.Syslog}}})
	for _, policy := range []string{sinks.OversizeDeadLetter, sinks.OversizeTruncate} {
		t.Run("tcp to network()/"+policy, func(t *testing.T) {
			runOversize(t, p, "tcp", peerCase{kind: "tcp", sink: tcpKind}, policy, mixedBatch())
		})
		t.Run("syslog to syslog()/"+policy, func(t *testing.T) {
			// syslog-ng takes 65536 bytes; the syslog kind's default is
			// rsyslog's, so the sink is set to syslog-ng's.
			runOversize(t, p, "syslog", peerCase{kind: "syslog", limit: 65536, sink: syslogKind}, policy, mixedBatch())
		})
	}
}

func TestOversize_Rsyslog(t *testing.T) {
	p := peertest.Rsyslog(t, peertest.Options{Inputs: []peertest.Input{{Name: "tcp", Kind: peertest.Lines}, {Name: "syslog", Kind: peertest.Syslog}}})
	for _, policy := range []string{sinks.OversizeDeadLetter, sinks.OversizeTruncate} {
		t.Run("syslog to imtcp/"+policy, func(t *testing.T) {
			runOversize(t, p, "syslog", peerCase{kind: "syslog", sink: syslogKind}, policy, mixedBatch())
		})
		t.Run("tcp to imtcp/"+policy, func(t *testing.T) {
			runOversize(t, p, "tcp", peerCase{kind: "tcp", limit: 8096, sink: tcpKind}, policy, mixedBatch())
		})
	}
}
