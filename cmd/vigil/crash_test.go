package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
)

// buildVigil builds the vigil binary once for the tests that run it as a
// separate process.
var buildVigil = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "vigil-bin-")
	if err != nil {
		return "", err
	}
	vigilBinDir.Store(dir)
	bin := filepath.Join(dir, "vigil")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// vigilBinDir is the directory buildVigil built into, removed after the
// tests.
var vigilBinDir atomic.Value

// serverProc is `vigil serve` running as a child process.
type serverProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

func startServer(t *testing.T, bin, dataDir string) *serverProc {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serverProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "vigil serving" {
				addr <- line.Addr
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatal("vigil serve exited before serving")
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("vigil serve did not start")
	}
	return p
}

func (p *serverProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *serverProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	<-p.done
}

// crashEvent is a distinct event with an id the test can follow.
func crashEvent(id string, i int) string {
	return fmt.Sprintf(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:%02d:%02d.000Z","user":"u%d@example.com","authority":"LDAP","event_id":%q}`, i/60%60, i%60, i%97, id)
}

type postResult struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct{ Error string }
}

func post(client *http.Client, addr, token string, body []byte) (postResult, int, error) {
	req, err := http.NewRequest("POST", "http://"+addr+"/audit/v1/events", bytes.NewReader(body))
	if err != nil {
		return postResult{}, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := client.Do(req)
	if err != nil {
		return postResult{}, 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return postResult{}, resp.StatusCode, err
	}
	var res postResult
	if resp.StatusCode == http.StatusAccepted {
		err = json.Unmarshal(data, &res)
	}
	return res, resp.StatusCode, err
}

// TestCrash_AcknowledgedEventsSurviveKill9 runs vigil serve as a process,
// sends concurrent batches, kills it with SIGKILL at random moments, and
// checks that every event answered 202 is in the log, that the log holds
// nothing that was not sent, and that re-sending an acknowledged batch
// after the restarts is answered as duplicates.
func TestCrash_AcknowledgedEventsSurviveKill9(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := t.TempDir()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"admin", "device", "add", "--data-dir", dataDir, "--user", "crash@example.com", "--name", "crash"}, &out, &errOut); code != 0 {
		t.Fatalf("device add: %s", errOut.String())
	}
	var dev struct{ Token string }
	if err := json.Unmarshal(out.Bytes(), &dev); err != nil {
		t.Fatal(err)
	}

	const (
		kills     = 20
		clients   = 4
		batchSize = 50
	)
	var (
		mu       sync.Mutex
		sent     = map[string]bool{} // every id sent, acknowledged or not
		acked    = map[string]bool{} // ids of batches answered 202
		ackBatch []byte              // one acknowledged batch, re-sent at the end
	)
	client := &http.Client{Timeout: 10 * time.Second}
	next := 0
	for k := range kills {
		srv := startServer(t, bin, dataDir)
		stopClients := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Go(func() {
				for {
					select {
					case <-stopClients:
						return
					default:
					}
					mu.Lock()
					var b strings.Builder
					var ids []string
					for range batchSize {
						id := fmt.Sprintf("k%02d-c%d-%06d", k, c, next)
						b.WriteString(crashEvent(id, next) + "\n")
						ids = append(ids, id)
						sent[id] = true
						next++
					}
					mu.Unlock()
					res, status, err := post(client, srv.addr, dev.Token, []byte(b.String()))
					if err != nil || status != http.StatusAccepted {
						continue // killed mid-request: these ids may or may not be in the log
					}
					if res.Accepted+res.Duplicates != batchSize {
						t.Errorf("202 %+v for %d fresh events", res, batchSize)
					}
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					if ackBatch == nil {
						ackBatch = []byte(b.String())
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(50+rand.IntN(250)) * time.Millisecond)
		srv.kill()
		close(stopClients)
		wg.Wait()
	}

	// After the kills: an acknowledged batch sent again is duplicates.
	srv := startServer(t, bin, dataDir)
	res, status, err := post(client, srv.addr, dev.Token, ackBatch)
	if err != nil || status != http.StatusAccepted || res.Duplicates != batchSize || res.Accepted != 0 {
		t.Errorf("re-sent acknowledged batch: %d %+v %v; want %d duplicates", status, res, err, batchSize)
	}
	srv.stop()

	l, err := filelog.Open(logDir(dataDir), filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	inLog := map[string]int{}
	audited := 0
	if err := l.Replay(context.Background(), time.Time{}, func(r eventlog.Record) error {
		if strings.Contains(string(r.Value), `"event":"user.signin"`) {
			inLog[r.ID]++
		}
		if strings.Contains(string(r.Value), `"event":"audit.device.add"`) {
			audited++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	missing, invented, doubled := 0, 0, 0
	for id := range acked {
		if inLog[id] == 0 {
			missing++
		}
	}
	for id, n := range inLog {
		if !sent[id] {
			invented++
		}
		if n > 1 {
			doubled++
		}
	}
	t.Logf("%d kills; %d events sent, %d acknowledged, %d in the log", kills, len(sent), len(acked), len(inLog))
	if len(acked) == 0 {
		t.Fatal("no batch was acknowledged")
	}
	// The device was added before the first start: the server relayed
	// its audit event from the credential store's outbox, once.
	if audited != 1 {
		t.Errorf("audit.device.add is in the log %d times, want once", audited)
	}
	if missing > 0 || invented > 0 || doubled > 0 {
		t.Errorf("%d acknowledged events missing, %d invented, %d stored twice", missing, invented, doubled)
	}
}
