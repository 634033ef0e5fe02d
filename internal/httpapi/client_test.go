package httpapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// newTestServer serves a small API in both families.
func newTestServer(t *testing.T) *httptest.Server {
	t.Helper()
	audit := Mapper{Matches: []Match{{Err: errMissing, Status: http.StatusNotFound, Code: CodeNotFound}}}
	content := Mapper{Family: Content}
	r := chi.NewRouter()
	r.Method("POST", "/things", audit.Handle(func(r *http.Request) (any, error) {
		if r.Header.Get("Authorization") != "Bearer t0k" {
			return nil, NewError(http.StatusUnauthorized, CodeUnauthenticated, "unknown token")
		}
		var in struct {
			Name string `json:"name"`
		}
		if err := DecodeJSON(r, &in, 1<<10); err != nil {
			return nil, err
		}
		return Created(map[string]string{"name": in.Name}), nil
	}))
	r.Method("GET", "/things/{name}", audit.Handle(func(r *http.Request) (any, error) {
		return nil, errMissing
	}))
	r.Method("GET", "/files/{id}", content.Handle(func(r *http.Request) (any, error) {
		return nil, NewError(http.StatusForbidden, "", "not yours")
	}))
	r.Get("/text", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "bad gateway\nmore", http.StatusBadGateway)
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestClient(t *testing.T) {
	srv := newTestServer(t)
	ctx := context.Background()
	c, err := NewClient(ClientConfig{URL: srv.URL + "/", Token: "t0k", HTTP: srv.Client(), Errors: map[string]error{CodeNotFound: errMissing}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	var out struct{ Name string }
	if err := c.Do(ctx, "POST", "/things", map[string]string{"name": "a"}, &out); err != nil || out.Name != "a" {
		t.Errorf("Do = %+v, %v", out, err)
	}

	err = c.Do(ctx, "GET", "/things/b", nil, &out)
	var e *Error
	if !errors.As(err, &e) || e.Status != 404 || e.Code != CodeNotFound || e.Message != "no such thing" {
		t.Errorf("404: %#v", err)
	}
	if !errors.Is(err, errMissing) || !errors.Is(err, &Error{Status: 404}) {
		t.Errorf("404 %v does not match its sentinel", err)
	}

	err = c.Do(ctx, "POST", "/things", map[string]int{"name": 1}, nil)
	if !errors.As(err, &e) || e.Status != 400 || !strings.Contains(err.Error(), "invalid name") {
		t.Errorf("400: %v", err)
	}

	err = c.Do(ctx, "GET", "/files/1", nil, nil)
	if !errors.As(err, &e) || e.Status != 403 || e.Code != "FORBIDDEN" || e.Message != "not yours" {
		t.Errorf("content 403: %#v", err)
	}

	err = c.Do(ctx, "GET", "/text", nil, nil)
	if !errors.As(err, &e) || e.Status != 502 || e.Code != "http" || !strings.Contains(e.Message, "/text: bad gateway") || errors.Is(err, errMissing) {
		t.Errorf("not an error body: %#v", err)
	}

	bad, err := NewClient(ClientConfig{URL: srv.URL, Token: "wrong", HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Do(ctx, "POST", "/things", map[string]string{}, nil); !errors.Is(err, &Error{Status: 401, Code: CodeUnauthenticated}) {
		t.Errorf("wrong token: %v", err)
	}
}

func TestClient_Open(t *testing.T) {
	srv := newTestServer(t)
	c, err := NewClient(ClientConfig{URL: srv.URL, Token: "t0k", HTTP: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Open(context.Background(), "POST", "/things", map[string]string{"name": "z"})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestNewClient_Invalid(t *testing.T) {
	for _, cfg := range []ClientConfig{
		{URL: "vigil.example.com:8080", Token: "t"},
		{URL: "ftp://vigil.example.com", Token: "t"},
		{URL: "http://", Token: "t"},
		{URL: "http://vigil.example.com"},
	} {
		if _, err := NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) succeeded", cfg)
		}
	}
}
