package contentapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

func sha(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// newFile creates an empty file in Alice's root and drains its event.
func (f *filesEnv) newFile(t *testing.T, name string) string {
	t.Helper()
	a := f.do(t, "POST", "/api/v1.4/files", `{"parent": "root", "name": "`+name+`"}`)
	want(t, "create "+name, a, 201)
	f.events(t)
	return decode[File](t, a).ID
}

func (f *filesEnv) content(op, id, path string) event {
	return f.fileEvent("file.transfer", op, id, path, nil)
}

// completed is a download's CONTENT_COMPLETED, with the content bytes it
// sent.
func (f *filesEnv) completed(id, path string, sent int) event {
	e := f.content("CONTENT_COMPLETED", id, path)
	e["bytes"] = float64(sent)
	return e
}

// TestContent_Transfers walks the content routes through the real
// router: downloads (whole, single and multiple ranges, conditional,
// unsatisfiable, HEAD) and every upload style, with their exact events.
func TestContent_Transfers(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		id := f.newFile(t, "hello.txt")
		path := "/api/v1.4/files/" + id + "/content"

		// A new file has no content: its ETag is that of no bytes.
		a := f.do(t, "GET", path, "")
		want(t, "empty", a, 200)
		if a.body != "" || a.header.Get("Etag") != `"`+sha("")+`"` {
			t.Errorf("empty: %q %v", a.body, a.header)
		}
		f.wantEvents(t, f.content("CONTENT_REQUEST", id, "hello.txt"), f.completed(id, "hello.txt", 0))

		// A plain upload: 204 with the new ETag at v1.x, 200 at v0.10.
		body := "Hello, world!\n"
		a = f.do(t, "PUT", path, body)
		want(t, "upload", a, 204)
		etag := `"` + sha(body) + `"`
		if a.header.Get("Etag") != etag {
			t.Errorf("upload ETag %q, want %s", a.header.Get("Etag"), etag)
		}
		f.wantEvents(t, f.wrote("MODIFY", id, "hello.txt"))
		a = f.do(t, "PUT", "/api/v0.10/files/"+id+"/content", body)
		want(t, "upload v0.10", a, 200)
		f.wantEvents(t, f.wrote("MODIFY", id, "hello.txt"))

		a = f.do(t, "GET", path, "")
		want(t, "download", a, 200)
		if a.body != strings.TrimSpace(body) || a.header.Get("Etag") != etag || a.header.Get("Content-Type") != "text/plain" ||
			a.header.Get("Last-Modified") == "" || a.header.Get("Content-Length") != strconv.Itoa(len(body)) {
			t.Errorf("download: %q %v", a.body, a.header)
		}
		f.wantEvents(t, f.content("CONTENT_REQUEST", id, "hello.txt"), f.completed(id, "hello.txt", len(body)))
		meta := decode[File](t, f.do(t, "GET", "/api/v1.4/files/"+id, ""))
		if meta.Size != int64(len(body)) || meta.ETag != sha(body) || meta.MimeType != "text/plain" {
			t.Errorf("metadata %+v", meta)
		}
		f.events(t)

		tests := []struct {
			name    string
			method  string
			header  []string
			status  int
			body    string // "" for none; a prefix for multipart
			headers map[string]string
			events  []string
			sent    int // the content bytes of CONTENT_COMPLETED
		}{
			{name: "Range", method: "GET", header: []string{"Range: bytes=0-4"}, status: 206, body: "Hello",
				headers: map[string]string{"Content-Range": "bytes 0-4/14"}, events: []string{"CONTENT_REQUEST", "CONTENT_COMPLETED"}, sent: 5},
			{name: "Ranges", method: "GET", header: []string{"Range: bytes=0-0,7-11"}, status: 206, body: "--",
				events: []string{"CONTENT_REQUEST", "CONTENT_COMPLETED"}, sent: 6},
			{name: "IfRangeStale", method: "GET", header: []string{"Range: bytes=0-4", `If-Range: "stale"`}, status: 200, body: strings.TrimSpace(body),
				events: []string{"CONTENT_REQUEST", "CONTENT_COMPLETED"}, sent: len(body)},
			{name: "NotModified", method: "GET", header: []string{"If-None-Match: " + etag}, status: 304,
				headers: map[string]string{"Etag": etag}, events: []string{"CONTENT_REQUEST"}},
			{name: "Unsatisfiable", method: "GET", header: []string{"Range: bytes=100-200"}, status: 416,
				headers: map[string]string{"Content-Range": "bytes */14"}, events: []string{"CONTENT_REQUEST"}},
			{name: "Head", method: "HEAD", status: 200,
				headers: map[string]string{"Content-Length": "14", "Etag": etag}, events: []string{"META_REQUEST"}},
		}
		for _, tt := range tests {
			a := f.do(t, tt.method, path, "", tt.header...)
			if a.status != tt.status || !strings.HasPrefix(a.body, tt.body) || (tt.body == "" && a.status < 300 && a.body != "") {
				t.Errorf("%s: %d %q; want %d %q", tt.name, a.status, a.body, tt.status, tt.body)
			}
			for k, v := range tt.headers {
				if a.header.Get(k) != v {
					t.Errorf("%s: %s %q, want %q", tt.name, k, a.header.Get(k), v)
				}
			}
			if tt.name == "Ranges" && !strings.HasPrefix(a.header.Get("Content-Type"), "multipart/byteranges; boundary=") {
				t.Errorf("Ranges: Content-Type %q", a.header.Get("Content-Type"))
			}
			var evs []event
			for _, op := range tt.events {
				if op == "CONTENT_COMPLETED" {
					evs = append(evs, f.completed(id, "hello.txt", tt.sent))
					continue
				}
				evs = append(evs, f.content(op, id, "hello.txt"))
			}
			f.wantEvents(t, evs...)
		}

		// If-Match guards the upload: 412 with the current ETag.
		a = f.do(t, "PUT", path, "other", `If-Match: "`+sha("other")+`"`)
		want(t, "stale If-Match", a, 412)
		if typ, _ := contentError(t, a); typ != "CONFLICT" || a.header.Get("Etag") != etag {
			t.Errorf("412: %s %v", a.body, a.header)
		}
		f.wantEvents(t)
		a = f.do(t, "PUT", path, "second", "If-Match: "+etag)
		want(t, "If-Match", a, 204)
		f.wantEvents(t, f.wrote("MODIFY", id, "hello.txt"))

		// Resumable: start, a chunk, the progress query, the last chunk.
		a = f.do(t, "PUT", path, "", "Content-Range: bytes */*")
		want(t, "start", a, 200)
		up := a.header.Get("Upload-ID")
		if up == "" {
			t.Fatalf("start: no Upload-ID: %v", a.header)
		}
		a = f.do(t, "PUT", path, "01234", "Upload-ID: "+up, "Content-Range: bytes 0-4/*")
		if a.status != 200 || a.header.Get("Range") != "bytes=0-4" || a.header.Get("Upload-ID") != up {
			t.Errorf("chunk: %d %v", a.status, a.header)
		}
		a = f.do(t, "PUT", path, "", "Upload-ID: "+up, "Content-Range: bytes */*")
		if a.status != 200 || a.header.Get("Range") != "bytes=0-4" {
			t.Errorf("progress: %d %v", a.status, a.header)
		}
		f.wantEvents(t)
		a = f.do(t, "PUT", path, "56789", "Upload-ID: "+up, "Content-Range: bytes 5-9/10")
		want(t, "last chunk", a, 204)
		if a.header.Get("Etag") != `"`+sha("0123456789")+`"` {
			t.Errorf("last chunk ETag %q", a.header.Get("Etag"))
		}
		f.wantEvents(t, f.wrote("MODIFY", id, "hello.txt"))
		if a = f.do(t, "GET", path, ""); a.body != "0123456789" {
			t.Errorf("after resumable: %q", a.body)
		}
		f.events(t)

		// The first chunk without an Upload-ID starts one; the total
		// announced on its own completes it.
		a = f.do(t, "PUT", path, "abc", "Content-Range: bytes 0-2/*")
		up = a.header.Get("Upload-ID")
		if a.status != 200 || up == "" {
			t.Fatalf("first chunk: %d %v", a.status, a.header)
		}
		// Another file cannot continue it: the upload is bound to this
		// file.
		other := f.newFile(t, "other.bin")
		a = f.do(t, "PUT", "/api/v1.4/files/"+other+"/content", "", "Upload-ID: "+up, "Content-Range: bytes */3")
		want(t, "another file's upload", a, 404)
		a = f.do(t, "PUT", path, "", "Upload-ID: "+up, "Content-Range: bytes */3")
		want(t, "total", a, 204)
		f.wantEvents(t, f.wrote("MODIFY", id, "hello.txt"))
	})
}

