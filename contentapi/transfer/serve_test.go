package transfer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// pattern is n deterministic bytes that differ at every offset mod 251.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}

// putBlob stores data and returns its key.
func putBlob(t *testing.T, ts *testServer, data []byte) string {
	t.Helper()
	info, err := ts.store.Put(context.Background(), bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return info.Key
}

type part struct {
	ContentRange string
	Body         []byte
}

func TestServe(t *testing.T) {
	ts := newTestServer(t)
	data := pattern(1000)
	key := putBlob(t, ts, data)
	etag := `"` + key + `"`
	mod := ts.modified.Format(http.TimeFormat)

	tests := []struct {
		name    string
		method  string
		header  map[string]string
		status  int
		headers map[string]string // headers the answer must carry ("" means absent)
		body    []byte            // the body, when not multipart or an error
		parts   []part            // a multipart/byteranges answer
		errType string            // a JSON error's type
	}{
		{name: "whole", status: 200, body: data,
			headers: map[string]string{"ETag": etag, "Content-Length": "1000", "Accept-Ranges": "bytes", "Last-Modified": mod, "Content-Type": "text/plain"}},
		{name: "head", method: "HEAD", status: 200, body: []byte{}, headers: map[string]string{"Content-Length": "1000", "ETag": etag}},
		{name: "first hundred", header: map[string]string{"Range": "bytes=0-99"}, status: 206, body: data[:100],
			headers: map[string]string{"Content-Range": "bytes 0-99/1000", "Content-Length": "100", "ETag": etag}},
		{name: "suffix", header: map[string]string{"Range": "bytes=-10"}, status: 206, body: data[990:],
			headers: map[string]string{"Content-Range": "bytes 990-999/1000"}},
		{name: "open past end", header: map[string]string{"Range": "bytes=995-5000"}, status: 206, body: data[995:],
			headers: map[string]string{"Content-Range": "bytes 995-999/1000"}},
		{name: "overlapping ranges coalesce into one", header: map[string]string{"Range": "bytes=10-19,15-29,30-39"}, status: 206, body: data[10:40],
			headers: map[string]string{"Content-Range": "bytes 10-39/1000"}},
		{name: "several ranges", header: map[string]string{"Range": "bytes=500-509, 0-4,-3"}, status: 206,
			parts: []part{{"bytes 0-4/1000", data[:5]}, {"bytes 500-509/1000", data[500:510]}, {"bytes 997-999/1000", data[997:]}}},
		{name: "several ranges, head", method: "HEAD", header: map[string]string{"Range": "bytes=0-1,5-6"}, status: 206, body: []byte{}},
		{name: "unsatisfiable", header: map[string]string{"Range": "bytes=1000-"}, status: 416, errType: "BAD_ARGS",
			headers: map[string]string{"Content-Range": "bytes */1000"}},
		{name: "malformed range", header: map[string]string{"Range": "bytes=9-1"}, status: 400, errType: "BAD_ARGS"},
		{name: "other unit is ignored", header: map[string]string{"Range": "pages=1-2"}, status: 200, body: data},
		{name: "too many ranges are ignored", header: map[string]string{"Range": "bytes=" + strings.Repeat("1-1,", MaxRanges+1)}, status: 200, body: data},
		{name: "if-range tag matches", header: map[string]string{"Range": "bytes=0-1", "If-Range": etag}, status: 206, body: data[:2]},
		{name: "if-range tag differs", header: map[string]string{"Range": "bytes=0-1", "If-Range": `"old"`}, status: 200, body: data},
		{name: "if-range weak tag", header: map[string]string{"Range": "bytes=0-1", "If-Range": "W/" + etag}, status: 200, body: data},
		{name: "if-range date matches", header: map[string]string{"Range": "bytes=0-1", "If-Range": mod}, status: 206, body: data[:2]},
		{name: "if-range date differs", header: map[string]string{"Range": "bytes=0-1", "If-Range": ts.modified.Add(-time.Hour).Format(http.TimeFormat)}, status: 200, body: data},
		{name: "if-range garbage", header: map[string]string{"Range": "bytes=0-1", "If-Range": "soon"}, status: 200, body: data},
		{name: "if-none-match", header: map[string]string{"If-None-Match": etag}, status: 304, body: []byte{},
			headers: map[string]string{"ETag": etag, "Content-Length": ""}},
		{name: "if-none-match weak", header: map[string]string{"If-None-Match": `"x", W/` + etag}, status: 304, body: []byte{}},
		{name: "if-none-match star", header: map[string]string{"If-None-Match": "*"}, status: 304, body: []byte{}},
		{name: "if-none-match bare token", header: map[string]string{"If-None-Match": key}, status: 304, body: []byte{}},
		{name: "if-none-match other", header: map[string]string{"If-None-Match": `"old"`}, status: 200, body: data},
		{name: "if-none-match empty is absent", header: map[string]string{"If-None-Match": ""}, status: 200, body: data},
		{name: "if-none-match beats range", header: map[string]string{"If-None-Match": etag, "Range": "bytes=0-1"}, status: 304, body: []byte{}},
		{name: "if-none-match garbage", header: map[string]string{"If-None-Match": `"open`}, status: 400, errType: "BAD_ARGS"},
		{name: "if-modified-since", header: map[string]string{"If-Modified-Since": mod}, status: 304, body: []byte{}},
		{name: "if-modified-since older", header: map[string]string{"If-Modified-Since": ts.modified.Add(-time.Hour).Format(http.TimeFormat)}, status: 200, body: data},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, ts.URL+"/blob/"+key, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d; body %s", resp.StatusCode, tt.status, got)
			}
			for k, v := range tt.headers {
				if g := resp.Header.Get(k); g != v {
					t.Errorf("%s = %q, want %q", k, g, v)
				}
			}
			switch {
			case tt.errType != "":
				var e struct{ Type, Message string }
				if err := json.Unmarshal(got, &e); err != nil || e.Type != tt.errType || e.Message == "" {
					t.Errorf("error body %s, want type %s (%v)", got, tt.errType, err)
				}
			case tt.parts != nil:
				if diff := cmp.Diff(tt.parts, readParts(t, resp, got)); diff != "" {
					t.Errorf("parts (-want +got):\n%s", diff)
				}
			default:
				if !bytes.Equal(got, tt.body) {
					t.Errorf("body has %d bytes, want %d", len(got), len(tt.body))
				}
			}
			if tt.status < 400 {
				s := <-ts.served
				if s.Status != tt.status || !s.Complete || s.Err != nil {
					t.Errorf("served %+v", s)
				}
				if method == "GET" && s.Bytes != int64(len(tt.body)) && tt.parts == nil {
					t.Errorf("served %d bytes, the client got %d", s.Bytes, len(tt.body))
				}
			}
		})
	}
}

