package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

func TestMount_GatesAndFallback(t *testing.T) {
	ok := Mapper{}.Handle(func(*http.Request) (any, error) { return map[string]bool{"ok": true}, nil })
	routes := []Route{
		{Method: "GET", Pattern: "/api/things", Handler: ok, Access: Read},
		{Method: "POST", Pattern: "/api/things", Handler: ok, Access: Admin},
		{Method: "GET", Pattern: "/api/things/{id}", Handler: ok, Access: Read},
		{Method: "GET", Pattern: "/open", Handler: ok, Access: Public},
	}
	routes = append(routes, Fallback(Mapper{}, "/api", "test API", Read, routes)...)
	// The gate lets a request through when its X-Role is the group's.
	gate := func(a Access) []func(http.Handler) http.Handler {
		if a == Public {
			return nil
		}
		return []func(http.Handler) http.Handler{func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Role") != a.String() {
					Audit.Write(w, NewError(http.StatusForbidden, CodeForbidden, "no"))
					return
				}
				next.ServeHTTP(w, r)
			})
		}}
	}
	r := chi.NewRouter()
	Mount(r, routes, gate)
	srv := httptest.NewServer(r)
	defer srv.Close()

	tests := []struct {
		method, path, role string
		status             int
		body               string
	}{
		{"GET", "/api/things", "admin or auditor", 200, `{"ok":true}`},
		{"GET", "/api/things", "admin", 403, `{"error":{"code":"forbidden","message":"no"}}`},
		{"POST", "/api/things", "admin", 200, `{"ok":true}`},
		{"GET", "/api/things/7", "admin or auditor", 200, `{"ok":true}`},
		{"GET", "/open", "", 200, `{"ok":true}`},
		{"GET", "/api/nope", "admin or auditor", 404, `{"error":{"code":"not_found","message":"no such test API route: /api/nope"}}`},
		{"GET", "/api/nope", "", 403, `{"error":{"code":"forbidden","message":"no"}}`},
		{"PUT", "/api/things", "admin or auditor", 405, `{"error":{"code":"method_not_allowed","message":"PUT is not allowed on /api/things"}}`},
		{"DELETE", "/api/things/7", "admin or auditor", 405, `{"error":{"code":"method_not_allowed","message":"DELETE is not allowed on /api/things/7"}}`},
		{"GET", "/api", "admin or auditor", 404, `{"error":{"code":"not_found","message":"no such test API route: /api"}}`},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
		req.Header.Set("X-Role", tt.role)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.status || string(b) != tt.body+"\n" {
			t.Errorf("%s %s as %q: %d %s, want %d %s", tt.method, tt.path, tt.role, resp.StatusCode, b, tt.status, tt.body)
		}
	}
}

func TestMount_UnknownParameters(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	routes := []Route{
		{Method: http.MethodGet, Pattern: "/audit/v1/events", Handler: ok, Query: []string{"user", "since", "limit"}},
		{Method: http.MethodGet, Pattern: "/audit/v1/list", Handler: ok},
		{Method: http.MethodPost, Pattern: "/audit/v1/events", Handler: ok, Query: []string{"user"}},
		{Method: http.MethodGet, Pattern: "/api/v1.4/children", Handler: ok, Family: Content},
	}
	r := chi.NewRouter()
	Mount(r, routes, func(Access) []func(http.Handler) http.Handler { return nil })
	tests := []struct {
		method, target string
		status         int
		body           string
	}{
		{"GET", "/audit/v1/events?user=bob&since=1h", 204, ""},
		{"GET", "/audit/v1/events?usr=bob", 400, `{"error":{"code":"unknown_parameter","message":"unknown parameter \"usr\" (did you mean \"user\"?)"}}`},
		{"GET", "/audit/v1/events?user=bob&zzzzzzzz=1", 400, `{"error":{"code":"unknown_parameter","message":"unknown parameter \"zzzzzzzz\""}}`},
		{"GET", "/audit/v1/list?x=1", 400, `{"error":{"code":"unknown_parameter","message":"unknown parameter \"x\""}}`},
		{"POST", "/audit/v1/events?anything=1", 204, ""},
		{"GET", "/api/v1.4/children?_=12345", 204, ""}, // the content API ignores cache busters
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
		if w.Code != tt.status || strings.TrimSpace(w.Body.String()) != tt.body {
			t.Errorf("%s %s = %d %s, want %d %s", tt.method, tt.target, w.Code, w.Body, tt.status, tt.body)
		}
	}
}
