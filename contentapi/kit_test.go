package contentapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/schema"
)

// The tokens the fake verifier knows.
const (
	tokUser    = "00000000000000000000000000000001" // user.read, user.write, files.read
	tokAdmin   = "00000000000000000000000000000002" // organization.admin, an admin
	tokDemoted = "00000000000000000000000000000003" // organization.admin, no longer an admin
	tokExpired = "00000000000000000000000000000004"
	tokSubtree = "00000000000000000000000000000005" // files.read restricted to one folder
	tokLinks   = "00000000000000000000000000000006" // linksharing
	tokBroken  = "00000000000000000000000000000007" // the verifier fails
	tokNone    = "0000000000000000000000000000000f" // unknown
)

const (
	appDevice = "40f9cddab98a432b9c60d734f5f63e7e"
	store     = "3293523a4ca93cd5bcc17d4c4a009468"
	folder    = store + "d1e675b41e8d4c309fc9796a899ee405"
	inFolder  = store + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	elsewhere = "ffffffffffffffffffffffffffffffff" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type fakeVerifier map[string]Principal

func (f fakeVerifier) Verify(_ context.Context, tok string) (Principal, error) {
	if tok == tokBroken {
		return Principal{}, errors.New("database is locked")
	}
	p, ok := f[tok]
	if !ok {
		return Principal{}, ErrUnknownToken
	}
	return p, nil
}

func scopes(t testing.TB, s string) Scopes {
	t.Helper()
	ss, err := ParseScopes(s)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

type fakeAuditor struct {
	mu     sync.Mutex
	events []*schema.Event
	err    error
}

func (f *fakeAuditor) Emit(_ context.Context, events ...*schema.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.events = append(f.events, events...)
	return nil
}

// userBody is the body of the test's PUT /users/{email}.
type userBody struct {
	FirstName string `json:"first_name"`
	Born      Time   `json:"born,omitzero"`
	Quota     *int64 `json:"quota,omitempty"`
}

// testTable is a table of routes that exercise the kit.
func testTable() []Route {
	echo := func(r *Request) (any, error) {
		return map[string]string{"email": r.Principal.Email, "version": r.Version.String()}, nil
	}
	return []Route{
		{Method: "GET", Path: "/children", Since: V(0, 8), Handle: echo},
		{Method: "GET", Path: "/users", Since: V(1, 3), Scopes: []string{ScopeUserRead}, Handle: func(r *Request) (any, error) {
			p, err := ParsePage(r.URL.Query(), 2, 3)
			if err != nil {
				return nil, err
			}
			all := []string{"a@x.com", "b@x.com", "c@x.com", "d@x.com"}
			var items []string
			for _, e := range all {
				if e > p.After && len(items) <= p.Limit {
					items = append(items, e)
				}
			}
			return NewList(items, p.Limit), nil
		}},
		{Method: "GET", Path: "/groups", Since: V(1, 3), Scopes: []string{ScopeGroupsRead, ScopeUserRead}, Handle: func(r *Request) (any, error) {
			return ParseWindow(r.URL.Query(), 20, 100)
		}},
		{Method: "GET", Path: "/files/{id}", Since: V(0, 9), Scopes: []string{ScopeFilesRead}, Handle: func(r *Request) (any, error) {
			id := chi.URLParam(r.Request, "id")
			// The test's tree: inFolder lies in folder.
			var ancestors []string
			if id == inFolder {
				ancestors = []string{folder}
			}
			if !r.Principal.Scopes.Permits(ScopeFilesRead, id, ancestors...) {
				return nil, lacksScope([]string{ScopeFilesRead})
			}
			return map[string]string{"id": id}, nil
		}},
		{Method: "POST", Path: "/links", Since: V(1, 4), Scopes: []string{ScopeLinkSharing, ScopeFilesWrite},
			Handle: func(*Request) (any, error) { return httpapi.Created(map[string]string{"key": "k"}), nil }},
		{Method: "POST", Path: "/users", Since: V(1, 1), Admin: true, Handle: func(r *Request) (any, error) {
			return httpapi.Created(r.Caller()), nil
		}},
		{Method: "PUT", Path: "/users/{email}", Since: V(1, 1), Scopes: []string{ScopeUserWrite}, Handle: func(r *Request) (any, error) {
			email, err := r.PathEmail("email")
			if err != nil {
				return nil, err
			}
			var b userBody
			if err := r.Decode(&b); err != nil {
				return nil, err
			}
			if err := r.Audit("user.update", schema.Fields{"email": email}); err != nil {
				return nil, err
			}
			etag, ok := r.IfMatch()
			return map[string]any{"email": email, "body": b, "if_match": etag, "has_if_match": ok}, nil
		}},
		{Method: "DELETE", Path: "/users/{email}", Since: V(1, 1), Scopes: []string{ScopeUserWrite}, Handle: func(r *Request) (any, error) {
			if _, ok := r.IfNoneMatch(); ok {
				return nil, PreconditionFailed("If-None-Match on a delete")
			}
			return nil, nil
		}},
		{Method: "GET", Path: "/fail/{what}", Since: V(1, 0), Public: true, Handle: func(r *Request) (any, error) {
			switch chi.URLParam(r.Request, "what") {
			case "conflict":
				return nil, Conflict("Already exists")
			case "precondition":
				return nil, PreconditionFailed("ETag mismatch")
			case "busy":
				return nil, TooManyRequests("Slow down", 1500*time.Millisecond)
			case "down":
				return nil, Unavailable("No server", 30*time.Second)
			case "quota":
				return nil, InsufficientStorage("Over quota")
			case "wrapped":
				return nil, errors.Join(errors.New("context"), NotFound("No such user"))
			}
			return nil, errors.New("disk on fire")
		}},
	}
}

// newTestServer serves the kit with the test table through the real
// router, as vigil serve mounts it.
func newTestServer(t *testing.T, aud *fakeAuditor) *httptest.Server {
	t.Helper()
	v := fakeVerifier{
		tokUser:    {Email: "u@example.com", Scopes: scopes(t, "user.read,user.write,files.read"), Device: appDevice},
		tokAdmin:   {Email: "admin@example.com", Admin: true, Scopes: scopes(t, "organization.admin,user.write"), Device: appDevice, ActingAs: ":2"},
		tokDemoted: {Email: "was@example.com", Scopes: scopes(t, "organization.admin"), ActingAs: ":2"},
		tokExpired: {Email: "u@example.com", Scopes: scopes(t, "user.read"), Expires: now},
		tokSubtree: {Email: "u@example.com", Scopes: scopes(t, "files.read:"+folder), Device: appDevice, Expires: now.Add(time.Hour)},
		tokLinks:   {Email: "u@example.com", Scopes: scopes(t, "linksharing")},
	}
	a := New(Config{Verifier: v, Auditor: aud, MaxBodyBytes: 256, Now: func() time.Time { return now },
		Logger: testLogger(io.Discard)})
	r := chi.NewRouter()
	httpapi.Mount(r, append(a.mount(testTable()), a.Routes()...), func(httpapi.Access) []func(http.Handler) http.Handler { return nil })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

type answer struct {
	status int
	header http.Header
	body   string
}

// call sends one request; header lines are "Name: value".
func call(t *testing.T, srv *httptest.Server, method, path, body string, header ...string) answer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Add(k, v)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(b))}
}