// readParts parses a multipart/byteranges answer.
func readParts(t *testing.T, resp *http.Response, body []byte) []part {
	t.Helper()
	mt, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/byteranges" {
		t.Fatalf("Content-Type %q (%v)", resp.Header.Get("Content-Type"), err)
	}
	if cl := resp.ContentLength; cl != int64(len(body)) {
		t.Errorf("Content-Length %d, body %d bytes", cl, len(body))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	var parts []part
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return parts
		}
		if err != nil {
			t.Fatal(err)
		}
		if ct := p.Header.Get("Content-Type"); ct != "text/plain" {
			t.Errorf("part Content-Type %q", ct)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, part{ContentRange: p.Header.Get("Content-Range"), Body: b})
	}
}

// A client that stops reading leaves a download that Serve reports as
// incomplete: the caller emits no CONTENT_COMPLETED for it.
func TestServe_Abandoned(t *testing.T) {
	ts := newTestServer(t)
	data := pattern(64 << 20)
	key := putBlob(t, ts, data)
	resp, err := http.Get(ts.URL + "/blob/" + key)
	if err != nil {
		t.Fatal(err)
	}
	var first [1000]byte
	if _, err := io.ReadFull(resp.Body, first[:]); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-ts.served
	if s.Status != 200 || s.Complete || s.Err == nil || s.Bytes >= s.Want || s.Want != int64(len(data)) {
		t.Errorf("served %+v, want an incomplete 200", s)
	}
}
