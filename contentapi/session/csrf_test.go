package session_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

var content = httpapi.Mapper{Family: httpapi.Content}

// echo answers 204, or the csrf_token form field it still reads.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	if v := r.PostFormValue("name"); v != "" {
		io.WriteString(w, v)
		return
	}
	w.WriteHeader(http.StatusNoContent)
})

func TestRequireCSRF(t *testing.T) {
	m, _, _ := manager(t)
	c, csrf := signIn(t, m, "alice@example.com")
	_, otherCSRF := signIn(t, m, "alice@example.com")
	h := m.RequireCSRF(content)(echo)

	form := func(v url.Values) func(*http.Request) {
		return func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(v.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		}
	}
	header := func(v string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set(session.CSRFHeader, v) }
	}
	tests := []struct {
		name   string
		method string
		cookie bool
		set    func(*http.Request)
		status int
	}{
		{"GET needs none", "GET", true, nil, 204},
		{"HEAD needs none", "HEAD", true, nil, 204},
		{"OPTIONS needs none", "OPTIONS", true, nil, 204},
		{"POST without cookie passes", "POST", false, nil, 204},
		{"POST without token", "POST", true, nil, 403},
		{"DELETE without token", "DELETE", true, nil, 403},
		{"PUT with header", "PUT", true, header(csrf), 204},
		{"POST with header", "POST", true, header(csrf), 204},
		{"PATCH with wrong header", "PATCH", true, header(token.New()), 403},
		{"another session's token", "POST", true, header(otherCSRF), 403},
		{"the session id as token", "POST", true, header(c.Value), 403},
		{"truncated token", "POST", true, header(csrf[:31]), 403},
		{"form field", "POST", true, form(url.Values{"csrf_token": {csrf}}), 204},
		{"wrong form field", "POST", true, form(url.Values{"csrf_token": {otherCSRF}}), 403},
		{"field in a JSON body does not count", "POST", true, func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"csrf_token":"` + csrf + `"}`))
			r.Header.Set("Content-Type", "application/json")
		}, 403},
		{"field in the query does not count", "POST", true, func(r *http.Request) {
			r.URL.RawQuery = "csrf_token=" + csrf
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ck *http.Cookie
			if tt.cookie {
				ck = c
			}
			r := request(tt.method, ck)
			if tt.set != nil {
				tt.set(r)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.status, w.Body)
			}
			if tt.status != 403 {
				return
			}
			var body map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if body["type"] != "FORBIDDEN" || body["message"] == "" {
				t.Errorf("body %v, want the content API's FORBIDDEN", body)
			}
			if strings.Contains(w.Body.String(), csrf) || strings.Contains(w.Body.String(), c.Value) {
				t.Error("the answer holds a secret")
			}
		})
	}
}

func TestCheckCSRF_FormStillReadable(t *testing.T) {
	m, _, _ := manager(t)
	c, csrf := signIn(t, m, "alice@example.com")
	r := request("POST", c)
	r.Body = io.NopCloser(strings.NewReader(url.Values{"csrf_token": {csrf}, "name": {"kept"}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	m.RequireCSRF(content)(echo).ServeHTTP(w, r)
	if w.Code != 200 || w.Body.String() != "kept" {
		t.Errorf("handler after the check read %d %q, want the form's name", w.Code, w.Body)
	}
}

func TestManager_CSRFTokenForForms(t *testing.T) {
	m, _, _ := manager(t)
	c, csrf := signIn(t, m, "alice@example.com")
	if got, ok := m.CSRFToken(request("GET", c)); !ok || got != csrf {
		t.Errorf("CSRFToken = %q, %v; want Start's", got, ok)
	}
	if _, ok := m.CSRFToken(request("GET", nil)); ok {
		t.Error("CSRFToken without a cookie")
	}
}

func FuzzCheckCSRF(f *testing.F) {
	m, _, _ := manager(f)
	id := token.New()
	want := session.CSRFToken(id)
	f.Add("vigil_session="+id, want, "csrf_token="+want)
	f.Add("vigil_session="+id+"; vigil_session=x", "", "csrf_token=%zz")
	f.Add("vigil_session=", "x", "")
	f.Fuzz(func(t *testing.T, cookie, header, body string) {
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		r.Header.Set("Cookie", cookie)
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if header != "" {
			r.Header.Set(session.CSRFHeader, header)
		}
		err := m.CheckCSRF(r)
		tok, hasCookie := m.CSRFToken(r)
		if err == nil && hasCookie && header != tok && (header != "" || r.PostForm.Get("csrf_token") != tok) {
			t.Fatalf("cookie %q header %q body %q passed without the token", cookie, header, body)
		}
		if !hasCookie && err != nil {
			t.Fatalf("no session cookie in %q, refused: %v", cookie, err)
		}
	})
}