// rawPut sends a PUT of path whose body stops after sent of the length
// bytes it announces, then hangs up: an interrupted upload.
func rawPut(t *testing.T, f *filesEnv, path string, length int, sent string, header ...string) {
	t.Helper()
	u, _ := url.Parse(f.srv.URL)
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	req := "PUT " + path + " HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + f.tok + "\r\nContent-Length: " + strconv.Itoa(length) + "\r\n"
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"+sent); err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// waitIdle closes the test server, which waits for every request in
// flight to end.
func waitIdle(f *filesEnv) { f.srv.Close() }

// TestContent_Interrupted: an upload cut short leaves the old content
// and the quota's use unchanged, and a resumable upload interrupted
// midway continues later from what arrived.
func TestContent_Interrupted(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		id := f.newFile(t, "a.bin")
		path := "/api/v1.4/files/" + id + "/content"
		want(t, "upload", f.do(t, "PUT", path, "old content"), 204)
		f.events(t)
		used, err := f.store.Usage(context.Background(), aliceEmail)
		if err != nil {
			t.Fatal(err)
		}

		rawPut(t, f, path, 100, "new conten")
		a := f.do(t, "PUT", path, "", "Content-Range: bytes */*")
		up := a.header.Get("Upload-ID")
		want(t, "first chunk", f.do(t, "PUT", path, "01234", "Upload-ID: "+up, "Content-Range: bytes 0-4/10"), 200)
		rawPut(t, f, path, 5, "56", "Upload-ID: "+up, "Content-Range: bytes 5-9/10")

		// Later: the old content is whole, the use unchanged, and the
		// upload holds what arrived.
		var got answer
		for range 100 {
			if got = f.do(t, "PUT", path, "", "Upload-ID: "+up, "Content-Range: bytes */*"); got.header.Get("Range") == "bytes=0-6" {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		if got.header.Get("Range") != "bytes=0-6" {
			t.Fatalf("progress after the cut: %d %v", got.status, got.header)
		}
		if a := f.do(t, "GET", path, ""); a.body != "old content" {
			t.Errorf("content after the cuts: %q", a.body)
		}
		if u, err := f.store.Usage(context.Background(), aliceEmail); err != nil || u != used {
			t.Errorf("usage %d, %v; want %d", u, err, used)
		}
		f.events(t)
		a = f.do(t, "PUT", path, "789", "Upload-ID: "+up, "Content-Range: bytes 7-9/10")
		want(t, "continued", a, 204)
		if a := f.do(t, "GET", path, ""); a.body != "0123456789" {
			t.Errorf("content after continuing: %q", a.body)
		}
	})
}

// TestContent_Abandoned: a client that hangs up mid-body leaves
// CONTENT_REQUEST without CONTENT_COMPLETED.
func TestContent_Abandoned(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		id := f.newFile(t, "big.bin")
		path := "/api/v1.4/files/" + id + "/content"
		big := strings.Repeat("0123456789abcdef", 4<<20) // 64 MiB: more than the sockets buffer
		want(t, "upload", f.do(t, "PUT", path, big), 204)
		f.events(t)

		req, err := http.NewRequest("GET", f.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+f.tok)
		req.Header.Set(streamHeader, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(resp.Body, make([]byte, 1000)); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		waitIdle(f)
		f.wantEvents(t, f.content("CONTENT_REQUEST", id, "big.bin"))
	})
}

