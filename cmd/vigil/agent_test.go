package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/agent/agenttest"
)

// agentEvents returns NDJSON events numbered first.. by their "n" member.
func agentEvents(first, n int) []byte {
	var b bytes.Buffer
	for i := first; i < first+n; i++ {
		fmt.Fprintf(&b, `{"topic":"FILE","event":"file.transfer","timestamp":"2026-01-02T03:04:05.000Z","n":%d}`+"\n", i)
	}
	return b.Bytes()
}

// runAgentCmd runs "vigil agent args..." in process with stdin and returns
// the exit code and stderr.
func runAgentCmd(t *testing.T, stdin io.Reader, args ...string) (code int, stderr string) {
	t.Helper()
	var errOut bytes.Buffer
	a := &app{stdout: io.Discard, stderr: &errOut}
	root := newRootCmd(a)
	root.SetIn(stdin)
	root.SetArgs(append([]string{"agent"}, args...))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.stderr, "vigil: %v\n", err)
		return 1, errOut.String()
	}
	return 0, errOut.String()
}

// serverNs returns the "n" of each event the server kept, in arrival
// order.
func serverNs(t *testing.T, srv *agenttest.Server) []int {
	t.Helper()
	var ns []int
	for _, e := range srv.Events() {
		var ev struct{ N int }
		if err := json.Unmarshal(e.Raw, &ev); err != nil {
			t.Fatal(err)
		}
		ns = append(ns, ev.N)
	}
	return ns
}

