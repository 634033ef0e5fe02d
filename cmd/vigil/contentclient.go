package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The content bench's pieces: a client of the content API's file
// routes, a deterministic byte stream, and vigil serve run as a child
// process whose memory can be read from /proc.

// contentClient calls the content API's file routes with one token.
type contentClient struct {
	base, token string
	http        *http.Client
}

func newContentClient(base, token string) *contentClient {
	return &contentClient{base: strings.TrimRight(base, "/"), token: token,
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, DisableCompression: true}}}
}

func (c *contentClient) close() { c.http.CloseIdleConnections() }

// do sends one request; header is "Name: value" pairs. A body of a
// known size gets that Content-Length.
func (c *contentClient) do(ctx context.Context, method, path string, body io.Reader, size int64, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/api/v1.4"+path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for _, h := range header {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp, nil
}

// call sends a request whose answer is small: it reads the answer and
// fails unless the status is want.
func (c *contentClient) call(ctx context.Context, method, path, body string, want int, header ...string) (*http.Response, []byte, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, err := c.do(ctx, method, path, r, int64(len(body)), header...)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return nil, nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(b))
	}
	return resp, b, nil
}

// create makes a file or folder (kind "files" or "folders") and returns
// its id.
func (c *contentClient) create(ctx context.Context, kind, parent, name string) (string, error) {
	body, _ := json.Marshal(map[string]string{"parent": parent, "name": name})
	_, b, err := c.call(ctx, http.MethodPost, "/"+kind, string(body), http.StatusCreated)
	if err != nil {
		return "", err
	}
	var o struct{ ID string }
	if err := json.Unmarshal(b, &o); err != nil || o.ID == "" {
		return "", fmt.Errorf("create %s: answer %q", name, b)
	}
	return o.ID, nil
}

// put uploads r (size bytes) as a file's whole content in one request
// and returns the content ETag the server answered.
func (c *contentClient) put(ctx context.Context, id string, r io.Reader, size int64) (string, error) {
	resp, err := c.do(ctx, http.MethodPut, "/files/"+id+"/content", r, size)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusNoContent {
		return "", fmt.Errorf("upload %s: %s: %s", id, resp.Status, bytes.TrimSpace(b))
	}
	return strings.Trim(resp.Header.Get("Etag"), `"`), nil
}

// putChunks uploads size bytes through the resumable protocol in chunks
// of chunk bytes, part(off, n) giving each chunk's bytes: the first
// chunk starts the upload, the last one names the total. It returns the
// ETag of the committed content.
func (c *contentClient) putChunks(ctx context.Context, id string, part func(off, n int64) io.Reader, size, chunk int64) (string, error) {
	uploadID := ""
	for off := int64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		total := "*"
		if off+n == size {
			total = strconv.FormatInt(size, 10)
		}
		h := []string{fmt.Sprintf("Content-Range: bytes %d-%d/%s", off, off+n-1, total)}
		if uploadID != "" {
			h = append(h, "Upload-ID: "+uploadID)
		}
		resp, err := c.do(ctx, http.MethodPut, "/files/"+id+"/content", part(off, n), n, h...)
		if err != nil {
			return "", err
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		last := off+n == size
		switch {
		case last && resp.StatusCode == http.StatusNoContent:
			return strings.Trim(resp.Header.Get("Etag"), `"`), nil
		case !last && resp.StatusCode < 300 && resp.Header.Get("Upload-Id") != "":
			uploadID = resp.Header.Get("Upload-Id")
		default:
			return "", fmt.Errorf("upload chunk at %d of %s: %s: %s", off, id, resp.Status, bytes.TrimSpace(b))
		}
	}
	return "", errors.New("upload: nothing to send")
}

// get downloads a file's content (rangeHeader "" for all of it) into w
// and returns the status and the bytes copied.
func (c *contentClient) get(ctx context.Context, id, rangeHeader string, w io.Writer) (int, int64, error) {
	var h []string
	if rangeHeader != "" {
		h = []string{"Range: " + rangeHeader}
	}
	resp, err := c.do(ctx, http.MethodGet, "/files/"+id+"/content", nil, 0, h...)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return resp.StatusCode, n, fmt.Errorf("download %s: %w", id, err)
	}
	return resp.StatusCode, n, nil
}

// genReader streams the bytes [off, end) of a deterministic content of
// any size without holding it: byte x is x ^ x>>12 ^ x>>24.
type genReader struct{ off, end int64 }

func (g *genReader) Read(p []byte) (int, error) {
	if g.off >= g.end {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.end-g.off)]
	for i := range p {
		x := g.off + int64(i)
		p[i] = byte(x) ^ byte(x>>12) ^ byte(x>>24)
	}
	g.off += int64(len(p))
	return len(p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// countingWriter counts the bytes written through it.
type countingWriter struct{ n *atomic.Int64 }

func (c countingWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// serveProc is vigil serve running as a child process on loopback.
type serveProc struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}
}

// startServeProc starts bin serve on a free loopback port with dataDir
// and waits until it serves.
func startServeProc(ctx context.Context, bin, dataDir string) (*serveProc, error) {
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-format", "json")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start vigil serve: %w", err)
	}
	p := &serveProc{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "vigil serving" {
				select {
				case addr <- line.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case p.addr = <-addr:
		return p, nil
	case <-p.done:
		return nil, errors.New("vigil serve exited before serving")
	case <-ctx.Done():
	case <-time.After(time.Minute):
	}
	_ = cmd.Process.Kill()
	<-p.done
	return nil, errors.New("vigil serve did not start")
}

// stop asks the server to shut down and waits for it.
func (p *serveProc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// procMemory reads a process's resident set (VmRSS) and its peak
// (VmHWM) from /proc, in bytes.
func procMemory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of process %d: %w", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || k != "VmRSS" && k != "VmHWM" {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("read memory of process %d: %s: %w", pid, k, err)
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}

// rssPeak follows a process's resident set from now on: it resets the
// kernel's peak (clear_refs 5, where permitted) and samples VmRSS until
// stopped, then returns the highest of the samples and the kernel's
// peak, when that was reset.
func rssPeak(pid int) (stop func() int64) {
	reset := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0) == nil
	var peak atomic.Int64
	quit := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _, err := procMemory(pid); err == nil && rss > peak.Load() {
				peak.Store(rss)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	})
	return func() int64 {
		close(quit)
		wg.Wait()
		p := peak.Load()
		if _, hwm, err := procMemory(pid); err == nil && reset {
			p = max(p, hwm)
		}
		return p
	}
}

// addContentUser adds a user with a password to the data dir through
// bin admin user add, as an operator would.
func addContentUser(ctx context.Context, bin, dataDir, email, password string) error {
	cmd := exec.CommandContext(ctx, bin, "admin", "--data-dir", dataDir, "user", "add", "--email", email, "--password-stdin")
	cmd.Stdin = strings.NewReader(password)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("add user %s: %w: %s", email, err, bytes.TrimSpace(out))
	}
	return nil
}

// signIn signs a user in with POST /auth and returns the token.
func signIn(ctx context.Context, base, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": email, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/auth", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("sign in: %w", err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &out) != nil || out.Token == "" {
		return "", fmt.Errorf("sign in: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	return out.Token, nil
}