// TestContent_Quota: the remaining quota bounds an upload (507), and
// crossing 80% warns once.
func TestContent_Quota(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := &filesEnv{accountsEnv: newAccountsEnv(t, b, func(c *Config) { c.Org.Quota = 20 })}
		f.server = f.files.ServerDevice()
		f.tok, f.device = f.signIn(t, aliceEmail, alicePW)
		id := f.newFile(t, "q.bin")
		path := "/api/v1.4/files/" + id + "/content"

		for _, tt := range []struct {
			name   string
			body   string
			header []string
		}{
			{name: "Plain", body: strings.Repeat("x", 21)},
			{name: "Announced", header: []string{"Content-Range: bytes 0-1/21"}, body: "xx"},
		} {
			a := f.do(t, "PUT", path, tt.body, tt.header...)
			want(t, tt.name, a, 507)
			if typ, _ := contentError(t, a); typ != "INSUFFICIENT_STORAGE" {
				t.Errorf("%s: %s", tt.name, a.body)
			}
			f.wantEvents(t)
		}
		names := func() []string {
			var out []string
			for _, e := range f.events(t) {
				out = append(out, e["event"].(string))
			}
			return out
		}
		want(t, "80%", f.do(t, "PUT", path, strings.Repeat("y", 16)), 204)
		if got := strings.Join(names(), " "); got != "file.notification user.quota.warning" {
			t.Errorf("at 80%%: %s", got)
		}
		// Replacing the file's content counts its new size only.
		want(t, "replace", f.do(t, "PUT", path, strings.Repeat("z", 20)), 204)
		if got := strings.Join(names(), " "); got != "file.notification" {
			t.Errorf("still over 80%%: %s", got)
		}
		if u, err := f.store.Usage(context.Background(), aliceEmail); err != nil || u != 20 {
			t.Errorf("usage %d, %v", u, err)
		}
	})
}