func upTo(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func TestAgentCmd_OnceStdin(t *testing.T) {
	t.Setenv(deviceTokenEnv, "device-token")
	srv := agenttest.New("device-token")
	spool := t.TempDir()
	in := append(agentEvents(0, 25), "not json\n"...)
	code, stderr := runAgentCmd(t, bytes.NewReader(in),
		"--server", srv.Start(t), "--spool", spool, "--once", "--batch-size", "10")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if diff := cmp.Diff(upTo(25), serverNs(t, srv)); diff != "" {
		t.Errorf("events on the server (-want +got):\n%s", diff)
	}
	for _, want := range []string{
		"uploaded 25 events in 3 batches: 25 accepted, 0 duplicates, 0 rejected\n",
		"1 inputs set aside in " + filepath.Join(spool, "rejected.ndjson"),
		`msg="input set aside" source=stdin line=26 error="not valid JSON"`,
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

func TestAgentCmd_CredentialRefused(t *testing.T) {
	srv := agenttest.New("device-token")
	srv.Revoke()
	spool := t.TempDir()
	code, stderr := runAgentCmd(t, bytes.NewReader(agentEvents(0, 4)),
		"--server", srv.Start(t), "--token", "device-token", "--spool", spool, "--once")
	if code == 0 {
		t.Fatalf("exit 0 with a revoked token:\n%s", stderr)
	}
	for _, want := range []string{
		"uploaded 0 events in 0 batches: 0 accepted, 0 duplicates, 0 rejected\n",
		"4 events wait in the spool " + spool,
		"vigil: device token refused, 4 events kept in the spool (enroll the device again): server answered 401 Unauthorized: unauthorized: invalid or revoked device token",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr does not say %q:\n%s", want, stderr)
		}
	}
}

func TestAgentCmd_Unreachable(t *testing.T) {
	ts := httptest.NewServer(agenttest.New("device-token"))
	url := ts.URL
	ts.Close()
	code, stderr := runAgentCmd(t, bytes.NewReader(agentEvents(0, 2)),
		"--server", url, "--token", "t", "--spool", t.TempDir(), "--once",
		"--initial-backoff", "5ms", "--max-backoff", "20ms", "--max-wait", "100ms")
	if code == 0 || !strings.Contains(stderr, "server unreachable for") || !strings.Contains(stderr, "2 events wait in the spool") {
		t.Errorf("exit %d, want a failure saying the server is unreachable and events wait:\n%s", code, stderr)
	}
}

func TestAgentCmd_BadFlags(t *testing.T) {
	t.Setenv(deviceTokenEnv, "")
	spool := t.TempDir()
	file := filepath.Join(spool, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "--server is required\n--spool is required\nno device token: set VIGIL_DEVICE_TOKEN or --token"},
		{"bad url", []string{"--server", "vigil.example.com", "--token", "t", "--spool", spool}, `server "vigil.example.com": want an http or https URL`},
		{"batch size", []string{"--server", "http://x", "--token", "t", "--spool", spool, "--batch-size", "0"}, "--batch-size must be at least 1"},
		{"batch bytes", []string{"--server", "http://x", "--token", "t", "--spool", spool, "--max-batch-bytes", "lots"}, `invalid byte size "lots"`},
		{"watch not a directory", []string{"--server", "http://x", "--token", "t", "--spool", spool, "--watch", file}, "--watch " + file + ": not a directory"},
		{"spool not a directory", []string{"--server", "http://x", "--token", "t", "--spool", file}, "create spool"},
		{"arguments", []string{"extra"}, `unknown command "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stderr := runAgentCmd(t, strings.NewReader(""), tt.args...)
			if code == 0 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant it to say %q", code, stderr, tt.want)
			}
		})
	}
}

// agentProc runs the vigil binary as "vigil agent args...".
type agentProc struct {
	cmd    *exec.Cmd
	stderr bytes.Buffer
	exited chan error
}

func startAgentProc(t *testing.T, bin string, stdin io.Reader, args ...string) *agentProc {
	t.Helper()
	p := &agentProc{exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"agent"}, args...)...)
	p.cmd.Env = append(os.Environ(), deviceTokenEnv+"=device-token")
	p.cmd.Stdin = stdin
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *agentProc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		p.cmd.Process.Kill()
		<-p.exited
		t.Fatalf("agent did not exit; stderr:\n%s", p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestAgentCmd_Process runs the built binary: killed with SIGKILL in the
// middle of its work several times, and stopped with SIGTERM.
func TestAgentCmd_Process(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("kill -9 mid-upload", func(t *testing.T) {
		srv := agenttest.New("device-token")
		srv.SetDelay(3 * time.Millisecond)
		url := srv.Start(t)
		watch, spool := t.TempDir(), t.TempDir()
		const files, per = 20, 25
		for i := range files {
			name := fmt.Sprintf("%03d.ndjson", i)
			tmp := filepath.Join(watch, "."+name)
			if err := os.WriteFile(tmp, agentEvents(i*per, per), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, filepath.Join(watch, name)); err != nil {
				t.Fatal(err)
			}
		}
		args := []string{"--server", url, "--spool", spool, "--watch", watch, "--once",
			"--batch-size", "5", "--initial-backoff", "10ms", "--max-backoff", "100ms", "--progress-every", "0"}

		// Kill after a while (taking files in) or after some batches
		// (uploading), several times.
		rounds := []struct {
			after   time.Duration
			batches int
		}{{after: 10 * time.Millisecond}, {batches: 3}, {after: 30 * time.Millisecond}, {batches: 8}, {batches: 1}, {batches: 5}}
		killed := 0
		for i, r := range rounds {
			p := startAgentProc(t, bin, nil, args...)
			start, b0 := time.Now(), srv.Batches()
			done := false
			for !done {
				select {
				case <-p.exited:
					done = true
				case <-time.After(time.Millisecond):
					if r.after > 0 && time.Since(start) >= r.after || r.batches > 0 && srv.Batches() >= b0+r.batches {
						p.cmd.Process.Signal(syscall.SIGKILL)
						<-p.exited
						killed++
						done = true
					}
				}
			}
			t.Logf("round %d: %d batches on the server so far, state %v", i, srv.Batches(), p.cmd.ProcessState)
		}
		if killed < 3 {
			t.Fatalf("only %d of %d rounds were killed before finishing; the test does not test much", killed, len(rounds))
		}

		p := startAgentProc(t, bin, nil, args...)
		if code := p.wait(t); code != 0 {
			t.Fatalf("final run: exit %d:\n%s", code, p.stderr.String())
		}
		if !strings.Contains(p.stderr.String(), "uploaded ") {
			t.Errorf("no summary:\n%s", p.stderr.String())
		}
		// Every event reached the server at least once, and the
		// deduplicated set is the input, in order.
		if diff := cmp.Diff(upTo(files*per), serverNs(t, srv)); diff != "" {
			t.Errorf("events on the server (-want +got):\n%s", diff)
		}
		if problems := srv.Problems(); len(problems) > 0 {
			t.Errorf("contract problems: %v", problems)
		}
		received, dups := srv.Received()
		t.Logf("%d events received, %d of them duplicates, over %d kills", received, dups, killed)
		if left, _ := os.ReadDir(watch); len(left) != 0 {
			t.Errorf("files left in the watched directory: %v", left)
		}
	})

	t.Run("SIGTERM stops a watching agent", func(t *testing.T) {
		srv := agenttest.New("device-token")
		watch := t.TempDir()
		p := startAgentProc(t, bin, nil, "--server", srv.Start(t), "--spool", t.TempDir(), "--watch", watch, "--interval", "10ms")
		tmp := filepath.Join(watch, ".a.ndjson")
		if err := os.WriteFile(tmp, agentEvents(0, 10), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(watch, "a.ndjson")); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return len(srv.Events()) == 10 })
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s", code, p.stderr.String())
		}
		// The server may have taken the batch while the agent had not yet
		// read its answer: then the events wait in the spool, to be
		// answered as duplicates next time.
		stderr := p.stderr.String()
		uploaded := strings.Contains(stderr, "uploaded 10 events in 2 batches: 10 accepted") ||
			strings.Contains(stderr, "uploaded 10 events in 1 batches: 10 accepted")
		waiting := strings.Contains(stderr, "uploaded 0 events") && strings.Contains(stderr, "10 events wait in the spool")
		if !uploaded && !waiting {
			t.Errorf("no summary:\n%s", stderr)
		}
	})

	t.Run("SIGTERM while reading a pipe", func(t *testing.T) {
		srv := agenttest.New("device-token")
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer pw.Close()
		p := startAgentProc(t, bin, pr, "--server", srv.Start(t), "--spool", t.TempDir())
		pr.Close()
		if _, err := pw.Write(agentEvents(0, 3)); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return len(srv.Events()) == 3 })
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(t); code != 0 {
			t.Fatalf("exit %d:\n%s", code, p.stderr.String())
		}
		// The server may have stored the batch before the agent read its
		// 202: then the agent reports it as still spooled, and sends it
		// again next time (the server dedups it).
		if !strings.Contains(p.stderr.String(), "uploaded 3 events in 1 batches") &&
			!strings.Contains(p.stderr.String(), "3 events wait in the spool") {
			t.Errorf("no summary:\n%s", p.stderr.String())
		}
	})
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestAgentCmd_WatchNotJSON checks what vigil agent --help says about
// .json files that are not JSON: one that is neither an array nor an
// object is read as NDJSON, its bad lines set aside in
// SPOOL/rejected.ndjson and the file removed; one that starts as an
// array but is not one is renamed NAME.invalid and nothing is taken.
func TestAgentCmd_WatchNotJSON(t *testing.T) {
	t.Setenv(deviceTokenEnv, "device-token")
	srv := agenttest.New("device-token")
	watch, spool := t.TempDir(), t.TempDir()
	files := map[string]string{
		"lines.json":  string(agentEvents(0, 2)) + "hello world\n",
		"broken.json": `[{"topic":"FILE"`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(watch, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	code, stderr := runAgentCmd(t, nil, "--server", srv.Start(t), "--spool", spool, "--watch", watch, "--once", "--progress-every", "0")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr)
	}
	if diff := cmp.Diff(upTo(2), serverNs(t, srv)); diff != "" {
		t.Errorf("events on the server (-want +got):\n%s", diff)
	}
	left, err := os.ReadDir(watch)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 1 || left[0].Name() != "broken.json.invalid" {
		t.Errorf("left in the watched directory: %v, want only broken.json.invalid", left)
	}
	rejected, err := os.ReadFile(filepath.Join(spool, "rejected.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(rejected), `"source":"lines.json","line":3`) || !strings.Contains(string(rejected), `"raw":"hello world"`) || strings.Contains(string(rejected), "broken") {
		t.Errorf("rejected.ndjson holds:\n%s", rejected)
	}
	code, help, _ := runCmd(t, "agent", "--help")
	if code != 0 || !strings.Contains(help, "SPOOL/rejected.ndjson (below) and the file is removed") || !strings.Contains(help, "renamed NAME.invalid") {
		t.Errorf("agent --help does not describe this:\n%s", help)
	}
}
