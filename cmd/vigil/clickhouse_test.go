package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
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

// chProxy stands between Vigil and ClickHouse: while down it refuses
// every connection (accepts and closes at once), while up it relays.
type chProxy struct {
	ln     net.Listener
	target string
	up     atomic.Bool
	mu     sync.Mutex
	conns  map[net.Conn]bool
	wg     sync.WaitGroup
}

func newCHProxy(t *testing.T, target string) *chProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &chProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			if !p.up.Load() {
				c.Close()
				continue
			}
			p.wg.Go(func() { p.relay(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *chProxy) relay(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[s] = true, true
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	cp := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		done <- struct{}{}
	}
	go cp(s, c)
	go cp(c, s)
	<-done
	c.Close()
	s.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, s)
	p.mu.Unlock()
}

// TestServe_ClickHouseDownAtStart: with ClickHouse unreachable, serve
// starts, ingest accepts, /readyz says degraded (200); once ClickHouse
// answers, the store group catches up and every event is stored once.
func TestServe_ClickHouseDownAtStart(t *testing.T) {
	addr := os.Getenv("VIGIL_TEST_CLICKHOUSE")
	if addr == "" {
		t.Skip("VIGIL_TEST_CLICKHOUSE is not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	db := "vigil_down_" + hex.EncodeToString(b[:])
	conn, err := clickhouse.Open(&clickhouse.Options{Addr: []string{addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		conn.Close()
	})
	proxy := newCHProxy(t, addr)
	dataDir := t.TempDir()
	cfgFile := filepath.Join(t.TempDir(), "vigil.yaml")
	cfg := fmt.Sprintf("store:\n  clickhouse:\n    addr: [%s]\n    database: %s\n    dial_timeout: 1s\n  consumer: {max_backoff: 1s}\n", proxy.ln.Addr(), db)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, _ := runVigil(t, "admin", "device", "add", "--data-dir", dataDir, "--user", "ch@example.com", "--name", "c")
	var dev struct{ Token string }
	if json.Unmarshal([]byte(out), &dev) != nil {
		t.Fatalf("device add: %s", out)
	}
	srvAddr, _, _ := startServe(t, "--config", cfgFile, "--data-dir", dataDir, "--listen", "127.0.0.1:0")

	readyz := func() (int, readyBody) {
		code, body := get(t, http.DefaultClient, "http://"+srvAddr+"/readyz")
		var rb readyBody
		if err := json.Unmarshal([]byte(body), &rb); err != nil {
			t.Fatalf("readyz: %v: %s", err, body)
		}
		return code, rb
	}
	if code, rb := readyz(); code != http.StatusOK || rb.Status != "degraded" || !storeState(rb, "degraded") {
		t.Errorf("readyz while ClickHouse is down = %d %+v, want 200 degraded", code, rb)
	}

	const total, batch = 100_000, 10_000
	for n := 0; n < total; n += batch {
		var body bytes.Buffer
		for i := n; i < n+batch; i++ {
			body.WriteString(crashEvent(fmt.Sprintf("down-%06d", i), i))
			body.WriteByte('\n')
		}
		res, status, err := post(http.DefaultClient, srvAddr, dev.Token, body.Bytes())
		if err != nil || status != http.StatusAccepted || res.Accepted != batch {
			t.Fatalf("post while ClickHouse is down: %d %+v %v", status, res, err)
		}
	}

	proxy.up.Store(true)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var rows, ids uint64
		err := conn.QueryRow(context.Background(), "SELECT count(), uniqExact(event_id) FROM "+db+".events WHERE event = 'user.signin'").Scan(&rows, &ids)
		if err == nil && rows >= total {
			if rows != total || ids != total {
				t.Fatalf("stored %d rows of %d ids, want %d once each", rows, ids, total)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stored %d rows (%v) after ClickHouse came back, want %d", rows, err, total)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if code, rb := readyz(); code != http.StatusOK || rb.Status != "ready" {
		t.Errorf("readyz once caught up = %d %+v, want 200 ready", code, rb)
	}
}

func storeState(rb readyBody, state string) bool {
	for _, c := range rb.Components {
		if c.Name == "store" {
			return c.State == state
		}
	}
	return false
}
