package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func heapInuse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestBatch_GzipBombsReleaseTheirMemory: many concurrent bodies that
// inflate far past max_body_bytes are each refused (413, or 503 when the
// in-flight budget is used up) and leave the heap near where it was.
func TestBatch_GzipBombsReleaseTheirMemory(t *testing.T) {
	const maxBody = 4 << 20
	f := newFixture(t, Config{MaxBodyBytes: maxBody, MaxInflightBytes: 4 * maxBody})
	bomb := gzipped(t, bytes.Repeat([]byte{'['}, 64<<20))
	base := heapInuse()
	var wg sync.WaitGroup
	statuses := make(chan int, 16)
	for range 16 {
		wg.Go(func() {
			req, _ := http.NewRequest("POST", f.srv.URL+"/audit/v1/events", bytes.NewReader(bomb))
			req.Header.Set("Authorization", "Bearer "+f.device)
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != http.StatusRequestEntityTooLarge && s != http.StatusServiceUnavailable {
			t.Errorf("a gzip bomb got %d, want 413 or 503", s)
		}
	}
	http.DefaultClient.CloseIdleConnections()
	if after := heapInuse(); after > base+2*maxBody {
		t.Errorf("heap in use %d MiB after the bombs, %d MiB before: more than twice max_body_bytes held", after>>20, base>>20)
	}
	if used := f.handler.mem.inUse(); used != 0 {
		t.Errorf("%d bytes of the in-flight budget still taken", used)
	}
	// A bomb is quarantined once, cut at max_body_bytes and compressed.
	entries, _ := f.q.List(context.Background(), ListOptions{})
	if len(entries) != 1 || entries[0].Attempts < 1 || len(entries[0].Raw) != maxBody || !entries[0].Truncated {
		t.Errorf("quarantine: %d entries", len(entries))
	}
}

// TestBatch_OverInflightBudgetIs503: a body that would take ingest past
// max_inflight_bytes is answered 503 overloaded, and not quarantined.
func TestBatch_OverInflightBudgetIs503(t *testing.T) {
	f := newFixture(t, Config{MaxBodyBytes: 1 << 20, MaxInflightBytes: 2 << 20})
	if !f.handler.mem.take(2<<20 - 1000) {
		t.Fatal("take")
	}
	resp, data := f.do(t, "POST", "/audit/v1/events", f.device, bytes.Repeat(signin(1), 100))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || errorCode(data) != CodeOverloaded {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
	f.handler.mem.give(2<<20 - 1000)
	if resp, data := f.do(t, "POST", "/audit/v1/events", f.device, signin(1)); resp.StatusCode != 202 {
		t.Errorf("with the budget free again: %d %s", resp.StatusCode, data)
	}
	if entries, _ := f.q.List(context.Background(), ListOptions{}); len(entries) != 0 {
		t.Errorf("quarantine: %+v", entries)
	}
}

// TestBatch_TricklingBodyTimesOut: a body slower than body_timeout is cut
// off with 408 body_timeout; nothing of it is accepted.
func TestBatch_TricklingBodyTimesOut(t *testing.T) {
	f := newFixture(t, Config{BodyTimeout: 300 * time.Millisecond})
	body := signin(1)
	conn, err := net.Dial("tcp", strings.TrimPrefix(f.srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /audit/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: %d\r\n\r\n", f.device, len(body))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, c := range body {
			if _, err := conn.Write([]byte{c}); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	conn.Close()
	<-done
	if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
		t.Errorf("trickled body: %d %v", resp.StatusCode, resp.Header)
	}
	if len(f.log.recs) != 0 {
		t.Errorf("%d records appended from a body cut off", len(f.log.recs))
	}
	// An ordinary body is still taken.
	if resp, data := f.do(t, "POST", "/audit/v1/events", f.device, signin(2)); resp.StatusCode != 202 {
		t.Errorf("%d %s", resp.StatusCode, data)
	}
}

// TestBatch_RefusedBodiesQuarantined: every body refused from an
// authenticated device is kept whole with its reason; none refused for
// its credential or the rate limit.
func TestBatch_RefusedBodiesQuarantined(t *testing.T) {
	f := newFixture(t, Config{MaxEvents: 3, DeviceRate: 0.001, DeviceBurst: 3})
	gz := gzipped(t, ndjson(signin(1), signin(2)))
	tests := []struct {
		name   string
		body   []byte
		header []string
		status int
		reason string
		enc    string
	}{
		{"unterminated array", []byte("[" + string(signin(1)) + ","), nil, 400, "unterminated JSON array", ""},
		{"garbage first line", ndjson([]byte("garbage"), signin(2)), nil, 400, "neither a JSON array", ""},
		{"truncated gzip", gz[:len(gz)-10], []string{"Content-Encoding", "gzip"}, 400, "gzip body is truncated", "gzip"},
		{"not gzip", ndjson(signin(3)), []string{"Content-Encoding", "gzip"}, 400, "not valid gzip", "gzip"},
		{"unknown encoding", []byte("\xff\x00brotli?"), []string{"Content-Encoding", "br"}, 415, "Content-Encoding br", "br"},
	}
	for _, tt := range tests {
		resp, data := f.do(t, "POST", "/audit/v1/events", f.device, tt.body, tt.header...)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d %s, want %d", tt.name, resp.StatusCode, data, tt.status)
		}
	}
	// Not kept: no credential, a revoked one, over the rate.
	f.do(t, "POST", "/audit/v1/events", "", []byte("nobody"))
	f.do(t, "POST", "/audit/v1/events", f.revoked, []byte("revoked"))
	f.do(t, "POST", "/audit/v1/events", f.device, ndjson(signin(7), signin(8), signin(9)))
	if resp, _ := f.do(t, "POST", "/audit/v1/events", f.device, signin(10)); resp.StatusCode != 429 {
		t.Fatalf("over the rate: %d", resp.StatusCode)
	}

	entries, err := f.q.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(tests) {
		t.Fatalf("%d entries, want %d: %+v", len(entries), len(tests), entries)
	}
	for i, tt := range tests {
		e := entries[i]
		if !strings.Contains(e.Reason, tt.reason) || e.Raw != string(tt.body) || !e.WholeBody || e.ContentEncoding != tt.enc || e.Submitter.DeviceID != f.deviceID {
			t.Errorf("%s: entry %+v", tt.name, e)
		}
	}

	// The API gives bytes that are not UTF-8 as they came, in raw_base64.
	resp, data := f.do(t, "GET", "/audit/v1/quarantine", f.admin, nil)
	var list struct{ Events []map[string]any }
	if resp.StatusCode != 200 || json.Unmarshal(data, &list) != nil || len(list.Events) != len(tests) {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	for i, e := range list.Events {
		_, hasRaw := e["raw"]
		_, hasB64 := e["raw_base64"]
		binary := i == 2 || i == 4 // the truncated gzip and the unknown encoding
		if hasRaw == binary || hasB64 != binary {
			t.Errorf("entry %d: raw %v, raw_base64 %v", i, hasRaw, hasB64)
		}
	}
	var typed quarantineList
	if err := json.Unmarshal(data, &typed); err != nil {
		t.Fatal(err)
	}
	for i, e := range typed.Events {
		if e.Raw != string(tests[i].body) {
			t.Errorf("entry %d read back as %q, want %q", i, e.Raw, tests[i].body)
		}
	}
}

// TestReplay_SplitsWholeBodies: a replay splits a quarantined body
// again: its valid events are accepted, the rest stay with their own
// reasons, and a body with nothing valid keeps its first reason.
func TestReplay_SplitsWholeBodies(t *testing.T) {
	f := newFixture(t, Config{})
	bad := []byte(`{"topic":"USER","event":"user.teleport","timestamp":"2026-11-23T10:00:00Z"}`)
	bodies := [][]byte{
		[]byte("[" + string(signin(1)) + "," + string(bad) + "," + string(signin(2))), // unterminated
		ndjson([]byte("garbage"), signin(3)),                                          // bad first line
		ndjson(signin(4), signin(5)),                                                  // sent as gzip, but not
		[]byte("nothing valid here"),                                                  // stays
	}
	f.do(t, "POST", "/audit/v1/events", f.device, bodies[0])
	f.do(t, "POST", "/audit/v1/events", f.device, bodies[1])
	f.do(t, "POST", "/audit/v1/events", f.device, bodies[2], "Content-Encoding", "gzip")
	f.do(t, "POST", "/audit/v1/events", f.device, bodies[3])
	gz := gzipped(t, ndjson(signin(6), signin(7), signin(8)))
	f.do(t, "POST", "/audit/v1/events", f.device, gz[:len(gz)-12], "Content-Encoding", "gzip") // truncated

	before, _ := f.q.List(context.Background(), ListOptions{})
	if len(before) != 5 {
		t.Fatalf("%d entries before the replay", len(before))
	}
	resp, data := f.do(t, "POST", "/audit/v1/quarantine/replay", f.admin, nil)
	var res ReplayResult
	if resp.StatusCode != 200 || json.Unmarshal(data, &res) != nil {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	// Accepted: signins 1-5 and what the truncated stream still holds.
	if res.Replayed < 5 || res.Rejected < 3 {
		t.Errorf("replay: %+v", res)
	}
	left, _ := f.q.List(context.Background(), ListOptions{})
	reasons := map[string]string{}
	for _, e := range left {
		reasons[e.Raw] = e.Reason
	}
	if r := reasons[string(bad)]; !strings.Contains(r, "teleport") {
		t.Errorf("the bad element's own reason: %q", r)
	}
	if r := reasons["garbage"]; r == "" {
		t.Errorf("the garbage line is not kept on its own: %+v", left)
	}
	if r := reasons[string(bodies[3])]; r != before[3].Reason {
		t.Errorf("the body with nothing valid: reason %q, want the first one %q", r, before[3].Reason)
	}
	for _, e := range left {
		if e.Raw == string(bodies[3]) && e.ReplayError == "" {
			t.Errorf("no replay_error on the entry that stayed: %+v", e)
		}
	}
	var n int
	for _, r := range f.log.recs {
		if bytes.Contains(r.Value, []byte(`"event":"user.signin"`)) {
			n++
		}
	}
	if n < 5 {
		t.Errorf("%d signins in the log after the replay, want 5 at least", n)
	}
}
