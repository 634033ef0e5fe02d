package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// testHash stands for the content API's password hashing.
func testHash(pw string) string {
	h := sha256.Sum256([]byte(pw))
	return "$test$" + hex.EncodeToString(h[:])
}

// newAdminServer serves the admin API of s as the server mounts it:
// behind Middleware.
func newAdminServer(t *testing.T, s *Store) *httptest.Server {
	t.Helper()
	r := chi.NewRouter()
	httpapi.Mount(r, AdminRoutes(s, testHash), func(httpapi.Access) []func(http.Handler) http.Handler {
		return []func(http.Handler) http.Handler{Middleware(s)}
	})
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// call sends one request to srv and returns the status and body.
func call(t *testing.T, srv *httptest.Server, token, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
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
	return resp.StatusCode, b
}

// TestAdminAPI_Access is the table of route by credential: only a valid
// admin token gets through.
func TestAdminAPI_Access(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		srv := newAdminServer(t, s)
		_, deviceToken := addDevice(t, s, "alice@example.com", "laptop")
		creds := map[string]string{
			"none":          "",
			"device":        deviceToken,
			"auditor":       addToken(t, s, RoleAuditor, "grafana"),
			"admin":         addToken(t, s, RoleAdmin, "ops"),
			"revoked admin": addToken(t, s, RoleAdmin, "gone"),
		}
		if err := s.RevokeToken(ctx, LocalCaller, "gone"); err != nil {
			t.Fatal(err)
		}

		var seq atomic.Int64
		unique := func() string { return fmt.Sprint("x", seq.Add(1)) }
		routes := []struct {
			name   string
			method string
			// path returns the route's path, creating what it acts on.
			path  func() string
			body  func() string
			admin int // the admin token's status
		}{
			{name: "POST devices", method: "POST", path: func() string { return "/devices" }, body: func() string { return `{"user":"bob@example.com","name":"` + unique() + `"}` }, admin: 201},
			{name: "GET devices", method: "GET", path: func() string { return "/devices" }, admin: 200},
			{name: "DELETE device", method: "DELETE", path: func() string { d, _ := addDevice(t, s, "bob@example.com", unique()); return "/devices/" + d.ID }, admin: 204},
			{name: "POST tokens", method: "POST", path: func() string { return "/tokens" }, body: func() string { return `{"role":"auditor","name":"` + unique() + `"}` }, admin: 201},
			{name: "GET tokens", method: "GET", path: func() string { return "/tokens" }, admin: 200},
			{name: "DELETE token", method: "DELETE", path: func() string { n := unique(); addToken(t, s, RoleAuditor, n); return "/tokens/" + n }, admin: 204},
		}
		tests := []struct {
			cred   string
			status int // 0: the route's admin status
			code   string
		}{
			{cred: "none", status: http.StatusUnauthorized, code: CodeCredentialReq},
			{cred: "device", status: http.StatusForbidden, code: CodeForbidden},
			{cred: "auditor", status: http.StatusForbidden, code: CodeForbidden},
			{cred: "revoked admin", status: http.StatusForbidden, code: CodeRevoked},
			{cred: "admin"},
		}
		for _, rt := range routes {
			for _, tt := range tests {
				path := rt.path()
				t.Run(rt.name+" as "+tt.cred, func(t *testing.T) {
					body := ""
					if rt.body != nil {
						body = rt.body()
					}
					status, got := call(t, srv, creds[tt.cred], rt.method, AdminPath+path, body)
					want := tt.status
					if want == 0 {
						want = rt.admin
					}
					if status != want {
						t.Fatalf("status %d, want %d; body %s", status, want, got)
					}
					if tt.code != "" {
						if e := decodeError(t, got); e.Code != tt.code {
							t.Errorf("code %q, want %q", e.Code, tt.code)
						}
					}
				})
			}
		}
	})
}

