package transfer

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// put sends one PUT /upload and returns the answer and its body; it
// waits for the handler to be done.
func put(t *testing.T, ts *testServer, owner string, limit int64, header map[string]string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	u := fmt.Sprintf("%s/upload?owner=%s&limit=%d", ts.URL, owner, limit)
	req, err := http.NewRequest("PUT", u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	<-ts.puts
	return resp, b
}

// want checks an answer's status, headers ("" means absent) and, for an
// error, its JSON type.
func want(t *testing.T, resp *http.Response, body []byte, status int, headers map[string]string, errType string) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", resp.StatusCode, status, body)
	}
	for k, v := range headers {
		if g := resp.Header.Get(k); g != v {
			t.Errorf("%s = %q, want %q", k, g, v)
		}
	}
	if errType != "" {
		var e struct{ Type, Message string }
		if err := json.Unmarshal(body, &e); err != nil || e.Type != errType || e.Message == "" {
			t.Errorf("error body %s, want type %s", body, errType)
		}
	}
}

// download reads the blob named by an upload's ETag.
func download(t *testing.T, ts *testServer, etag string) []byte {
	t.Helper()
	resp, err := http.Get(ts.URL + "/blob/" + strings.Trim(etag, `"`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("download %s: %d %v", etag, resp.StatusCode, err)
	}
	<-ts.served
	return b
}

// blobs lists the stored blobs and the store's temporary files.
func blobs(t *testing.T, dir string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, filepath.Base(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func TestUpload_Plain(t *testing.T) {
	ts := newTestServer(t)
	data := pattern(5000)
	resp, body := put(t, ts, "u", NoLimit, nil, bytes.NewReader(data))
	want(t, resp, body, 204, map[string]string{"Upload-ID": ""}, "")
	if got := download(t, ts, resp.Header.Get("ETag")); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, uploaded %d", len(got), len(data))
	}
}

func TestUpload_OverLimit(t *testing.T) {
	tests := []struct {
		name   string
		header map[string]string
		body   io.Reader
	}{
		{name: "plain with a length", body: bytes.NewReader(pattern(11))},
		{name: "plain streamed", body: io.MultiReader(strings.NewReader("12345"), strings.NewReader("678901"))},
		{name: "chunk", header: map[string]string{"Content-Range": "bytes 0-10/*"}, body: bytes.NewReader(pattern(11))},
		{name: "announced total", header: map[string]string{"Content-Range": "bytes 0-1/11"}, body: bytes.NewReader(pattern(2))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := newTestServer(t)
			resp, body := put(t, ts, "u", 10, tt.header, tt.body)
			want(t, resp, body, 507, nil, "INSUFFICIENT_STORAGE")
			if got := blobs(t, ts.blobDir); len(got) != 0 {
				t.Errorf("stored %v", got)
			}
		})
	}
	t.Run("exactly the limit", func(t *testing.T) {
		ts := newTestServer(t)
		resp, body := put(t, ts, "u", 10, nil, io.MultiReader(strings.NewReader("12345"), strings.NewReader("67890")))
		want(t, resp, body, 204, nil, "")
	})
}

func TestUpload_Resumable(t *testing.T) {
	ts := newTestServer(t)
	data := pattern(30)
	resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*"}, nil)
	want(t, resp, body, 200, map[string]string{"Range": ""}, "")
	id := resp.Header.Get("Upload-ID")
	if !validID(id) {
		t.Fatalf("Upload-ID %q", id)
	}
	steps := []struct {
		cr      string
		body    []byte
		status  int
		rng     string
		errType string
	}{
		{cr: "bytes 0-9/*", body: data[:10], status: 200, rng: "bytes=0-9"},
		{cr: "bytes */*", status: 200, rng: "bytes=0-9"},
		{cr: "bytes 0-9/*", body: data[:10], status: 400, rng: "bytes=0-9", errType: "BAD_ARGS"},     // again: overlaps
		{cr: "bytes 15-19/*", body: data[15:20], status: 400, rng: "bytes=0-9", errType: "BAD_ARGS"}, // a gap
		{cr: "bytes 10-19/30", body: data[10:20], status: 200, rng: "bytes=0-19"},
		{cr: "bytes 20-24/31", body: data[20:25], status: 400, rng: "bytes=0-19", errType: "BAD_ARGS"}, // another total
		{cr: "bytes */30", status: 200, rng: "bytes=0-19"},
		{cr: "bytes 20-29/*", body: data[20:], status: 204},
	}
	var etag string
	for _, s := range steps {
		resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": s.cr, "Upload-ID": id}, bytes.NewReader(s.body))
		wantID := id
		if s.status == 204 {
			wantID = ""
			etag = resp.Header.Get("ETag")
		}
		want(t, resp, body, s.status, map[string]string{"Range": s.rng, "Upload-ID": wantID}, s.errType)
	}
	if got := download(t, ts, etag); !bytes.Equal(got, data) {
		t.Errorf("downloaded %v, uploaded %v", got, data)
	}
	resp, body = put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, nil)
	want(t, resp, body, 404, nil, "NOT_FOUND")
}

func TestUpload_FirstChunkWithoutID(t *testing.T) {
	ts := newTestServer(t)
	data := pattern(20)
	resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes 0-9/20"}, bytes.NewReader(data[:10]))
	want(t, resp, body, 200, map[string]string{"Range": "bytes=0-9"}, "")
	id := resp.Header.Get("Upload-ID")
	resp, body = put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes 10-19/*", "Upload-ID": id}, bytes.NewReader(data[10:]))
	want(t, resp, body, 204, nil, "")
	if got := download(t, ts, resp.Header.Get("ETag")); !bytes.Equal(got, data) {
		t.Errorf("downloaded %v", got)
	}
}

func TestUpload_WholeInOneChunkAndEmpty(t *testing.T) {
	ts := newTestServer(t)
	resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes 0-4/5"}, strings.NewReader("hello"))
	want(t, resp, body, 204, map[string]string{"Upload-ID": ""}, "")
	resp, body = put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */0"}, nil)
	want(t, resp, body, 204, nil, "")
	if got := download(t, ts, resp.Header.Get("ETag")); len(got) != 0 {
		t.Errorf("empty upload downloads %q", got)
	}
}

