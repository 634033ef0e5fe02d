package transfer

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// testServer is a tiny content route over a real disk store: GET and
// HEAD /blob/KEY serve the blob, PUT /upload?owner=O&limit=N receives
// content. Errors go out as the content API writes them.
type testServer struct {
	*httptest.Server
	store    *diskblob.Store
	blobDir  string
	uploads  *Uploads
	modified time.Time
	served   chan Served
	// puts gets each PUT's outcome once its handler is done.
	puts chan error
}

func newTestServer(t testing.TB) *testServer {
	t.Helper()
	return newTestServerIn(t, t.TempDir())
}

// newTestServerIn keeps its blobs and staged uploads under dir, so that
// a second server on the same dir is a restart.
func newTestServerIn(t testing.TB, dir string) *testServer {
	t.Helper()
	ts := &testServer{blobDir: dir + "/blobs", modified: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC), served: make(chan Served, 100), puts: make(chan error, 100)}
	var err error
	if ts.store, err = diskblob.New(ts.blobDir); err != nil {
		t.Fatal(err)
	}
	if ts.uploads, err = NewUploads(dir+"/uploads", ts.store, time.Hour); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /blob/{key}", ts.get)
	mux.HandleFunc("PUT /upload", ts.put)
	ts.Server = httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	return ts
}

func (ts *testServer) get(w http.ResponseWriter, r *http.Request) {
	b, err := ts.store.Open(r.Context(), r.PathValue("key"))
	if err != nil {
		writeError(w, err)
		return
	}
	defer b.Close()
	s, err := Serve(w, r, Content{Blob: b, ETag: ETag{Opaque: r.PathValue("key")}, MIMEType: "text/plain", Modified: ts.modified})
	if err != nil {
		writeError(w, err)
		return
	}
	ts.served <- s
}

func (ts *testServer) put(w http.ResponseWriter, r *http.Request) {
	limit := NoLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		limit, _ = strconv.ParseInt(v, 10, 64)
	}
	res, err := ts.uploads.Receive(r, r.URL.Query().Get("owner"), limit)
	ts.puts <- err
	if err != nil {
		writeError(w, err)
		return
	}
	for k, v := range res.Header() {
		w.Header()[k] = v
	}
	if res.Done {
		w.Header().Set("ETag", ETag{Opaque: res.Blob.Key}.String())
	}
	w.WriteHeader(res.Status())
}

// writeError maps the package's errors as the content API does.
func writeError(w http.ResponseWriter, err error) {
	var te *Error
	if errors.As(err, &te) {
		httpapi.Content.Write(w, &httpapi.Error{Status: te.Status, Message: te.Message, Header: te.Header})
		return
	}
	httpapi.Content.Write(w, &httpapi.Error{Status: http.StatusInternalServerError, Message: err.Error()})
}