func TestAdminAPI_Errors(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		srv := newAdminServer(t, s)
		admin := addToken(t, s, RoleAdmin, "ops")
		revoked, _ := addDevice(t, s, "alice@example.com", "old")
		if err := s.RevokeDevice(context.Background(), LocalCaller, revoked.ID); err != nil {
			t.Fatal(err)
		}
		addToken(t, s, RoleAuditor, "gone")
		if err := s.RevokeToken(context.Background(), LocalCaller, "gone"); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			name, method, path, body string
			status                   int
			code                     string
			message                  string // a part of the message
		}{
			{name: "DeviceNoBody", method: "POST", path: "/devices", status: 400, code: CodeInvalid, message: "body"},
			{name: "DeviceNotJSON", method: "POST", path: "/devices", body: `user=a`, status: 400, code: CodeInvalid, message: "body"},
			{name: "DeviceTrailingData", method: "POST", path: "/devices", body: `{"user":"a@example.com","name":"x"} {}`, status: 400, code: CodeInvalid, message: "body"},
			{name: "DeviceNoUser", method: "POST", path: "/devices", body: `{"name":"x"}`, status: 400, code: CodeInvalid, message: "invalid user: required"},
			{name: "DeviceBadUser", method: "POST", path: "/devices", body: `{"user":"alice","name":"x"}`, status: 400, code: CodeInvalid, message: "invalid user"},
			{name: "DeviceUserNumber", method: "POST", path: "/devices", body: `{"user":1,"name":"x"}`, status: 400, code: CodeInvalid, message: "invalid user: must be a string"},
			{name: "DeviceNoName", method: "POST", path: "/devices", body: `{"user":"a@example.com"}`, status: 400, code: CodeInvalid, message: "invalid name: required"},
			{name: "DeviceUnknownField", method: "POST", path: "/devices", body: `{"user":"a@example.com","name":"x","owner":"b"}`, status: 400, code: CodeInvalid, message: "invalid owner: unknown field"},
			{name: "DeviceTooLarge", method: "POST", path: "/devices", body: `{"user":"a@example.com","name":"` + strings.Repeat("x", maxAdminBody) + `"}`, status: 400, code: CodeInvalid, message: "body"},
			{name: "TokenBadRole", method: "POST", path: "/tokens", body: `{"role":"root","name":"x"}`, status: 400, code: CodeInvalid, message: "invalid role"},
			{name: "TokenNoRole", method: "POST", path: "/tokens", body: `{"name":"x"}`, status: 400, code: CodeInvalid, message: "invalid role: required"},
			{name: "TokenBadName", method: "POST", path: "/tokens", body: `{"role":"admin","name":"my token"}`, status: 400, code: CodeInvalid, message: "invalid name"},
			{name: "TokenTaken", method: "POST", path: "/tokens", body: `{"role":"admin","name":"ops"}`, status: 409, code: CodeExists, message: "ops"},
			{name: "RevokeUnknownDevice", method: "DELETE", path: "/devices/" + strings.Repeat("0", 32), status: 404, code: CodeNotFound, message: "not found"},
			{name: "RevokeNotADeviceID", method: "DELETE", path: "/devices/laptop", status: 400, code: CodeInvalid, message: "invalid id"},
			{name: "RevokeDeviceTwice", method: "DELETE", path: "/devices/" + revoked.ID, status: 409, code: CodeRevoked, message: revoked.ID},
			{name: "RevokeUnknownToken", method: "DELETE", path: "/tokens/nope", status: 404, code: CodeNotFound, message: "nope"},
			{name: "RevokeTokenTwice", method: "DELETE", path: "/tokens/gone", status: 409, code: CodeRevoked, message: "gone"},
			{name: "UnknownRoute", method: "GET", path: "/groups", status: 404, code: CodeNotFound, message: "/groups"},
			{name: "UserExists", method: "POST", path: "/users", body: `{"email":"Alice@example.com","password":"x"}`, status: 409, code: CodeExists, message: "alice@example.com"},
			{name: "UserBadEmail", method: "POST", path: "/users", body: `{"email":"alice"}`, status: 400, code: CodeInvalid, message: "invalid email"},
			{name: "UserBadLevel", method: "PUT", path: "/users/alice@example.com/level", body: `{"level":"ROOT"}`, status: 400, code: CodeInvalid, message: "invalid level"},
			{name: "UserLevelUnknown", method: "PUT", path: "/users/nobody@example.com/level", body: `{"level":"ADMIN"}`, status: 404, code: CodeNotFound, message: "not found"},
			{name: "RemoveUnknownUser", method: "DELETE", path: "/users/nobody@example.com", status: 404, code: CodeNotFound, message: "not found"},
			{name: "RemoveUserWithDevices", method: "DELETE", path: "/users/alice@example.com", status: 409, code: CodeInUse, message: "devices"},
			{name: "WrongMethod", method: "PUT", path: "/devices", status: 405, code: CodeMethod, message: "PUT"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				status, body := call(t, srv, admin, tt.method, AdminPath+tt.path, tt.body)
				if status != tt.status {
					t.Fatalf("status %d, want %d; body %s", status, tt.status, body)
				}
				e := decodeError(t, body)
				if e.Code != tt.code || !strings.Contains(e.Message, tt.message) {
					t.Errorf("error %+v, want code %s and a message with %q", e, tt.code, tt.message)
				}
			})
		}
	})
}

