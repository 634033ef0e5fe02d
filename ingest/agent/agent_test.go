package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilaudit/vigil/ingest/agent/agenttest"
)

// agentRun is one run of an agent on a spool directory.
type agentRun struct {
	dir   string // the spool
	url   string
	cfg   Config
	crash func(point string) bool
	// realSleep makes the uploader really wait between retries; by
	// default waits return at once.
	realSleep bool
	maxWait   time.Duration
}

// run runs the agent to its end. After a simulated crash the spool is
// abandoned, not closed.
func (r agentRun) run(t *testing.T, ctx context.Context) (Stats, error) {
	t.Helper()
	cfg := r.cfg
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := OpenSpool(r.dir, SpoolOptions{SegmentBytes: 2048, Logger: cfg.Logger})
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUploader(UploaderConfig{
		Server: r.url, Token: "device-token",
		InitialBackoff: 2 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		MaxWait: r.maxWait, Logger: cfg.Logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if !r.realSleep {
		recordWaits(u)
	}
	a := New(s, u, cfg)
	a.crash = r.crash
	err = a.Run(ctx)
	st := a.Stats()
	if errors.Is(err, errCrash) {
		s.abandon()
	} else if cerr := s.Close(); cerr != nil {
		t.Error(cerr)
	}
	return st, err
}

// checkDelivered checks that the server holds the events numbered want,
// each exactly once (a resent event is a duplicate, one sent again with
// another seq is not), in order, with increasing seqs.
func checkDelivered(t *testing.T, srv *agenttest.Server, want []int) {
	t.Helper()
	var got []int
	var last int64
	for _, e := range srv.Events() {
		got = append(got, eventN(t, e.Raw))
		if e.Seq <= last {
			t.Errorf("seq %d arrived after %d", e.Seq, last)
		}
		last = e.Seq
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events on the server (-want +got):\n%s", diff)
	}
	if p := srv.Problems(); len(p) > 0 {
		t.Errorf("contract problems: %v", p)
	}
}

// crashAt crashes at the nth time point is reached.
func crashAt(point string, n int) (hook func(string) bool, reached func() bool) {
	var (
		mu    sync.Mutex
		count int
	)
	hook = func(p string) bool {
		mu.Lock()
		defer mu.Unlock()
		if p != point {
			return false
		}
		count++
		return count == n
	}
	reached = func() bool {
		mu.Lock()
		defer mu.Unlock()
		return count >= n
	}
	return hook, reached
}

func TestAgent_Stdin(t *testing.T) {
	for _, once := range []bool{true, false} {
		t.Run(fmt.Sprintf("once=%v", once), func(t *testing.T) {
			srv := agenttest.New("device-token")
			var in bytes.Buffer
			in.Write(ndjson(testEvents(0, 5)))
			in.WriteString("\n   \n")
			in.WriteString("{not json\n")
			in.WriteString(`[{"n":99}]` + "\n")
			in.WriteString(`{"seq":1,"n":98}` + "\r\n")
			in.WriteString(`{"n":5,"bad":true}` + "\n")
			in.Write(ndjson(testEvents(6, 14)))
			dir := t.TempDir()
			st, err := agentRun{dir: dir, url: srv.Start(t), cfg: Config{Input: &in, Once: once, BatchSize: 4}}.run(t, ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			checkDelivered(t, srv, seqRange(0, 20))
			want := Stats{Spooled: 20, Invalid: 3, Uploaded: 20, Batches: 5, Accepted: 19, Rejected: 1}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if got, want := st.Summary(), "uploaded 20 events in 5 batches: 19 accepted, 0 duplicates, 1 rejected"; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
			rejected := readRejected(t, dir)
			if len(rejected) != 3 || rejected[0].Line != 8 || rejected[0].Raw != "{not json" || rejected[2].Error != errHasSeq.Error() {
				t.Errorf("rejected.ndjson: %+v", rejected)
			}
		})
	}
}

func readRejected(t *testing.T, dir string) []Rejected {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, rejectedName))
	if err != nil {
		t.Fatal(err)
	}
	var out []Rejected
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var r Rejected
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// dropFile puts a file into dir the way producers should: written under a
// hidden name, then renamed.
func dropFile(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	tmp := filepath.Join(dir, ".tmp-"+name)
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

func pretty(events [][]byte) []byte {
	var arr []json.RawMessage
	for _, e := range events {
		arr = append(arr, e)
	}
	out, _ := json.MarshalIndent(arr, "", "  ")
	return out
}

func TestAgent_WatchOnce(t *testing.T) {
	srv := agenttest.New("device-token")
	watch := t.TempDir()
	dropFile(t, watch, "b.ndjson", ndjson(testEvents(3, 3)))
	dropFile(t, watch, "a.json", pretty(testEvents(0, 3)))
	var one bytes.Buffer
	json.Indent(&one, testEvents(6, 1)[0], "", "\t")
	dropFile(t, watch, "c.json", one.Bytes())
	dropFile(t, watch, "d.json", ndjson(testEvents(7, 2)))
	dropFile(t, watch, "e.txt", ndjson(testEvents(100, 1)))
	dropFile(t, watch, "f.json", []byte(`[{"n":101},`))
	if err := os.Mkdir(filepath.Join(watch, "g.ndjson"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(watch, ".h.ndjson"), string(ndjson(testEvents(102, 1))))

	st, err := agentRun{dir: t.TempDir(), url: srv.Start(t), cfg: Config{WatchDir: watch, Once: true, BatchSize: 4}}.run(t, ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, seqRange(0, 9))
	if st.Invalid != 1 || st.Uploaded != 9 {
		t.Errorf("stats %+v, want 1 invalid file and 9 events uploaded", st)
	}
	entries, _ := os.ReadDir(watch)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	if diff := cmp.Diff([]string{".h.ndjson", "e.txt", "f.json.invalid", "g.ndjson"}, left); diff != "" {
		t.Errorf("files left in the watched directory (-want +got):\n%s", diff)
	}
}

func TestAgent_WatchPolls(t *testing.T) {
	srv := agenttest.New("device-token")
	watch := t.TempDir()
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	r := agentRun{dir: t.TempDir(), url: srv.Start(t), cfg: Config{WatchDir: watch, Interval: 5 * time.Millisecond, BatchSize: 3}}
	go func() {
		_, err := r.run(t, ctx)
		done <- err
	}()
	for i := range 5 {
		dropFile(t, watch, fmt.Sprintf("%02d.ndjson", i), ndjson(testEvents(i*4, 4)))
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, func() bool { return len(srv.Events()) == 20 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: %v", err)
	}
	checkDelivered(t, srv, seqRange(0, 20))
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgent_ServerAnswers runs the agent against each answer of the
// contract and checks that every event arrives exactly once, in order.
func TestAgent_ServerAnswers(t *testing.T) {
	r := func(status int, retryAfter string) agenttest.Response {
		return agenttest.Response{Status: status, RetryAfter: retryAfter}
	}
	tests := []struct {
		name     string
		script   []agenttest.Response
		maxBatch int
		want     Stats
	}{
		{
			name: "all accepted",
			want: Stats{Uploaded: 50, Batches: 7, Accepted: 50},
		},
		{
			name:   "busy with Retry-After",
			script: []agenttest.Response{r(429, "1"), r(503, "2"), r(202, ""), r(429, "1")},
			want:   Stats{Uploaded: 50, Batches: 7, Accepted: 50},
		},
		{
			name:   "server errors and dropped connections",
			script: []agenttest.Response{r(500, ""), {Status: 500, Drop: true}, r(502, ""), {Status: 500, Drop: true}},
			want:   Stats{Uploaded: 50, Batches: 7, Accepted: 50},
		},
		{
			name:   "answers lost after the server kept the batch",
			script: []agenttest.Response{{Status: 202, Drop: true}, r(202, ""), {Status: 202, Drop: true}},
			want:   Stats{Uploaded: 50, Batches: 7, Accepted: 34, Duplicates: 16},
		},
		{
			name:     "batches too large",
			maxBatch: 3,
			want:     Stats{Uploaded: 50, Batches: 20, Accepted: 50},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := agenttest.New("device-token")
			srv.Script(tt.script...)
			srv.SetMaxBatch(tt.maxBatch)
			in := bytes.NewReader(ndjson(testEvents(0, 50)))
			st, err := agentRun{dir: t.TempDir(), url: srv.Start(t), cfg: Config{Input: in, Once: true, BatchSize: 8}}.run(t, ctxT(t))
			if err != nil {
				t.Fatal(err)
			}
			checkDelivered(t, srv, seqRange(0, 50))
			tt.want.Spooled = 50
			if diff := cmp.Diff(tt.want, st, cmpopts.IgnoreFields(Stats{}, "Batches")); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAgent_RefusedEventSetAside(t *testing.T) {
	srv := agenttest.New("device-token")
	// The batch of two, then its first event alone.
	srv.Script(agenttest.Response{Status: 413}, agenttest.Response{Status: 400})
	dir := t.TempDir()
	in := bytes.NewReader(ndjson(testEvents(0, 2)))
	st, err := agentRun{dir: dir, url: srv.Start(t), cfg: Config{Input: in, Once: true}}.run(t, ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, []int{1})
	if st.Rejected != 1 || st.Refused != 1 || st.Accepted != 1 {
		t.Errorf("stats %+v, want one refused, one accepted", st)
	}
	rej := readRejected(t, dir)
	if len(rej) != 1 || rej[0].Seq != 1 || eventN(t, rej[0].Event) != 0 {
		t.Errorf("rejected.ndjson %+v, want the first event with seq 1", rej)
	}
}

func TestAgent_EventTooLarge(t *testing.T) {
	srv := agenttest.New("device-token")
	dir := t.TempDir()
	big := fmt.Sprintf(`{"n":1,"pad":%q}`, strings.Repeat("x", 300))
	in := strings.NewReader(string(ndjson(testEvents(0, 1))) + big + "\n" + string(ndjson(testEvents(2, 1))))
	st, err := agentRun{dir: dir, url: srv.Start(t), cfg: Config{Input: in, Once: true, MaxBatchBytes: 200}}.run(t, ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, []int{0, 2})
	if st.Invalid != 1 {
		t.Errorf("stats %+v, want the large event set aside", st)
	}
}

func TestAgent_CredentialRefused(t *testing.T) {
	srv := agenttest.New("device-token")
	srv.Revoke()
	dir := t.TempDir()
	url := srv.Start(t)
	in := bytes.NewReader(ndjson(testEvents(0, 20)))
	_, err := agentRun{dir: dir, url: url, cfg: Config{Input: in, Once: true}}.run(t, ctxT(t))
	var se *StatusError
	if !errors.As(err, &se) || !se.Credential() {
		t.Fatalf("error %v, want the refused credential", err)
	}
	if !strings.Contains(err.Error(), "device token refused, 20 events kept in the spool") {
		t.Errorf("error %q does not say what happened to the events", err)
	}
	if n := len(srv.Events()); n != 0 {
		t.Errorf("server has %d events", n)
	}

	// Enrolled again: the spool is delivered.
	srv2 := agenttest.New("device-token")
	if _, err := (agentRun{dir: dir, url: srv2.Start(t), cfg: Config{Once: true}}).run(t, ctxT(t)); err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv2, seqRange(0, 20))
}

// TestAgent_NetworkDownThenUp starts the agent while nothing listens at
// the server's address, then starts the server there.
func TestAgent_NetworkDownThenUp(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	srv := agenttest.New("device-token")
	done := make(chan error, 1)
	var logs syncBuffer
	r := agentRun{
		dir: t.TempDir(), url: "http://" + addr, realSleep: true,
		cfg: Config{Input: bytes.NewReader(ndjson(testEvents(0, 30))), Once: true, BatchSize: 7,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	}
	go func() {
		_, err := r.run(t, ctxT(t))
		done <- err
	}()
	waitFor(t, func() bool { return strings.Count(logs.String(), "upload failed, retrying") >= 3 })

	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		if i == 100 {
			t.Fatalf("listen again on %s: %v", addr, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ts := httptest.NewUnstartedServer(srv)
	ts.Listener.Close()
	ts.Listener = ln
	ts.Start()
	defer ts.Close()

	if err := <-done; err != nil {
		t.Fatal(err)
	}
	checkDelivered(t, srv, seqRange(0, 30))
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("log does not say why uploads failed:\n%s", logs.String())
	}
}

// TestAgent_UnreachableOnce checks that --once gives up after MaxWait,
// keeping the spool.
func TestAgent_UnreachableOnce(t *testing.T) {
	ts := httptest.NewServer(agenttest.New("device-token"))
	url := ts.URL
	ts.Close()
	dir := t.TempDir()
	r := agentRun{dir: dir, url: url, realSleep: true, maxWait: 50 * time.Millisecond,
		cfg: Config{Input: bytes.NewReader(ndjson(testEvents(0, 5))), Once: true}}
	_, err := r.run(t, ctxT(t))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v, want ErrUnreachable", err)
	}
	s := openSpool(t, dir, SpoolOptions{})
	if n := s.Pending(); n != 5 {
		t.Errorf("pending %d, want 5", n)
	}
}

func TestAgent_OnceInterrupted(t *testing.T) {
	srv := agenttest.New("device-token")
	url := srv.Start(t)
	for range 1000 {
		srv.Script(agenttest.Response{Status: 503})
	}
	ctx, cancel := context.WithTimeout(ctxT(t), 100*time.Millisecond)
	defer cancel()
	r := agentRun{dir: t.TempDir(), url: url, realSleep: true, cfg: Config{Input: bytes.NewReader(ndjson(testEvents(0, 5))), Once: true}}
	_, err := r.run(t, ctx)
	if err == nil || !strings.Contains(err.Error(), "stopped with 5 events still in the spool") {
		t.Fatalf("error %v, want it to say events are left", err)
	}
}

// TestAgent_StopsReadingOnCancel checks that a pending read of the input
// does not keep Run from returning.
func TestAgent_StopsReadingOnCancel(t *testing.T) {
	srv := agenttest.New("device-token")
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(ctxT(t))
	done := make(chan error, 1)
	r := agentRun{dir: t.TempDir(), url: srv.Start(t), cfg: Config{Input: pr}}
	go func() {
		_, err := r.run(t, ctx)
		done <- err
	}()
	if _, err := pw.Write(ndjson(testEvents(0, 3))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return len(srv.Events()) == 3 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkDelivered(t, srv, seqRange(0, 3))
}

// TestAgent_CrashAtEachStep crashes the agent at each step of taking in
// files and uploading them, the nth time it gets there, restarts it on the
// same spool and watched directory, and checks that the server got every
// event exactly once (resent events are duplicates), in order.
func TestAgent_CrashAtEachStep(t *testing.T) {
	points := []string{"file.begun", "file.spooled", "file.removed", "upload.answered", "upload.acked"}
	for _, point := range points {
		for n := 1; n <= 3; n++ {
			t.Run(fmt.Sprintf("%s#%d", point, n), func(t *testing.T) {
				srv := agenttest.New("device-token")
				url := srv.Start(t)
				watch, dir := t.TempDir(), t.TempDir()
				for i := range 3 {
					dropFile(t, watch, fmt.Sprintf("%d.ndjson", i), ndjson(testEvents(i*7, 7)))
				}
				hook, reached := crashAt(point, n)
				cfg := Config{WatchDir: watch, Once: true, BatchSize: 4}
				_, err := agentRun{dir: dir, url: url, cfg: cfg, crash: hook}.run(t, ctxT(t))
				if reached() != errors.Is(err, errCrash) {
					t.Fatalf("crash point reached: %v; Run: %v", reached(), err)
				}
				if err != nil && !errors.Is(err, errCrash) {
					t.Fatal(err)
				}
				if _, err := (agentRun{dir: dir, url: url, cfg: cfg}).run(t, ctxT(t)); err != nil {
					t.Fatalf("after restart: %v", err)
				}
				checkDelivered(t, srv, seqRange(0, 21))
				if left, _ := os.ReadDir(watch); len(left) != 0 {
					t.Errorf("files left in the watched directory: %v", left)
				}
			})
		}
	}
}

func TestAgent_ProgressLines(t *testing.T) {
	srv := agenttest.New("device-token")
	srv.SetDelay(10 * time.Millisecond)
	var logs syncBuffer
	r := agentRun{dir: t.TempDir(), url: srv.Start(t), cfg: Config{
		Input: bytes.NewReader(ndjson(testEvents(0, 40))), Once: true, BatchSize: 4,
		ProgressEvery: 5 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}}
	if _, err := r.run(t, ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "msg=progress spooled=40 uploaded=") {
		t.Errorf("no progress lines:\n%s", logs.String())
	}
}

func TestStatusLine(t *testing.T) {
	var out bytes.Buffer
	s := NewStatusLine(&out)
	fmt.Fprintln(s, "before")
	s.Set("uploaded 5")
	fmt.Fprintln(s, "a log line")
	s.Set("uploaded 9")
	s.Set("uploaded 9")
	s.Set("")
	want := "before\n" +
		eraseLine + "uploaded 5" +
		eraseLine + "a log line\n" + "uploaded 5" +
		eraseLine + "uploaded 9" +
		eraseLine
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("output (-want +got):\n%s", diff)
	}
}

func TestStatusText(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := Stats{Uploaded: 12345, Pending: 1000, Rejected: 2}
	tests := []struct {
		until  time.Time
		reason string
		want   string
	}{
		{time.Time{}, "", "uploaded 12,345 (250/s), 1,000 in spool, 2 rejected"},
		{now.Add(4 * time.Second), "connection refused", "uploaded 12,345 (250/s), 1,000 in spool, 2 rejected; retry in 4s: connection refused"},
	}
	for _, tt := range tests {
		if got := statusText(st, 250, tt.until, tt.reason, now); got != tt.want {
			t.Errorf("statusText = %q, want %q", got, tt.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and the test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
