package main

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

// lineReceiver collects newline-delimited JSON events from any number of
// connections, over TCP or TLS, and can be taken down and brought back on
// the same address.
type lineReceiver struct {
	t    *testing.T
	addr string
	tls  *tls.Config
	// next reads one event's JSON from a connection (default: a line).
	next func(*bufio.Reader) ([]byte, error)

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]bool
	ids   []string
	bad   []string
	wg    sync.WaitGroup
}

func newLineReceiver(t *testing.T, tlsConfig *tls.Config) *lineReceiver {
	return newReceiver(t, tlsConfig, nil)
}

func newReceiver(t *testing.T, tlsConfig *tls.Config, next func(*bufio.Reader) ([]byte, error)) *lineReceiver {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &lineReceiver{t: t, addr: ln.Addr().String(), tls: tlsConfig, next: next, conns: map[net.Conn]bool{}}
	r.serve(ln)
	t.Cleanup(r.down)
	return r
}

func (r *lineReceiver) serve(ln net.Listener) {
	if r.tls != nil {
		ln = tls.NewListener(ln, r.tls)
	}
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.ln != ln {
				// down closed the listener and its connections while
				// this one was being accepted.
				r.mu.Unlock()
				c.Close()
				return
			}
			r.conns[c] = true
			r.mu.Unlock()
			r.wg.Go(func() { r.read(c) })
		}
	})
}

func (r *lineReceiver) read(c net.Conn) {
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	br := bufio.NewReaderSize(c, 1<<20)
	next := r.next
	if next == nil {
		next = func(br *bufio.Reader) ([]byte, error) { return br.ReadSlice('\n') }
	}
	for {
		event, err := next(br)
		if err != nil {
			return
		}
		var e struct {
			EventID string `json:"event_id"`
		}
		r.mu.Lock()
		if err := json.Unmarshal(event, &e); err != nil || e.EventID == "" {
			r.bad = append(r.bad, string(event))
		} else {
			r.ids = append(r.ids, e.EventID)
		}
		r.mu.Unlock()
	}
}

// down closes the listener and every connection.
func (r *lineReceiver) down() {
	r.mu.Lock()
	if r.ln != nil {
		r.ln.Close()
		r.ln = nil
	}
	for c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// up listens again on the same address.
func (r *lineReceiver) up() {
	var ln net.Listener
	var err error
	for range 50 {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.serve(ln)
}

func (r *lineReceiver) received() (ids []string, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]string(nil), r.bad...)
}