// TestContent_QuotaFreedByDelete: deleting a file, or a folder with
// files in it, frees its bytes at once: the recorded use (what the quota
// route answers) drops in the same request, and an upload that was 507
// fits afterwards.
func TestContent_QuotaFreedByDelete(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := &filesEnv{accountsEnv: newAccountsEnv(t, b, func(c *Config) { c.Org.Quota = 20 })}
		f.server = f.files.ServerDevice()
		f.tok, f.device = f.signIn(t, aliceEmail, alicePW)
		put := func(what, id, body string, status int) {
			t.Helper()
			want(t, what, f.do(t, "PUT", "/api/v1.4/files/"+id+"/content", body), status)
			f.events(t)
		}
		used := func(what string, want int64) {
			t.Helper()
			a := f.do(t, "GET", "/api/v1.4/users/"+aliceEmail+"/quota", "")
			if a.status != 200 {
				t.Fatalf("%s: quota %d %s", what, a.status, a.body)
			}
			if q := decode[Quota](t, a); q.BytesUsed != want {
				t.Errorf("%s: bytes_used %d, want %d", what, q.BytesUsed, want)
			}
			if u, err := f.store.Usage(context.Background(), aliceEmail); err != nil || u != want {
				t.Errorf("%s: recorded usage %d, %v; want %d", what, u, err, want)
			}
		}
		del := func(what, path string) {
			t.Helper()
			want(t, what, f.do(t, "DELETE", path, ""), 204)
			f.events(t)
		}

		big, other := f.newFile(t, "big.bin"), f.newFile(t, "other.bin")
		put("big", big, strings.Repeat("b", 16), 204)
		put("over quota", other, strings.Repeat("o", 10), 507)
		used("before the delete", 16)
		del("delete big", "/api/v1.4/files/"+big)
		used("after the file's delete", 0)
		put("fits now", other, strings.Repeat("o", 10), 204)
		used("after the upload", 10)

		// A folder's delete frees everything below it.
		a := f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "dir"}`)
		want(t, "folder", a, 201)
		f.events(t)
		dir := decode[Folder](t, a).ID
		a = f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+dir+`", "name": "inner.bin"}`)
		want(t, "inner", a, 201)
		f.events(t)
		put("inner", decode[File](t, a).ID, strings.Repeat("i", 10), 204)
		used("full", 20)
		last := f.newFile(t, "last.bin")
		put("full: 507", last, "l", 507)
		del("delete the folder", "/api/v1.4/folders/"+dir)
		used("after the folder's delete", 10)
		put("fits after the folder's delete", last, "l", 204)
		used("end", 11)
	})
}

// TestContent_Scopes: reads need files.read, uploads files.write, and
// an object-qualified scope permits only its subtree.
func TestContent_Scopes(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		id := f.newFile(t, "s.txt")
		other := f.newFile(t, "t.txt")
		path := "/api/v1.4/files/" + id + "/content"
		tests := []struct {
			scopes, method string
			status         int
		}{
			{"files.read", "GET", 200},
			{"files.read", "PUT", 403},
			{"files.write", "GET", 403},
			{"files.write", "PUT", 204},
			{"files.read:" + id, "GET", 200},
			{"files.read:" + other, "GET", 403},
			{"files.write:" + id, "PUT", 204},
			{"files.write:" + other, "PUT", 403},
		}
		for _, tt := range tests {
			tok := f.scoped(t, tt.scopes)
			a := f.call(t, tt.method, path, "data", bearer(tok))
			if a.status != tt.status {
				t.Errorf("%s with %s: %d %s; want %d", tt.method, tt.scopes, a.status, a.body, tt.status)
			}
			f.events(t)
		}
	})
}
