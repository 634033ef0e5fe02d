package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/httpapi/httpapitest"
)

type base struct {
	ID string `json:"id"`
}

type thing struct {
	base
	Name    string          `json:"name"`
	Count   int64           `json:"count,omitempty"`
	Seen    *time.Time      `json:"seen"`
	Tags    []string        `json:"tags"`
	Raw     json.RawMessage `json:"raw,omitempty"`
	Skipped string          `json:"-"`
	secret  string
}

func TestSchema(t *testing.T) {
	got := Schema(reflect.TypeFor[thing]())
	str := map[string]any{"type": "string"}
	want := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"id":    str,
			"name":  str,
			"count": map[string]any{"type": "integer"},
			"seen":  map[string]any{"type": []any{"string", "null"}, "format": "date-time"},
			"tags":  map[string]any{"type": []any{"array", "null"}, "items": str},
			"raw":   map[string]any{},
		},
		"required": []string{"id", "name", "seen", "tags"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Schema (-want +got):\n%s", diff)
	}
	_ = thing{}.secret
}

func TestOpenAPIPath(t *testing.T) {
	path, params := openAPIPath("/audit/v1/sinks/{name}/deadletter/{id:[0-9]+}")
	if path != "/audit/v1/sinks/{name}/deadletter/{id}" || !reflect.DeepEqual(params, []string{"name", "id"}) {
		t.Errorf("openAPIPath = %q %v", path, params)
	}
}

// TestOpenAPI checks that the document of a small API loads and
// validates as OpenAPI 3.1, and that real answers validate against it.
func TestOpenAPI(t *testing.T) {
	h := Mapper{}.Handle(func(r *http.Request) (any, error) {
		if r.Method == http.MethodPost {
			return Created(thing{base: base{ID: "1"}, Name: "a"}), nil
		}
		return nil, NewError(http.StatusNotFound, CodeNotFound, "no such thing")
	})
	routes := []Route{
		{Method: "POST", Pattern: "/things", Handler: h, Access: Admin, Summary: "Add a thing", Request: thing{}, Status: 201, Response: thing{}},
		{Method: "GET", Pattern: "/things/{id}", Handler: h, Access: Read, Summary: "One thing", Response: thing{}, Query: []string{"fields"}},
		{Method: "GET", Pattern: "/files/{id}", Handler: Mapper{Family: Content}.Handle(func(*http.Request) (any, error) {
			return nil, NewError(http.StatusNotFound, "", "no such file")
		}), Access: Scoped, Scopes: []string{"files.read"}, Family: Content, Response: map[string]any{}},
	}
	routes = append(routes, Fallback(Mapper{}, "/things", "things", Read, routes)...)
	self := OpenAPIRoute(Info{Title: "test", Version: "1"}, routes)
	rec := httptest.NewRecorder()
	self.Handler.ServeHTTP(rec, httptest.NewRequest("GET", OpenAPIPath, nil))
	doc := httpapitest.Load(t, rec.Body.Bytes())
	if len(doc.Doc.Paths.Map()) != 4 {
		t.Errorf("paths %v, want /things, /things/{id}, /files/{id} and %s", doc.Doc.Paths.InMatchingOrder(), OpenAPIPath)
	}
	if op := doc.Doc.Paths.Find("/files/{id}").Get; op == nil || op.Security == nil || len(*op.Security) != 2 ||
		!strings.Contains(op.Description, "Scope: files.read.") {
		t.Errorf("GET /files/{id}: want bearer or token security and its scope described, got %+v", op)
	}
	for _, tt := range []struct {
		method, path, body string
		h                  http.Handler
	}{
		{"POST", "/things", `{"id":"1","name":"a","seen":null,"tags":["x"]}`, h},
		{"GET", "/things/9?fields=name", "", h},
		{"GET", "/files/9", "", routes[2].Handler},
		{"GET", OpenAPIPath, "", self.Handler},
	} {
		req := httptest.NewRequest(tt.method, "http://vigil.test"+tt.path, bytes.NewReader([]byte(tt.body)))
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		rec := httptest.NewRecorder()
		tt.h.ServeHTTP(rec, req)
		doc.Check(t, req, []byte(tt.body), rec.Result(), rec.Body.Bytes())
	}

	// Answers that do not match fail the check.
	for _, tt := range []struct {
		status int
		body   string
	}{
		{201, `{"id":1,"name":"a","seen":null,"tags":null}`},
		{201, `{"id":"1","seen":null,"tags":null}`},
		{201, `{"error":{"code":"not_found","message":"x"}}`},
		{404, `{"type":"NOT_FOUND","message":"x"}`},
	} {
		req := httptest.NewRequest("POST", "http://vigil.test/things", bytes.NewReader([]byte(`{"id":"1","name":"a","seen":null,"tags":[]}`)))
		req.Header.Set("Content-Type", "application/json")
		resp := &http.Response{StatusCode: tt.status, Header: http.Header{"Content-Type": {"application/json"}}}
		rec := &failRecorder{TB: t}
		doc.Check(rec, req, []byte(`{"id":"1","name":"a","seen":null,"tags":[]}`), resp, []byte(tt.body))
		if !rec.failed {
			t.Errorf("%d %s passed the check", tt.status, tt.body)
		}
	}
}

// failRecorder notes a failed check instead of failing the test.
type failRecorder struct {
	testing.TB
	failed bool
}

func (r *failRecorder) Helper()               {}
func (r *failRecorder) Errorf(string, ...any) { r.failed = true }
