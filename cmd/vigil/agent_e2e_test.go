package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
)

// transferEvents returns n valid file.transfer events marked "n": first..
func transferEvents(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"topic":"FILE","event":"file.transfer","timestamp":%d,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"%032x"},"event_time":"2016-03-30T21:18:19.044Z","operations":["CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"a/%d.pdf"},"destination_device":"b88a707bd70586f7a9f2dfc8fee2def5","destination_user":"bob@example.com","n":%d}`+"\n",
			1459372699123+int64(i), i, i, i)
	}
	return b.Bytes()
}

// TestAgent_RealServer_Kill9 runs the agent against a real vigil serve,
// kills the agent with SIGKILL mid-upload several times, and checks that
// the log holds every event it was given, exactly once, with the
// device's sequence numbers and no gap.
func TestAgent_RealServer_Kill9(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	out, _, code := runVigil(t, "admin", "device", "add", "--data-dir", dataDir, "--user", "agent@example.com", "--name", "a")
	var dev struct {
		Token    string
		DeviceID string `json:"device_id"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &dev) != nil {
		t.Fatalf("device add: %s", out)
	}
	srv := startServer(t, bin, dataDir)

	watch, spool := t.TempDir(), t.TempDir()
	const files, per = 12, 25
	for i := range files {
		name := fmt.Sprintf("%03d.ndjson", i)
		tmp := filepath.Join(watch, "."+name)
		if err := os.WriteFile(tmp, transferEvents(i*per, per), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(watch, name)); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"--server", "http://" + srv.addr, "--token", dev.Token, "--spool", spool, "--watch", watch, "--once",
		"--batch-size", "7", "--initial-backoff", "10ms", "--max-backoff", "100ms", "--progress-every", "0"}
	killed := 0
	for _, after := range []time.Duration{5, 20, 40, 60, 80} {
		p := startAgentProc(t, bin, nil, args...)
		select {
		case <-p.exited:
		case <-time.After(after * time.Millisecond):
			_ = p.cmd.Process.Signal(syscall.SIGKILL)
			<-p.exited
			killed++
		}
	}
	p := startAgentProc(t, bin, nil, args...)
	if code := p.wait(t); code != 0 {
		t.Fatalf("final run: exit %d:\n%s", code, p.stderr.String())
	}
	srv.stop()

	l, err := filelog.Open(logDir(dataDir), filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	seen := map[int]int{}

	alerts := 0
	_ = l.Replay(context.Background(), time.Time{}, func(r eventlog.Record) error {
		switch {
		case strings.Contains(string(r.Value), `"event":"file.transfer"`):
			seen[fastjson.GetInt(r.Value, "n")]++
			if seen[fastjson.GetInt(r.Value, "n")] > 1 {
				t.Logf("again: n=%d seq=%d id=%s", fastjson.GetInt(r.Value, "n"), fastjson.GetInt(r.Value, "seq"), r.ID)
			}
			if fastjson.GetInt(r.Value, "seq") == 0 || fastjson.GetString(r.Value, "verified_submitter", "device_id") != dev.DeviceID {
				t.Errorf("event without seq or with another submitter: %s", r.Value)
			}
		case strings.Contains(string(r.Value), `"event":"alert.device.seq_gap"`):
			alerts++
		}
		return nil
	})
	for i := range files * per {
		if seen[i] != 1 {
			t.Errorf("event %d is in the log %d times", i, seen[i])
		}
	}
	if len(seen) != files*per {
		t.Errorf("%d distinct events in the log, want %d", len(seen), files*per)
	}
	if alerts != 0 {
		t.Errorf("%d sequence-gap alerts; the agent lost nothing", alerts)
	}
	t.Logf("%d kills; %d events delivered exactly once", killed, len(seen))
}