// contentError is the body of an error answer.
func contentError(t *testing.T, a answer) (typ, msg string) {
	t.Helper()
	var e struct{ Type, Message string }
	if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Type == "" {
		t.Fatalf("not a content error body: %q", a.body)
	}
	if ct := a.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type %q", ct)
	}
	return e.Type, e.Message
}

func bearer(tok string) string { return "Authorization: Bearer " + tok }

func TestKit_Versions(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	tests := []struct {
		path   string
		status int
	}{
		// /children exists since 0.8.
		{"/api/v0.7/children", 404},
		{"/api/v0.8/children", 200},
		{"/api/v0.9/children", 200},
		{"/api/v0.10/children", 200},
		{"/api/v0.11/children", 404},
		{"/api/v1.0/children", 200},
		{"/api/v1.4/children", 200},
		{"/api/v1.5/children", 404},
		{"/api/v2.0/children", 404},
		{"/api/v01.4/children", 404},
		{"/api/v1.04/children", 404},
		{"/api/1.4/children", 404},
		{"/api/v1/children", 404},
		{"/api/vx.y/children", 404},
		// /users exists since 1.3.
		{"/api/v0.10/users", 404},
		{"/api/v1.2/users", 404},
		{"/api/v1.3/users", 200},
		{"/api/v1.4/users", 200},
		// /files/{id} since 0.9.
		{"/api/v0.8/files/" + folder, 404},
		{"/api/v0.9/files/" + folder, 200},
		// /links since 1.4 (a POST).
		{"/api/v1.3/links", 404},
		// No such route at all, at a good version and a bad one.
		{"/api/v1.4/nope", 404},
		{"/api/v9.9/nope", 404},
		{"/api", 404},
	}
	for _, tt := range tests {
		method, tok := "GET", tokUser
		if strings.HasSuffix(tt.path, "/links") {
			method, tok = "POST", tokLinks
		}
		a := call(t, srv, method, tt.path, "", bearer(tok))
		if a.status != tt.status {
			t.Errorf("%s %s: %d %s, want %d", method, tt.path, a.status, a.body, tt.status)
			continue
		}
		if tt.status == 404 {
			if typ, _ := contentError(t, a); typ != "NOT_FOUND" {
				t.Errorf("%s: type %s, want NOT_FOUND", tt.path, typ)
			}
		}
	}
	// Another method of a known path: 405 at a served version, 404 at
	// one that is not.
	for _, tt := range []struct {
		path   string
		status int
	}{{"/api/v1.4/version", 405}, {"/api/v9.9/version", 404}, {"/api/v0.7/children", 404}, {"/api/v1.4/nothing", 404}} {
		if a := call(t, srv, "POST", tt.path, ""); a.status != tt.status {
			t.Errorf("POST %s: %d %s, want %d", tt.path, a.status, a.body, tt.status)
		} else if typ, _ := contentError(t, a); typ != httpapi.ContentType(tt.status) {
			t.Errorf("POST %s: type %s", tt.path, typ)
		}
	}
	// The version reaches the handler.
	if a := call(t, srv, "GET", "/api/v0.10/children", "", bearer(tokUser)); a.body != `{"email":"u@example.com","version":"0.10"}` {
		t.Errorf("GET /api/v0.10/children: %s", a.body)
	}
}

