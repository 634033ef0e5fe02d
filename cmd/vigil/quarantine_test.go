package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/schema"
)

// quarantineOne puts a valid event into the quarantine of dataDir, as if
// an older, stricter server had rejected it.
func quarantineOne(t *testing.T, dataDir, raw string) {
	t.Helper()
	q, err := ingest.OpenQuarantine(filepath.Join(dataDir, quarantineDBName))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	err = q.Add(context.Background(), []ingest.Quarantined{{
		ReceivedAt: time.Now(), Reason: "too long", Raw: raw,
		Submitter: schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

const quarantinedSignin = `{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"carol@example.com","authority":"LDAP"}`

func TestAdminQuarantine_DataDir(t *testing.T) {
	dataDir := t.TempDir()
	quarantineOne(t, dataDir, quarantinedSignin)

	out, stderr, code := runVigil(t, "admin", "quarantine", "list", "--data-dir", dataDir)
	if code != 0 || !strings.Contains(out, "too long") || !strings.Contains(out, "alice@example.com") {
		t.Fatalf("list: %d %q %q", code, out, stderr)
	}
	out, stderr, code = runVigil(t, "admin", "quarantine", "replay", "--data-dir", dataDir)
	var res ingest.ReplayResult
	if code != 0 || json.Unmarshal([]byte(out), &res) != nil || res.Replayed != 1 || res.Rejected != 0 {
		t.Fatalf("replay: %d %q %q", code, out, stderr)
	}
	out, _, _ = runVigil(t, "admin", "quarantine", "list", "--data-dir", dataDir, "--format", "json")
	if !strings.Contains(out, `"events": []`) {
		t.Errorf("replayed entry still listed: %s", out)
	}
	out, _, _ = runVigil(t, "admin", "quarantine", "list", "--data-dir", dataDir, "--all")
	if !strings.Contains(out, "too long") {
		t.Errorf("--all does not list the replayed entry: %s", out)
	}

	// The event is in the log with its original submitter, and the replay
	// is audited.
	l, err := filelog.Open(logDir(dataDir), filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var events []string
	_ = l.Replay(context.Background(), time.Time{}, func(r eventlog.Record) error {
		events = append(events, string(r.Value))
		return nil
	})
	if len(events) != 2 || !strings.Contains(events[0], `"user":"carol@example.com"`) ||
		!strings.Contains(events[0], `"verified_submitter":{"user_id":"alice@example.com"`) ||
		!strings.Contains(events[1], `"event":"audit.quarantine.replay"`) || !strings.Contains(events[1], `":local"`) {
		t.Errorf("log after replay: %q", events)
	}
}

func TestAdminQuarantine_Server(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	quarantineOne(t, dataDir, quarantinedSignin)
	out, _, code := runVigil(t, "admin", "token", "add", "--data-dir", dataDir, "--role", "admin", "--name", "ops")
	var tok struct{ Token string }
	if code != 0 || json.Unmarshal([]byte(out), &tok) != nil {
		t.Fatalf("token add: %s", out)
	}
	srv := startServer(t, bin, dataDir)
	defer srv.stop()
	server := "http://" + srv.addr

	// While the server runs, replay on the data dir is refused clearly.
	_, stderr, code := runVigil(t, "admin", "quarantine", "replay", "--data-dir", dataDir)
	if code == 0 || !strings.Contains(stderr, "--server") {
		t.Errorf("replay on a served data dir: %d %q", code, stderr)
	}
	out, stderr, code = runVigil(t, "admin", "--server", server, "--token", tok.Token, "quarantine", "list")
	if code != 0 || !strings.Contains(out, "too long") {
		t.Fatalf("list: %d %q %q", code, out, stderr)
	}
	out, stderr, code = runVigil(t, "admin", "--server", server, "--token", tok.Token, "quarantine", "replay")
	if code != 0 || !strings.Contains(out, `"replayed": 1`) {
		t.Fatalf("replay: %d %q %q", code, out, stderr)
	}
	_, stderr, code = runVigil(t, "admin", "--server", server, "--token", "wrong", "quarantine", "list")
	if code == 0 || !strings.Contains(stderr, "unknown_token") {
		t.Errorf("bad token: %d %q", code, stderr)
	}
}