func TestUpload_Refused(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := put(t, ts, "alice", NoLimit, map[string]string{"Content-Range": "bytes 0-1/*"}, strings.NewReader("ab"))
	id := resp.Header.Get("Upload-ID")
	tests := []struct {
		name    string
		owner   string
		header  map[string]string
		body    string
		status  int
		errType string
	}{
		{name: "another owner", owner: "bob", header: map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, status: 404, errType: "NOT_FOUND"},
		{name: "unknown id", header: map[string]string{"Content-Range": "bytes */*", "Upload-ID": strings.Repeat("0", 32)}, status: 404, errType: "NOT_FOUND"},
		{name: "malformed id", header: map[string]string{"Content-Range": "bytes */*", "Upload-ID": "../../etc"}, status: 400, errType: "BAD_ARGS"},
		{name: "id without content-range", header: map[string]string{"Upload-ID": id}, body: "x", status: 400, errType: "BAD_ARGS"},
		{name: "malformed content-range", header: map[string]string{"Content-Range": "bytes 0-1"}, body: "ab", status: 400, errType: "BAD_ARGS"},
		{name: "first chunk not at zero", header: map[string]string{"Content-Range": "bytes 5-6/*"}, body: "ab", status: 400, errType: "BAD_ARGS"},
		{name: "body length differs", header: map[string]string{"Content-Range": "bytes 0-9/*"}, body: "ab", status: 400, errType: "BAD_ARGS"},
		{name: "body with a star range", header: map[string]string{"Content-Range": "bytes */*"}, body: "ab", status: 400, errType: "BAD_ARGS"},
		{name: "total below what is held", header: map[string]string{"Content-Range": "bytes */1", "Upload-ID": id}, status: 400, errType: "BAD_ARGS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			owner := tt.owner
			if owner == "" {
				owner = "alice"
			}
			resp, body := put(t, ts, owner, NoLimit, tt.header, strings.NewReader(tt.body))
			want(t, resp, body, tt.status, nil, tt.errType)
		})
	}
	// Alice's upload is untouched.
	resp, body := put(t, ts, "alice", NoLimit, map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, nil)
	want(t, resp, body, 200, map[string]string{"Range": "bytes=0-1"}, "")
}

// rawPut writes a PUT whose body stops after sent of its declared
// length bytes, then drops the connection.
func rawPut(t *testing.T, ts *testServer, header map[string]string, length int, sent []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(conn)
	fmt.Fprintf(w, "PUT /upload?owner=u&limit=-1 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n", length)
	for k, v := range header {
		fmt.Fprintf(w, "%s: %s\r\n", k, v)
	}
	w.WriteString("\r\n")
	w.Write(sent)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if err := <-ts.puts; err == nil {
		t.Fatal("a cut request was accepted")
	}
}

// A plain upload cut mid-body stores nothing.
func TestUpload_PlainCut(t *testing.T) {
	ts := newTestServer(t)
	rawPut(t, ts, nil, 1000, pattern(500))
	if got := blobs(t, ts.blobDir); len(got) != 0 {
		t.Errorf("stored %v", got)
	}
}

// A chunk cut mid-body keeps what arrived; the upload continues from
// there, after a restart too.
func TestUpload_InterruptedThenRestart(t *testing.T) {
	dir := t.TempDir()
	ts := newTestServerIn(t, dir)
	data := pattern(2000)
	resp, _ := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*"}, nil)
	id := resp.Header.Get("Upload-ID")
	rawPut(t, ts, map[string]string{"Content-Range": "bytes 0-999/2000", "Upload-ID": id}, 1000, data[:400])
	resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, nil)
	want(t, resp, body, 200, map[string]string{"Range": "bytes=0-399", "Upload-ID": id}, "")
	ts.Close()

	ts = newTestServerIn(t, dir)
	resp, body = put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, nil)
	want(t, resp, body, 200, map[string]string{"Range": "bytes=0-399", "Upload-ID": id}, "")
	resp, body = put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes 400-1999/2000", "Upload-ID": id}, bytes.NewReader(data[400:]))
	want(t, resp, body, 204, nil, "")
	if got := download(t, ts, resp.Header.Get("ETag")); !bytes.Equal(got, data) {
		t.Errorf("downloaded %d bytes, not the upload", len(got))
	}
	if staged := blobs(t, filepath.Join(dir, "uploads")); len(staged) != 0 {
		t.Errorf("left staged %v", staged)
	}
}

func TestUploads_Expire(t *testing.T) {
	ts := newTestServer(t)
	resp, _ := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes 0-1/*"}, strings.NewReader("ab"))
	id := resp.Header.Get("Upload-ID")
	if n, err := ts.uploads.Sweep(time.Now()); err != nil || n != 0 {
		t.Fatalf("sweep now removed %d (%v)", n, err)
	}
	if n, err := ts.uploads.Sweep(time.Now().Add(2 * time.Hour)); err != nil || n != 1 {
		t.Fatalf("sweep later removed %d (%v)", n, err)
	}
	resp, body := put(t, ts, "u", NoLimit, map[string]string{"Content-Range": "bytes */*", "Upload-ID": id}, nil)
	want(t, resp, body, 404, nil, "NOT_FOUND")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- ts.uploads.Run(ctx) }()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}