func TestKit_VersionRoute(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	for _, path := range []string{"/api/v0.8/version", "/api/v1.4/version"} {
		a := call(t, srv, "GET", path, "")
		want := `{"latest":"1.4","versions":["0.8","0.9","0.10","1.0","1.1","1.2","1.3","1.4"]}`
		if a.status != 200 || a.body != want {
			t.Errorf("GET %s (no token): %d %s, want 200 %s", path, a.status, a.body, want)
		}
	}
	if a := call(t, srv, "GET", "/api/v1.5/version", ""); a.status != 404 {
		t.Errorf("GET /api/v1.5/version: %d", a.status)
	}
}

func TestKit_Auth(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	const path = "/api/v1.4/users"
	tests := []struct {
		name      string
		path      string
		header    []string
		status    int
		typ, msg  string
		challenge string // the WWW-Authenticate header wanted
	}{
		{name: "None", status: 401, typ: "UNAUTHORIZED", msg: "Missing access token", challenge: `Bearer realm="vigil"`},
		{name: "EmptyHeader", header: []string{"Authorization: "}, status: 401, typ: "UNAUTHORIZED", challenge: `Bearer realm="vigil"`},
		{name: "Header", header: []string{bearer(tokUser)}, status: 200},
		{name: "SchemeAnyCase", header: []string{"Authorization: bearer  " + tokUser}, status: 200},
		{name: "Query", path: path + "?token=" + tokUser, status: 200},
		{name: "QueryAndCacheBuster", path: path + "?_=123&token=" + tokUser, status: 200},
		{name: "Both", path: path + "?token=" + tokUser, header: []string{bearer(tokUser)}, status: 400, typ: "BAD_ARGS"},
		{name: "BothDifferent", path: path + "?token=" + tokAdmin, header: []string{bearer(tokUser)}, status: 400, typ: "BAD_ARGS"},
		{name: "UpperHex", header: []string{bearer(strings.ToUpper("abcdef00000000000000000000000001"))}, status: 401, typ: "UNAUTHORIZED",
			msg: "Malformed access token", challenge: `Bearer realm="vigil", error="invalid_token"`},
		{name: "Short", header: []string{bearer("abc")}, status: 401, typ: "UNAUTHORIZED", challenge: `Bearer realm="vigil", error="invalid_token"`},
		{name: "Long", header: []string{bearer(tokUser + "0")}, status: 401, typ: "UNAUTHORIZED"},
		{name: "Basic", header: []string{"Authorization: Basic dTpw"}, status: 401, typ: "UNAUTHORIZED", msg: "Malformed access token"},
		{name: "SchemeOnly", header: []string{"Authorization: Bearer"}, status: 401, typ: "UNAUTHORIZED"},
		{name: "QueryMalformed", path: path + "?token=xyz", status: 401, typ: "UNAUTHORIZED", msg: "Malformed access token"},
		{name: "Unknown", header: []string{bearer(tokNone)}, status: 401, typ: "UNAUTHORIZED", msg: "Invalid access token",
			challenge: `Bearer realm="vigil", error="invalid_token"`},
		{name: "Expired", header: []string{bearer(tokExpired)}, status: 401, typ: "UNAUTHORIZED", msg: "Access token expired",
			challenge: `Bearer realm="vigil", error="invalid_token", error_description="the token expired"`},
		{name: "NotYetExpired", path: "/api/v1.4/files/" + folder, header: []string{bearer(tokSubtree)}, status: 200},
		{name: "VerifierFails", header: []string{bearer(tokBroken)}, status: 503, typ: "INTERNAL_ERROR", msg: "Cannot check the access token now; try again later"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.path
			if p == "" {
				p = path
			}
			a := call(t, srv, "GET", p, "", tt.header...)
			if a.status != tt.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tt.status)
			}
			if tt.typ == "" {
				return
			}
			typ, msg := contentError(t, a)
			if typ != tt.typ || tt.msg != "" && msg != tt.msg {
				t.Errorf("error %s %q, want %s %q", typ, msg, tt.typ, tt.msg)
			}
			if got := a.header.Get("WWW-Authenticate"); tt.challenge != "" && got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if strings.Contains(a.body, tokUser) || strings.Contains(a.body, tokNone) {
				t.Errorf("the answer repeats the token: %s", a.body)
			}
		})
	}
}

