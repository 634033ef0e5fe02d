package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestServe_OneGiBContent sends a 1 GiB file through vigil serve, run as
// a child process with its default disk blob store: up as one plain PUT
// and as a resumable upload in four chunks, down whole and as a range.
// The bytes come from a generator and are checked by SHA-256 on the
// way back; the server's resident memory above its idle level (VmRSS
// sampled, and VmHWM reset before the transfers) stays under a bound far
// below the file's size, so nothing holds the file.
func TestServe_OneGiBContent(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 1 GiB through a server and the disk")
	}
	const (
		size  = 1 << 30
		chunk = size / 4
		// The target is 100 MiB above idle; the test leaves room for a
		// slow garbage collector under -race, and is still an order of
		// magnitude below a copy of the file.
		bound = 160 << 20
	)
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dataDir := filepath.Join(t.TempDir(), "data")
	const email, pw = "big@example.com", "big-pw-7Qz3xL"
	if err := addContentUser(ctx, bin, dataDir, email, pw); err != nil {
		t.Fatal(err)
	}
	srv, err := startServeProc(ctx, bin, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	base := "http://" + srv.addr
	tok, err := signIn(ctx, base, email, pw)
	if err != nil {
		t.Fatal(err)
	}
	c := newContentClient(base, tok)
	defer c.close()

	hashOf := func(r io.Reader) string {
		h := sha256.New()
		if _, err := io.Copy(h, r); err != nil {
			t.Fatal(err)
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	want := hashOf(&genReader{0, size})
	const from, to = size/2 - 12345, size/2 + 54321
	wantRange := hashOf(&genReader{from, to + 1})

	time.Sleep(500 * time.Millisecond) // let the server settle at idle
	idle, _, err := procMemory(srv.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	peak := rssPeak(srv.cmd.Process.Pid)

	plain, err := c.create(ctx, "files", "root", "plain.bin")
	if err != nil {
		t.Fatal(err)
	}
	chunked, err := c.create(ctx, "files", "root", "chunked.bin")
	if err != nil {
		t.Fatal(err)
	}
	uploads := []struct {
		name, id string
		send     func(id string) (string, error)
	}{
		{name: "plain PUT", id: plain, send: func(id string) (string, error) { return c.put(ctx, id, &genReader{0, size}, size) }},
		{name: "resumable", id: chunked, send: func(id string) (string, error) {
			return c.putChunks(ctx, id, func(off, n int64) io.Reader { return &genReader{off, off + n} }, size, chunk)
		}},
	}
	for _, u := range uploads {
		etag, err := u.send(u.id)
		if err != nil {
			t.Fatalf("%s: %v", u.name, err)
		}
		if etag != want {
			t.Errorf("%s: ETag %s, want the SHA-256 %s", u.name, etag, want)
		}
		h := sha256.New()
		status, n, err := c.get(ctx, u.id, "", h)
		if err != nil || status != http.StatusOK || n != size {
			t.Fatalf("%s: download %d, %d bytes, %v", u.name, status, n, err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("%s: downloaded SHA-256 %s, want %s", u.name, got, want)
		}
	}
	h := sha256.New()
	status, n, err := c.get(ctx, chunked, "bytes="+strconv.Itoa(from)+"-"+strconv.Itoa(to), h)
	if err != nil || status != http.StatusPartialContent || n != to-from+1 {
		t.Fatalf("range: %d, %d bytes, %v", status, n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != wantRange {
		t.Errorf("range: SHA-256 %s, want %s", got, wantRange)
	}

	above := peak() - idle
	t.Logf("server resident memory: idle %d MiB, peak %d MiB above idle", idle>>20, above>>20)
	if above > bound {
		t.Errorf("server resident memory grew by %d MiB during the transfers, bound %d MiB", above>>20, bound>>20)
	}
}
