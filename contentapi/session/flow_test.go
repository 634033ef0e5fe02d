package session_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// TestFlow_RealClient drives sign-in, a page, a state-changing call and
// sign-out with a real client and cookie jar.
func TestFlow_RealClient(t *testing.T) {
	m, _, _ := manager(t)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /auth/signin", func(w http.ResponseWriter, r *http.Request) {
		_, csrf, err := m.Start(w, r, "alice@example.com")
		if err != nil {
			http.Error(w, "", 500)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"csrf_token": csrf})
	})
	authed := func(h http.HandlerFunc) http.Handler {
		return m.RequireCSRF(content)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s, err := m.Load(r)
			if errors.Is(err, session.ErrNoSession) {
				content.WriteError(w, r, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeCredentialReq, "Sign in first"))
				return
			}
			w.Header().Set("X-User", s.Email)
			h(w, r)
		}))
	}
	mux.Handle("GET /me", authed(func(w http.ResponseWriter, r *http.Request) {}))
	mux.Handle("POST /things", authed(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(201) }))
	mux.Handle("POST /auth/signout", authed(func(w http.ResponseWriter, r *http.Request) { _ = m.End(w, r) }))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar}
	defer cl.CloseIdleConnections()

	do := func(method, path, csrf string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(""))
		if csrf != "" {
			req.Header.Set(session.CSRFHeader, csrf)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	resp, err := cl.Post(srv.URL+"/auth/signin", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		CSRFToken string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()

	if r := do("GET", "/me", ""); r.StatusCode != 200 || r.Header.Get("X-User") != "alice@example.com" {
		t.Fatalf("GET /me with the cookie: %d %q", r.StatusCode, r.Header.Get("X-User"))
	}
	if r := do("POST", "/things", ""); r.StatusCode != 403 {
		t.Fatalf("POST without the CSRF token: %d, want 403", r.StatusCode)
	}
	if r := do("POST", "/things", got.CSRFToken); r.StatusCode != 201 {
		t.Fatalf("POST with the CSRF token: %d, want 201", r.StatusCode)
	}
	if r := do("POST", "/auth/signout", got.CSRFToken); r.StatusCode != 200 {
		t.Fatalf("sign-out: %d", r.StatusCode)
	}
	if r := do("GET", "/me", ""); r.StatusCode != 401 {
		t.Fatalf("after sign-out: %d, want 401", r.StatusCode)
	}
}
