package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestQuery_EndToEnd: events posted to ingest are stored by the store
// consumer group and found by vigil query, in every format.
func TestQuery_EndToEnd(t *testing.T) {
	dataDir := t.TempDir()
	devToken := addDevice(t, dataDir, "alice@example.com", "a")
	apiToken := addToken(t, dataDir, "auditor", "soc")
	addr, _, _ := startServe(t, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	server := "http://" + addr

	var body strings.Builder
	for i := range 30 {
		body.WriteString(crashEvent(fmt.Sprintf("q-%02d", i), i) + "\n")
	}
	res, status, err := post(http.DefaultClient, addr, devToken, []byte(body.String()))
	if err != nil || status != http.StatusAccepted || res.Accepted != 30 {
		t.Fatalf("post: %d %+v %v", status, res, err)
	}

	// Queryable within a couple of seconds of the 202.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, stderr, code := runVigil(t, "query", "--server", server, "--token", apiToken, "--event", "user.signin", "--format", "ndjson")
		if code != 0 {
			t.Fatalf("query: %d %s", code, stderr)
		}
		if n := strings.Count(out, "\n"); n == 30 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("%d of 30 events queryable after 10 s", n)
		}
		time.Sleep(100 * time.Millisecond)
	}

	out, stderr, code := runVigil(t, "query", "--server", server, "--token", apiToken, "--user", "u3@example.com", "--since", "3650d")
	if code != 0 || !strings.Contains(out, "TIMESTAMP") || !strings.Contains(out, "user.signin") {
		t.Errorf("table: %d %q %q", code, out, stderr)
	}
	out, _, _ = runVigil(t, "query", "--server", server, "--token", apiToken, "--event", "user.signin", "--limit", "5", "--format", "json")
	var page struct {
		Events     []json.RawMessage `json:"events"`
		NextCursor string            `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(out), &page); err != nil || len(page.Events) != 5 || page.NextCursor == "" {
		t.Errorf("json page: %v %d %q", err, len(page.Events), page.NextCursor)
	}
	file := filepath.Join(t.TempDir(), "export.csv")
	if _, stderr, code := runVigil(t, "query", "--server", server, "--token", apiToken, "--event", "user.signin", "--format", "csv", "--output", file); code != 0 {
		t.Fatalf("export: %s", stderr)
	}
	data, _ := os.ReadFile(file)
	if n := strings.Count(string(data), "\nuser.signin") + strings.Count(string(data), ",user.signin,"); n != 30 {
		t.Errorf("csv export holds %d events, want 30:\n%s", n, data)
	}
	// The queries themselves are audit events, and findable.
	out, _, _ = runVigil(t, "query", "--server", server, "--token", apiToken, "--event", "audit.query", "--format", "ndjson")
	if !strings.Contains(out, `":token:soc"`) {
		t.Errorf("no audit.query events found: %q", out)
	}
	// Without a token, a clear error.
	t.Setenv(tokenEnv, "")
	if _, stderr, code := runVigil(t, "query", "--server", server); code == 0 || !strings.Contains(stderr, "token") {
		t.Errorf("no token: %d %q", code, stderr)
	}
}
