package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
)

// TestServe_ClickHouseStore runs serve with store.clickhouse from the
// config file against the ClickHouse that VIGIL_TEST_CLICKHOUSE names:
// posted events are stored there and found by vigil query.
func TestServe_ClickHouseStore(t *testing.T) {
	addr := os.Getenv("VIGIL_TEST_CLICKHOUSE")
	if addr == "" {
		t.Skip("VIGIL_TEST_CLICKHOUSE is not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := "vigil_serve_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
		if err == nil {
			_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			conn.Close()
		}
	})
	dataDir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	if err := os.WriteFile(cfgFile, fmt.Appendf(nil, "store:\n  clickhouse:\n    addr: [%s]\n    database: %s\n", addr, db), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runVigil(t, "admin", "device", "add", "--data-dir", dataDir, "--user", "ch@example.com", "--name", "c")
	var dev struct{ Token string }
	if json.Unmarshal([]byte(out), &dev) != nil {
		t.Fatalf("device add: %s", out)
	}
	out, _, _ = runVigil(t, "admin", "token", "add", "--data-dir", dataDir, "--role", "auditor", "--name", "soc")
	var tok struct{ Token string }
	if json.Unmarshal([]byte(out), &tok) != nil {
		t.Fatalf("token add: %s", out)
	}
	srvAddr, _, _ := startServe(t, "--config", cfgFile, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	body := crashEvent("ch-1", 1) + "\n" + crashEvent("ch-2", 2)
	if res, status, err := post(http.DefaultClient, srvAddr, dev.Token, []byte(body)); err != nil || status != 202 || res.Accepted != 2 {
		t.Fatalf("post: %d %+v %v", status, res, err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, stderr, code := runVigil(t, "query", "--server", "http://"+srvAddr, "--token", tok.Token, "--event", "user.signin", "--format", "ndjson")
		if code != 0 {
			t.Fatalf("query: %s", stderr)
		}
		if strings.Contains(out, `"event_id":"ch-1"`) && strings.Contains(out, `"event_id":"ch-2"`) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events not found in ClickHouse: %q", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