func TestKit_Scopes(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	tests := []struct {
		name, method, path, tok string
		status                  int
	}{
		{"Has", "GET", "/api/v1.3/users", tokUser, 200},
		{"Lacks", "GET", "/api/v1.3/users", tokLinks, 403},
		{"AdminScopeIsNotUserRead", "GET", "/api/v1.3/users", tokAdmin, 403},
		{"OneOfTwo", "POST", "/api/v1.4/links", tokLinks, 201},
		{"NoneOfTwo", "POST", "/api/v1.4/links", tokUser, 403},
		{"SecondOfTwo", "GET", "/api/v1.4/groups", tokUser, 200},
		{"AnyToken", "GET", "/api/v1.4/children", tokLinks, 200},
		{"Admin", "POST", "/api/v1.4/users", tokAdmin, 201},
		{"AdminWithoutScope", "POST", "/api/v1.4/users", tokUser, 403},
		{"AdminScopeDemotedUser", "POST", "/api/v1.4/users", tokDemoted, 403},
		{"Unrestricted", "GET", "/api/v1.4/files/" + elsewhere, tokUser, 200},
		{"SubtreeRoot", "GET", "/api/v1.4/files/" + folder, tokSubtree, 200},
		{"SubtreeChild", "GET", "/api/v1.4/files/" + inFolder, tokSubtree, 200},
		{"OutsideSubtree", "GET", "/api/v1.4/files/" + elsewhere, tokSubtree, 403},
		{"SubtreeIsNotUserRead", "GET", "/api/v1.4/users", tokSubtree, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, srv, tt.method, tt.path, "", bearer(tt.tok))
			if a.status != tt.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tt.status)
			}
			if tt.status != 403 {
				return
			}
			typ, msg := contentError(t, a)
			want := "Token lacks required scope"
			if tt.tok == tokDemoted {
				want = "Organization administrator required"
			}
			if typ != "FORBIDDEN" || msg != want {
				t.Errorf("error %s %q, want FORBIDDEN %q", typ, msg, want)
			}
		})
	}
	// The admin route's caller acts as the organization's administrator.
	a := call(t, srv, "POST", "/api/v1.4/users", "", bearer(tokAdmin))
	if want := `{"email":"admin@example.com","device":"` + appDevice + `","acting_as":":2"}`; a.body != want {
		t.Errorf("admin caller %s, want %s", a.body, want)
	}
	// The handler has not run when the scope check refuses: nothing audited.
	aud := &fakeAuditor{}
	srv = newTestServer(t, aud)
	if a := call(t, srv, "PUT", "/api/v1.4/users/a@x.com", `{}`, bearer(tokLinks)); a.status != 403 || len(aud.events) != 0 {
		t.Errorf("PUT without user.write: %d, %d events", a.status, len(aud.events))
	}
}