// TestAdminAPI_Caller checks that the audit events of actions through the
// API name the admin token as their caller.
func TestAdminAPI_Caller(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		srv := newAdminServer(t, s)
		admin := addToken(t, s, RoleAdmin, "ops")
		drainAll(t, s)

		status, body := call(t, srv, admin, "POST", AdminPath+"/devices", `{"user":"Alice@Example.com","name":"laptop"}`)
		if status != http.StatusCreated {
			t.Fatalf("status %d; body %s", status, body)
		}
		events := drainAll(t, s)
		if len(events) != 1 {
			t.Fatalf("%d events, want 1", len(events))
		}
		ev, err := schema.Normalize(events[0], schema.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if got := string(ev.Value("caller")); got != `{"email":":token:ops"}` {
			t.Errorf("caller %s, want :token:ops", got)
		}
	})
}

// TestClient drives the admin API through Client, as "vigil admin
// --server" does.
func TestClient(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		srv := newAdminServer(t, s)
		admin := addToken(t, s, RoleAdmin, "ops")
		c, err := NewClient(srv.URL+"/", admin, srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()

		d, token, err := c.AddDevice(ctx, "Alice@Example.com", "laptop")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.Authenticate(ctx, token); err != nil || p.DeviceID != d.ID {
			t.Errorf("Authenticate(device token) = %+v, %v", p, err)
		}
		tok, secret, err := c.AddToken(ctx, RoleAuditor, "grafana")
		if err != nil {
			t.Fatal(err)
		}
		if p, err := s.Authenticate(ctx, secret); err != nil || p.Name != "grafana" {
			t.Errorf("Authenticate(api token) = %+v, %v", p, err)
		}
		ds, err := c.ListDevices(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d.LastSeen = &t0 // authenticated above
		if diff := cmp.Diff([]Device{d}, ds); diff != "" {
			t.Errorf("ListDevices (-want +got):\n%s", diff)
		}
		ts, err := c.ListTokens(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ts) != 2 {
			t.Fatalf("ListTokens = %+v, want grafana and ops", ts)
		}
		tok.LastUsed = &t0
		if diff := cmp.Diff(tok, ts[0]); diff != "" { // created at the same time as ops; by name
			t.Errorf("ListTokens (-want +got):\n%s", diff)
		}
		if err := c.RevokeDevice(ctx, d.ID); err != nil {
			t.Fatal(err)
		}
		if err := c.RevokeToken(ctx, "grafana"); err != nil {
			t.Fatal(err)
		}

		// Errors come back as *APIError, matched to the store's sentinels.
		errTests := []struct {
			name string
			err  error
			want error
		}{
			{name: "RevokeTwice", err: c.RevokeDevice(ctx, d.ID), want: ErrRevoked},
			{name: "UnknownToken", err: c.RevokeToken(ctx, "nope"), want: ErrNotFound},
			{name: "NameTaken", err: func() error { _, _, err := c.AddToken(ctx, RoleAdmin, "ops"); return err }(), want: ErrExists},
		}
		for _, tt := range errTests {
			var ae *APIError
			if !errors.Is(tt.err, tt.want) || !errors.As(tt.err, &ae) {
				t.Errorf("%s: err = %v, want an *APIError matching %v", tt.name, tt.err, tt.want)
			}
		}
		_, _, err = c.AddDevice(ctx, "alice", "x")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(err.Error(), "invalid user") {
			t.Errorf("AddDevice(bad user) = %v, want a 400 naming user", err)
		}

		bad, err := NewClient(srv.URL, strings.Repeat("0", 64), srv.Client())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bad.ListDevices(ctx); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("ListDevices with an unknown token = %v, want ErrUnauthenticated", err)
		}
	})
}

func TestClient_NotAdminAPI(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := NewClient(srv.URL, "t", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListTokens(context.Background())
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusNotFound || errors.Is(err, ErrNotFound) {
		t.Errorf("ListTokens = %v, want a plain 404 *APIError", err)
	}
	if !strings.Contains(err.Error(), AdminPath+"/tokens") {
		t.Errorf("error %q does not name the URL", err)
	}
}

func TestNewClient_Invalid(t *testing.T) {
	tests := []struct{ url, token string }{
		{url: "vigil.example.com:8080", token: "t"},
		{url: "ftp://vigil.example.com", token: "t"},
		{url: "http://", token: "t"},
		{url: "http://vigil.example.com", token: ""},
	}
	for _, tt := range tests {
		if _, err := NewClient(tt.url, tt.token, nil); err == nil {
			t.Errorf("NewClient(%q, %q) succeeded", tt.url, tt.token)
		}
	}
}
