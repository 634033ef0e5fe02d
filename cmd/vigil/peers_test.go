package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/peertest"
)

// restartRun describes one receiver-restart test: the receiver, and for
// each sink the config section (given the receiver) and the input it
// sends to.
type restartRun struct {
	peer  *peertest.Peer
	sinks []restartSink
	// events, batch and restarts size the run.
	events, batch, restarts int
}

type restartSink struct {
	name, input string
	yaml        string // the sink's item in the sinks list
}

// TestSinks_SyslogNGRestarts: events are posted steadily to vigil serve
// while the syslog-ng that its tcp, tls and syslog sinks send to is
// restarted with SIGTERM 20 times; at the end every acknowledged event is
// at syslog-ng at least once per sink, the same bytes from each.
// Duplicates are allowed (at-least-once) and reported.
func TestSinks_SyslogNGRestarts(t *testing.T) {
	p := peertest.SyslogNG(t, peertest.Options{})
	runRestarts(t, "syslog-ng", restartRun{
		peer: p, events: 20000, batch: 100, restarts: 20,
		sinks: []restartSink{
			{"tcp", "tcp", fmt.Sprintf(`{name: tcp, tcp: {address: %q, settle: 200ms}, min_backoff: 20ms, max_backoff: 300ms}`, p.Addr("tcp"))},
			{"tls", "tls", fmt.Sprintf(`{name: tls, tls: {address: %q, ca_file: %q, settle: 200ms}, min_backoff: 20ms, max_backoff: 300ms}`, p.Addr("tls"), p.CAFile())},
			{"syslog", "syslog", fmt.Sprintf(`{name: syslog, syslog: {address: %q, app_name: vigil, settle: 200ms}, min_backoff: 20ms, max_backoff: 300ms}`, p.Addr("syslog"))},
		},
	})
}

// TestSinks_RsyslogRestarts is the same against rsyslog's imtcp, with the
// tcp and syslog sinks.
func TestSinks_RsyslogRestarts(t *testing.T) {
	p := peertest.Rsyslog(t, peertest.Options{Inputs: []peertest.Input{{Name: "tcp", Kind: peertest.Lines}, {Name: "syslog", Kind: peertest.Syslog}}})
	runRestarts(t, "rsyslog", restartRun{
		peer: p, events: 20000, batch: 100, restarts: 20,
		sinks: []restartSink{
			{"tcp", "tcp", fmt.Sprintf(`{name: tcp, tcp: {address: %q, settle: 200ms}, min_backoff: 20ms, max_backoff: 300ms}`, p.Addr("tcp"))},
			{"syslog", "syslog", fmt.Sprintf(`{name: syslog, syslog: {address: %q, app_name: vigil, settle: 200ms}, min_backoff: 20ms, max_backoff: 300ms}`, p.Addr("syslog"))},
		},
	})
}