func TestKit_LiberalInput(t *testing.T) {
	aud := &fakeAuditor{}
	srv := newTestServer(t, aud)
	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		want                     string // the body, or the error message's start
	}{
		{name: "OctetStreamJSON", method: "PUT", path: "/api/v1.1/users/U@Example.com", body: `{"first_name":"Ann"}`,
			header: []string{"Content-Type: application/octet-stream"}, status: 200,
			want: `{"body":{"first_name":"Ann"},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "EscapedEmail", method: "PUT", path: "/api/v1.1/users/u%40example.com", body: `{}`, status: 200,
			want: `{"body":{"first_name":""},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "EscapedPlus", method: "PUT", path: "/api/v1.1/users/a%2Bb%40example.com", body: `{}`, status: 200,
			want: `{"body":{"first_name":""},"email":"a+b@example.com","has_if_match":false,"if_match":""}`},
		{name: "TwiceEscapedEmail", method: "PUT", path: "/api/v1.1/users/u%2540example.com", body: `{}`, status: 200,
			want: `{"body":{"first_name":""},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "NotAnEmail", method: "PUT", path: "/api/v1.1/users/nobody", body: `{}`, status: 400, want: "Invalid email"},
		{name: "UnknownFields", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"first_name":"A","nick":"x","extra":{"a":[1]}}`, status: 200,
			want: `{"body":{"first_name":"A"},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "WrongType", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"first_name":1}`, status: 400,
			want: "invalid first_name: must be a string"},
		{name: "WrongTypeNumber", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"quota":"many"}`, status: 400,
			want: "invalid quota: must be a int64"},
		{name: "DateString", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"born":"2014-01-01T00:32:58+01:00"}`, status: 200,
			want: `{"body":{"first_name":"","born":"2013-12-31T23:32:58Z"},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "DateMillis", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"born":1388536378000}`, status: 200,
			want: `{"body":{"first_name":"","born":"2014-01-01T00:32:58Z"},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "DateWrong", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"born":true}`, status: 400,
			want: "invalid born: must be a date"},
		{name: "NoBody", method: "PUT", path: "/api/v1.1/users/u@example.com", status: 400, want: "invalid body: a JSON object is required"},
		{name: "TooLarge", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{"first_name":"` + strings.Repeat("a", 300) + `"}`,
			status: 400, want: "invalid body: larger than 256 bytes"},
		{name: "EmptyIfMatch", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{}`, header: []string{"If-Match: "}, status: 200,
			want: `{"body":{"first_name":""},"email":"u@example.com","has_if_match":false,"if_match":""}`},
		{name: "IfMatch", method: "PUT", path: "/api/v1.1/users/u@example.com", body: `{}`, header: []string{`If-Match: W/"cb0f09"`}, status: 200,
			want: `{"body":{"first_name":""},"email":"u@example.com","has_if_match":true,"if_match":"W/\"cb0f09\""}`},
		{name: "BodyOnGet", method: "GET", path: "/api/v1.4/children", body: `{"ignored":true}`, header: []string{"Content-Type: application/json"}, status: 200,
			want: `{"email":"u@example.com","version":"1.4"}`},
		{name: "BodyOnDelete", method: "DELETE", path: "/api/v1.4/users/u@example.com", body: "garbage", status: 204},
		{name: "EmptyIfNoneMatch", method: "DELETE", path: "/api/v1.4/users/u@example.com", header: []string{"If-None-Match:  "}, status: 204},
		{name: "IfNoneMatch", method: "DELETE", path: "/api/v1.4/users/u@example.com", header: []string{`If-None-Match: "x"`}, status: 412},
		{name: "UnknownQuery", method: "GET", path: "/api/v1.4/children?_=1700000000&cachebuster=x", status: 200,
			want: `{"email":"u@example.com","version":"1.4"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := call(t, srv, tt.method, tt.path, tt.body, append([]string{bearer(tokUser)}, tt.header...)...)
			if a.status != tt.status {
				t.Fatalf("status %d %s, want %d", a.status, a.body, tt.status)
			}
			if a.status >= 400 {
				typ, msg := contentError(t, a)
				if typ != httpapi.ContentType(tt.status) || !strings.HasPrefix(msg, tt.want) {
					t.Errorf("error %s %q, want %s %q...", typ, msg, httpapi.ContentType(tt.status), tt.want)
				}
				return
			}
			if a.body != tt.want {
				t.Errorf("body\n %s\nwant\n %s", a.body, tt.want)
			}
		})
	}
}

func TestKit_ErrorBodies(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	tests := []struct {
		what        string
		status      int
		typ, msg    string
		header, val string
	}{
		{"conflict", 409, "CONFLICT", "Already exists", "", ""},
		{"precondition", 412, "CONFLICT", "ETag mismatch", "", ""},
		{"busy", 429, "TOO_MANY_REQUESTS", "Slow down", "Retry-After", "2"},
		{"down", 503, "INTERNAL_ERROR", "No server", "Retry-After", "30"},
		{"quota", 507, "INSUFFICIENT_STORAGE", "Over quota", "", ""},
		{"wrapped", 404, "NOT_FOUND", "No such user", "", ""},
		{"other", 500, "INTERNAL_ERROR", "internal error", "", ""},
	}
	for _, tt := range tests {
		a := call(t, srv, "GET", "/api/v1.4/fail/"+tt.what, "")
		if a.status != tt.status {
			t.Errorf("%s: status %d, want %d", tt.what, a.status, tt.status)
			continue
		}
		want, _ := json.Marshal(map[string]string{"message": tt.msg, "type": tt.typ})
		var got map[string]string
		if err := json.Unmarshal([]byte(a.body), &got); err != nil {
			t.Errorf("%s: body %q", tt.what, a.body)
		} else if g, _ := json.Marshal(got); string(g) != string(want) {
			t.Errorf("%s: body %s, want %s", tt.what, a.body, want)
		}
		if tt.header != "" && a.header.Get(tt.header) != tt.val {
			t.Errorf("%s: %s %q, want %q", tt.what, tt.header, a.header.Get(tt.header), tt.val)
		}
		if a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tt.what, a.header.Get("Cache-Control"))
		}
	}
}

func TestKit_Paging(t *testing.T) {
	srv := newTestServer(t, &fakeAuditor{})
	tests := []struct {
		query  string
		status int
		want   string
	}{
		{"", 200, `{"data":["a@x.com","b@x.com"],"has_more":true}`},
		{"?limit=3", 200, `{"data":["a@x.com","b@x.com","c@x.com"],"has_more":true}`},
		{"?limit=1000", 200, `{"data":["a@x.com","b@x.com","c@x.com"],"has_more":true}`},
		{"?limit=2&after=b@x.com", 200, `{"data":["c@x.com","d@x.com"],"has_more":false}`},
		{"?after=d@x.com", 200, `{"data":[],"has_more":false}`},
		{"?limit=0", 400, ""},
		{"?limit=x", 400, ""},
		{"?after=a@x.com&before=c@x.com", 400, ""},
	}
	for _, tt := range tests {
		a := call(t, srv, "GET", "/api/v1.3/users"+tt.query, "", bearer(tokUser))
		if a.status != tt.status || tt.want != "" && a.body != tt.want {
			t.Errorf("GET /users%s: %d %s, want %d %s", tt.query, a.status, a.body, tt.status, tt.want)
		}
		if tt.status == 400 {
			if typ, _ := contentError(t, a); typ != "BAD_ARGS" {
				t.Errorf("GET /users%s: type %s", tt.query, typ)
			}
		}
	}
	for _, tt := range []struct {
		query  string
		status int
		want   string
	}{
		{"", 200, `{"Offset":0,"Results":20}`},
		{"?offset=40&results=10", 200, `{"Offset":40,"Results":10}`},
		{"?results=500", 200, `{"Offset":0,"Results":100}`},
		{"?offset=-1", 400, ""},
		{"?results=0", 400, ""},
	} {
		a := call(t, srv, "GET", "/api/v1.3/groups"+tt.query, "", bearer(tokUser))
		if a.status != tt.status || tt.want != "" && a.body != tt.want {
			t.Errorf("GET /groups%s: %d %s, want %d %s", tt.query, a.status, a.body, tt.status, tt.want)
		}
	}
}

func TestKit_Audit(t *testing.T) {
	aud := &fakeAuditor{}
	srv := newTestServer(t, aud)
	if a := call(t, srv, "PUT", "/api/v1.4/users/Ann%40Example.com", `{}`, bearer(tokUser)); a.status != 200 {
		t.Fatalf("PUT: %d %s", a.status, a.body)
	}
	if len(aud.events) != 1 {
		t.Fatalf("%d events, want 1", len(aud.events))
	}
	var got map[string]any
	if err := json.Unmarshal(aud.events[0].Wire(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"topic": "USER", "event": "user.update", "timestamp": "2026-03-01T12:00:00.000Z",
		"email":  "ann@example.com",
		"caller": map[string]any{"email": "u@example.com", "device": appDevice},
	}
	delete(got, "event_id")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("event (-want +got):\n%s", diff)
	}

	// An action whose event cannot be written fails.
	aud.err = errors.New("log full")
	a := call(t, srv, "PUT", "/api/v1.4/users/ann@example.com", `{}`, bearer(tokUser))
	if a.status != 500 {
		t.Errorf("PUT with a failing auditor: %d %s", a.status, a.body)
	}
}