// TestSinks_EndToEnd: events posted to ingest reach a TCP and a TLS
// receiver, the TLS one down for the first part of the run; each
// acknowledged event arrives at least once, none is invented; the sink
// status and a replay from the log work through the admin commands.
func TestSinks_EndToEnd(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	_, certFile, keyFile := writeTestCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	plain := newLineReceiver(t, nil)
	secure := newLineReceiver(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	secure.down()

	config := filepath.Join(dir, "vigil.yaml")
	yaml := fmt.Sprintf(`sinks:
  - name: plain
    tcp: {address: %q, settle: 200ms}
  - name: secure
    tls:
      address: %q
      ca_file: %q
    linger: 20ms
  - name: signins
    tcp: {address: %q, settle: 200ms}
    filter: {events: [user.signin], match: {user: u1@example.com}}
    required: false
`, plain.addr, secure.addr, certFile, plain.addr)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	devToken := addDevice(t, dataDir, "alice@example.com", "a")
	apiToken := addToken(t, dataDir, "admin", "ops")
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	server := "http://" + addr

	sent := map[string]bool{}
	postBatch := func(from, n int) {
		var body strings.Builder
		for i := from; i < from+n; i++ {
			id := fmt.Sprintf("s-%04d", i)
			body.WriteString(crashEvent(id, i) + "\n")
		}
		res, status, err := post(http.DefaultClient, addr, devToken, []byte(body.String()))
		if err != nil || status != http.StatusAccepted || res.Accepted != n {
			t.Fatalf("post: %d %+v %v", status, res, err)
		}
	}
	postBatch(0, 300)
	// The plain receiver goes down once it has the first batch; the TLS
	// one has been down from the start.
	waitFor(t, "the plain receiver to get the first batch", func() bool {
		ids, _ := plain.received()
		return len(ids) >= 300
	})
	// Taken down before the batch settled, the receiver could have thrown
	// away what its kernel took: the sink would send the batch again, and
	// the count of s-0000 below would say nothing about the filter. So it
	// goes down once the sink says the batch settled, however long that
	// takes on a busy machine.
	waitFor(t, "the plain sink to settle the first batch", func() bool {
		var list struct {
			Sinks []struct {
				Name      string `json:"name"`
				Settled   int    `json:"settled"`
				Unsettled int    `json:"unsettled"`
			} `json:"sinks"`
		}
		stdout, _, code := runVigil(t, "admin", "--server", server, "--token", apiToken, "sinks", "--format", "json")
		if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil {
			return false
		}
		for _, s := range list.Sinks {
			if s.Name == "plain" {
				return s.Settled >= 300 && s.Unsettled == 0
			}
		}
		return false
	})
	plain.down()
	postBatch(300, 300)

	// Both sinks say so, and wait.
	waitFor(t, "both sinks to report their failure", func() bool {
		var list struct {
			Sinks []struct {
				Name      string `json:"name"`
				State     string `json:"state"`
				LastError string `json:"last_error"`
			} `json:"sinks"`
		}
		stdout, _, code := runVigil(t, "admin", "--server", server, "--token", apiToken, "sinks", "--format", "json")
		if code != 0 || json.Unmarshal([]byte(stdout), &list) != nil {
			return false
		}
		failing := 0
		for _, s := range list.Sinks {
			if (s.Name == "plain" || s.Name == "secure") && s.State == "retrying" && strings.Contains(s.LastError, "connection refused") {
				failing++
			}
		}
		return failing == 2
	})
	stdout, _, code := runVigil(t, "admin", "--server", server, "--token", apiToken, "sinks")
	if code != 0 || !strings.Contains(stdout, "secure") || !strings.Contains(stdout, "retrying") || !strings.Contains(stdout, "plain") {
		t.Errorf("sinks table:\n%s", stdout)
	}

	secure.up()
	plain.up()
	postBatch(600, 300)
	for i := range 900 {
		sent[fmt.Sprintf("s-%04d", i)] = true
	}

	check := func(name string, r *lineReceiver, want map[string]bool) {
		t.Helper()
		var ids, bad []string
		waitFor(t, name+" to receive every event", func() bool {
			ids, bad = r.received()
			got := map[string]bool{}
			for _, id := range ids {
				got[id] = true
			}
			for id := range want {
				if !got[id] {
					return false
				}
			}
			return true
		})
		if len(bad) > 0 {
			t.Errorf("%s received lines that are not events: %q", name, bad[:min(3, len(bad))])
		}
		for _, id := range ids {
			if !want[id] && !strings.HasPrefix(id, "0") { // server-made audit events have ULIDs
				t.Errorf("%s received %s, which was never sent", name, id)
			}
		}
	}
	signins := map[string]bool{}
	for i := range 900 {
		if i%97 == 1 {
			signins[fmt.Sprintf("s-%04d", i)] = true
		}
	}
	check("secure", secure, sent)

	// plain and signins share a receiver: it holds all of plain's events.
	check("plain", plain, sent)
	// The signins sink delivers its copies on its own schedule: plain's
	// having all of its events says nothing of signins' last batch.
	var counts map[string]int
	arrivedTwice := func() bool {
		ids, _ := plain.received()
		counts = map[string]int{}
		for _, id := range ids {
			counts[id]++
		}
		for id := range signins {
			if counts[id] < 2 {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(30 * time.Second)
	for !arrivedTwice() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !arrivedTwice() {
		for id := range signins {
			if counts[id] < 2 {
				t.Errorf("%s arrived %d times, want from both plain and signins", id, counts[id])
			}
		}
	}
	if counts["s-0000"] != 1 {
		t.Errorf("s-0000 (user u0) arrived %d times at the shared receiver, want 1: the signins filter let it through", counts["s-0000"])
	}

	// A replay from the log sends the secure sink everything again.
	before, _ := secure.received()
	stdout, stderr, code := runVigil(t, "admin", "--server", server, "--token", apiToken, "sinks", "replay", "secure", "--since", "1h")
	if code != 0 || !strings.Contains(stdout, `"state": "done"`) {
		t.Fatalf("replay: %d %s %s", code, stdout, stderr)
	}
	// Done means written; the receiver may still be reading.
	waitFor(t, "the replayed events", func() bool {
		after, _ := secure.received()
		return len(after)-len(before) >= 900
	})
	if _, stderr, code := runVigil(t, "admin", "--server", server, "--token", apiToken, "sinks", "replay", "nope", "--since", "1h"); code == 0 || !strings.Contains(stderr, "no such sink") {
		t.Errorf("replay of an unknown sink: %d %s", code, stderr)
	}
	if _, stderr, code := runVigil(t, "admin", "--data-dir", dataDir, "sinks"); code == 0 || !strings.Contains(stderr, "--server") {
		t.Errorf("sinks without --server: %d %s", code, stderr)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSinkRoutes_ByCredential: every sink route, by credential, through
// the real server and credential store.
func TestSinkRoutes_ByCredential(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	recv := newLineReceiver(t, nil)
	config := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("sinks:\n  - {name: siem, tcp: {address: %q}}\n", recv.addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	creds := map[string]string{}
	for _, c := range []struct{ name, args string }{
		{"device", "device add --user a@example.com --name laptop"},
		{"auditor", "token add --role auditor --name soc"},
		{"admin", "token add --role admin --name ops"},
	} {
		out, stderr, code := runVigil(t, append([]string{"admin", "--data-dir", dataDir}, strings.Fields(c.args)...)...)
		var v struct{ Token string }
		if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v.Token == "" {
			t.Fatalf("%s: %s %s", c.args, out, stderr)
		}
		creds[c.name] = v.Token
	}
	creds["unknown"] = "not-a-token"
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")

	routes := []struct {
		method, path, body string
		okStatus           int
		adminOnly          bool
	}{
		{"GET", "/audit/v1/sinks", "", 200, false},
		{"GET", "/audit/v1/sinks/siem", "", 200, false},
		{"GET", "/audit/v1/sinks/siem/deadletter", "", 200, false},
		{"POST", "/audit/v1/sinks/siem/deadletter/replay", "{}", 200, true},
		{"POST", "/audit/v1/sinks/siem/replay", `{"since":"1m"}`, 202, true},
	}
	for _, rt := range routes {
		for _, who := range []string{"none", "unknown", "device", "auditor", "admin"} {
			want := rt.okStatus
			switch {
			case who == "none" || who == "unknown":
				want = http.StatusUnauthorized
			case who == "device", who == "auditor" && rt.adminOnly:
				want = http.StatusForbidden
			}
			t.Run(rt.method+" "+rt.path+" as "+who, func(t *testing.T) {
				req, _ := http.NewRequest(rt.method, "http://"+addr+rt.path, strings.NewReader(rt.body))
				if tok := creds[who]; tok != "" {
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusConflict && rt.okStatus == 202 {
					return // the previous case's replay still runs: allowed through
				}
				if resp.StatusCode != want {
					t.Errorf("status %d, want %d", resp.StatusCode, want)
				}
			})
		}
	}
}

// hecReceiver is a small HTTP Event Collector: it checks the token,
// takes the concatenated event objects, and acknowledges every request.
type hecReceiver struct {
	mu     sync.Mutex
	ids    []string
	nextID int
}

func (h *hecReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Splunk hec-token" {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"text":"Invalid token","code":4}`)
		return
	}
	switch r.URL.Path {
	case "/services/collector/event":
		dec := json.NewDecoder(r.Body)
		var ids []string
		for dec.More() {
			var e struct {
				Index string `json:"index"`
				Event struct {
					EventID string `json:"event_id"`
				} `json:"event"`
			}
			if err := dec.Decode(&e); err != nil || e.Index != "audit" {
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprint(w, `{"text":"Invalid data format","code":6}`)
				return
			}
			ids = append(ids, e.Event.EventID)
		}
		h.mu.Lock()
		h.ids = append(h.ids, ids...)
		h.nextID++
		id := h.nextID
		h.mu.Unlock()
		fmt.Fprintf(w, `{"text":"Success","code":0,"ackId":%d}`, id)
	case "/services/collector/ack":
		var req struct{ Acks []int }
		_ = json.NewDecoder(r.Body).Decode(&req)
		acks := map[string]bool{}
		for _, id := range req.Acks {
			acks[fmt.Sprint(id)] = true
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"acks": acks})
	default:
		http.NotFound(w, r)
	}
}

func (h *hecReceiver) received() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.ids...)
}

// TestSinks_EveryKind: a config with one sink of each kind forwards live
// traffic to each.
func TestSinks_EveryKind(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	_, certFile, keyFile := writeTestCert(t, dir)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	plain := newLineReceiver(t, nil)
	secure := newLineReceiver(t, serverTLS)
	syslog := newReceiver(t, serverTLS, func(br *bufio.Reader) ([]byte, error) {
		frame, err := syslogsink.ReadFrame(br, 1<<20)
		if err != nil {
			return nil, err
		}
		m, err := syslogsink.ParseMessage(frame)
		if err != nil || m.AppName != "vigil-test" || m.Facility != 16 {
			return []byte("bad syslog frame"), nil
		}
		return m.Msg, nil
	})
	hec := &hecReceiver{}
	hecSrv := httptest.NewServer(hec)
	t.Cleanup(hecSrv.Close)

	config := filepath.Join(dir, "vigil.yaml")
	yaml := fmt.Sprintf(`sinks:
  - name: raw
    tcp: {address: %q}
  - name: siem
    tls: {address: %q, ca_file: %q}
  - name: splunk
    splunkhec: {url: %q, token: hec-token, index: audit, sourcetype: "vigil:audit", ack: true}
  - name: logs
    syslog: {address: %q, facility: local0, app_name: vigil-test, tls: {ca_file: %q}}
`, plain.addr, secure.addr, certFile, hecSrv.URL, syslog.addr, certFile)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	devToken := addDevice(t, dataDir, "alice@example.com", "a")
	addr, _, _ := startServe(t, "--config", config, "--data-dir", dataDir, "--listen", "127.0.0.1:0")
	var body strings.Builder
	want := map[string]bool{}
	for i := range 200 {
		id := fmt.Sprintf("k-%04d", i)
		want[id] = true
		body.WriteString(crashEvent(id, i) + "\n")
	}
	if res, status, err := post(http.DefaultClient, addr, devToken, []byte(body.String())); err != nil || status != http.StatusAccepted || res.Accepted != 200 {
		t.Fatalf("post: %d %+v %v", status, res, err)
	}
	all := func(ids []string) bool {
		got := map[string]bool{}
		for _, id := range ids {
			got[id] = true
		}
		for id := range want {
			if !got[id] {
				return false
			}
		}
		return true
	}
	for name, received := range map[string]func() []string{
		"tcp":       func() []string { ids, _ := plain.received(); return ids },
		"tls":       func() []string { ids, _ := secure.received(); return ids },
		"syslog":    func() []string { ids, _ := syslog.received(); return ids },
		"splunkhec": hec.received,
	} {
		waitFor(t, name+" to receive every event", func() bool { return all(received()) })
	}
	if _, bad := syslog.received(); len(bad) > 0 {
		t.Errorf("syslog receiver got %d bad frames: %q", len(bad), bad[0])
	}
	_, metrics := get(t, http.DefaultClient, "http://"+addr+"/metrics")
	for _, name := range []string{"raw", "siem", "splunk", "logs"} {
		if !strings.Contains(metrics, `vigil_sink_events_sent_total{sink="`+name+`"}`) {
			t.Errorf("/metrics lacks vigil_sink_events_sent_total for %s", name)
		}
	}
}