func runRestarts(t *testing.T, peerName string, run restartRun) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	var yaml strings.Builder
	yaml.WriteString("sinks:\n")
	for _, s := range run.sinks {
		fmt.Fprintf(&yaml, "  - %s\n", s.yaml)
	}
	config := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(config, []byte(yaml.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	devToken := addDevice(t, dataDir, "alice@example.com", "a")
	apiToken := addToken(t, dataDir, "admin", "ops")
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")

	// The poster sends one batch per token; the test hands out a round
	// of tokens, waits until every sink delivered something new, then
	// restarts the receiver while the round is still being posted. So
	// the restarts fall among steady traffic whatever the machine's
	// speed.
	batches := run.events / run.batch
	perRound := batches / (run.restarts + 1)
	tokens := make(chan struct{}, batches)
	posted := make(chan error, 1)
	go func() {
		client := &http.Client{Timeout: 30 * time.Second}
		for b := range batches {
			<-tokens
			var body bytes.Buffer
			for i := b * run.batch; i < (b+1)*run.batch; i++ {
				body.WriteString(crashEvent(fmt.Sprintf("r-%06d", i), i))
				body.WriteByte('\n')
			}
			res, status, err := post(client, addr, devToken, body.Bytes())
			if err != nil || status != http.StatusAccepted || res.Accepted != run.batch {
				posted <- fmt.Errorf("post batch %d: %d %+v %v", b, status, res, err)
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		posted <- nil
	}()

	given := 0
	give := func(n int) {
		for ; n > 0 && given < batches; n-- {
			tokens <- struct{}{}
			given++
		}
	}
	for r := range run.restarts {
		sizes := map[string]int64{}
		for _, s := range run.sinks {
			sizes[s.name] = run.peer.Size(s.input)
		}
		give(perRound)
		waitFor(t, fmt.Sprintf("every sink to deliver in round %d", r), func() bool {
			for _, s := range run.sinks {
				if run.peer.Size(s.input) <= sizes[s.name] {
					return false
				}
			}
			return true
		})
		run.peer.Restart()
	}
	give(batches)
	select {
	case err := <-posted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("posting did not finish")
	}

	// Every acknowledged event, at least once per sink.
	type result struct {
		received, missing, duplicates int
		missed                        []string
	}
	results := map[string]*result{}
	wire := map[string]string{} // event_id -> its bytes, as the first sink's input wrote them
	deadline := time.Now().Add(60 * time.Second)
	for _, s := range run.sinks {
		for {
			lines := run.peer.LinesOf(s.input)
			if len(lines) >= run.events || time.Now().After(deadline) {
				res := &result{}
				seen := map[string]int{}
				for _, line := range lines {
					var e struct {
						EventID string `json:"event_id"`
					}
					if err := json.Unmarshal(line, &e); err != nil {
						t.Errorf("sink %s: %s wrote a line that is not an event: %.200q", s.name, peerName, line)
						continue
					}
					if !strings.HasPrefix(e.EventID, "r-") {
						continue // an event the server made
					}
					res.received++
					seen[e.EventID]++
					if w, ok := wire[e.EventID]; !ok {
						wire[e.EventID] = string(line)
					} else if w != string(line) {
						t.Errorf("sink %s: event %s arrived as %.300q, another sink sent %.300q", s.name, e.EventID, line, w)
					}
				}
				for i := range run.events {
					id := fmt.Sprintf("r-%06d", i)
					switch n := seen[id]; {
					case n == 0:
						res.missing++
						if len(res.missed) < 5 {
							res.missed = append(res.missed, id)
						}
					case n > 1:
						res.duplicates += n - 1
					}
				}
				if res.missing == 0 || time.Now().After(deadline) {
					results[s.name] = res
					break
				}
			}
			time.Sleep(250 * time.Millisecond)
		}
	}

	status := sinkStatus(t, addr, apiToken)
	for _, s := range run.sinks {
		res := results[s.name]
		st := status[s.name]
		t.Logf("restart-test peer=%s sink=%s restarts=%d sent=%d received=%d missing=%d duplicates=%d resent=%d",
			peerName, s.name, run.restarts, run.events, res.received, res.missing, res.duplicates, st.Resent)
		if res.missing > 0 {
			t.Errorf("sink %s: %d of %d acknowledged events never reached %s (first: %v); vigil's status: %+v; %s's log:\n%s",
				s.name, res.missing, run.events, peerName, res.missed, st, peerName, lastLines(run.peer.Log(), 20))
		}
	}
	if got := run.peer.Starts(); got != run.restarts+1 {
		t.Errorf("%s was started %d times, want %d", peerName, got, run.restarts+1)
	}
}

type sinkCounters struct {
	State  string `json:"state"`
	Sent   uint64 `json:"sent"`
	Resent uint64 `json:"resent"`
	Lag    int64  `json:"lag"`
}

// sinkStatus returns each sink's counters from vigil admin sinks.
func sinkStatus(t *testing.T, addr, token string) map[string]sinkCounters {
	t.Helper()
	stdout, stderr, code := runVigil(t, "admin", "--server", "http://"+addr, "--token", token, "sinks", "--format", "json")
	var list struct {
		Sinks []struct {
			Name string `json:"name"`
			sinkCounters
		} `json:"sinks"`
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil {
		t.Fatalf("admin sinks: %d %s %s", code, stdout, stderr)
	}
	out := map[string]sinkCounters{}
	for _, s := range list.Sinks {
		out[s.Name] = s.sinkCounters
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
