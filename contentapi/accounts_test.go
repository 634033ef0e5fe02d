package contentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/contentapi/link"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/session/sessiontest"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// The accounts the tests start with, and their passwords.
const (
	adminEmail = "admin@example.com"
	aliceEmail = "alice@example.com"
	bobEmail   = "bob@example.com"
	adminPW    = "admin-pw-Kq81zzT"
	alicePW    = "alice-pw-Wm42xxR"
	bobPW      = "bob-pw-Zr77yyQ"
)

// cheapCost keeps the tests fast; BenchmarkSignIn measures the default.
var cheapCost = password.Config{Memory: 64 << 10, Iterations: 1, Parallelism: 1}

// testClock is the API's settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// accountsEnv is the content API with a real account store, served
// through the real router.
type accountsEnv struct {
	srv   *httptest.Server
	cfg   Config // what the API was built from
	store *auth.Store
	files *tree.Store
	links *link.Store
	// blobs and uploads are the content routes' store and staging.
	blobs   *diskblob.Store
	uploads *transfer.Uploads
	clock   *testClock
	hasher  *password.Hasher
	logs    *bytes.Buffer
	// secrets are every password and token the test used, which no log
	// line or event may hold.
	secrets []string
	// mu guards pending: the events drained around each request (see
	// drainAround), which events returns before the outbox's.
	mu      sync.Mutex
	pending []*schema.Event
}

// newAccountsEnv serves the API on a fresh store with the test's three
// accounts; opts change its Config before it is built.
func newAccountsEnv(t *testing.T, b metadbtest.Backend, opts ...func(*Config)) *accountsEnv {
	t.Helper()
	ctx := context.Background()
	store, err := auth.New(ctx, b.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &accountsEnv{store: store, clock: &testClock{t: time.Now().UTC()}, hasher: password.New(cheapCost),
		logs: &bytes.Buffer{}, secrets: []string{adminPW, alicePW, bobPW}}
	for _, u := range []auth.NewUser{
		{Email: adminEmail, FirstName: "Ada", LastName: "Admin", Level: auth.LevelAdmin, PasswordHash: e.hasher.Hash(adminPW)},
		{Email: aliceEmail, FirstName: "Alice", LastName: "Liddell", PasswordHash: e.hasher.Hash(alicePW)},
		{Email: bobEmail, FirstName: "Bob", LastName: "Builder", PasswordHash: e.hasher.Hash(bobPW)},
	} {
		if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, u); err != nil {
			t.Fatal(err)
		}
	}
	if e.files, err = tree.New(ctx, store, tree.Config{ServerUser: OrgAdminID, Now: e.clock.Now, Revisions: 3}); err != nil {
		t.Fatal(err)
	}
	if e.links, err = link.New(ctx, store, e.clock.Now); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if e.blobs, err = diskblob.New(filepath.Join(dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	if e.uploads, err = transfer.NewUploads(filepath.Join(dir, "uploads"), e.blobs, time.Hour); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Accounts: store, Passwords: e.hasher, Now: e.clock.Now, Files: e.files, Blobs: e.blobs, Uploads: e.uploads, Links: e.links,
		Logger: testLogger(&lockedWriter{w: e.logs})}
	for _, o := range opts {
		o(&cfg)
	}
	e.cfg = cfg
	a := New(cfg)
	e.srv = serve(t, a.Routes(), e.drainAround)
	e.events(t) // the setup's
	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// event is an audit event as a test compares it: its wire form without
// the random event_id and the timestamp (checked to be near now).
type event map[string]any

// streamHeader asks drainAround to pass the answer through unbuffered.
const streamHeader = "X-Test-Stream"

// drainAround drains the outbox before a request (what came before it)
// and after it (what it emitted, recorded for the audit trail's map)
// before the client sees the answer.
func (e *accountsEnv) drainAround(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		drain := func(route string) error {
			e.mu.Lock()
			defer e.mu.Unlock()
			_, err := e.store.DrainOutbox(r.Context(), func(ev *schema.Event) error {
				if route != "" {
					recordEmitted(route, ev.Name())
				}
				e.pending = append(e.pending, ev)
				return nil
			})
			return err
		}
		if err := drain(""); err != nil {
			http.Error(w, "drain: "+err.Error(), http.StatusInternalServerError)
			return
		}
		if r.Header.Get(streamHeader) != "" {
			// The answer goes out as it is written (a client that hangs
			// up midway); its events are drained afterwards.
			next.ServeHTTP(w, r)
			_ = drain(r.Method + " " + chi.RouteContext(r.Context()).RoutePattern())
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if err := drain(r.Method + " " + chi.RouteContext(r.Context()).RoutePattern()); err != nil {
			http.Error(w, "drain: "+err.Error(), http.StatusInternalServerError)
			return
		}
		for k, vs := range rec.Header() {
			w.Header()[k] = vs
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// events drains the outbox (after what the requests drained).
func (e *accountsEnv) events(t *testing.T) []event {
	t.Helper()
	var out []event
	e.mu.Lock()
	defer e.mu.Unlock()
	evs := e.pending
	e.pending = nil
	_, err := e.store.DrainOutbox(context.Background(), func(ev *schema.Event) error {
		evs = append(evs, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		wire := string(ev.Wire())
		for _, s := range e.secrets {
			if strings.Contains(wire, s) {
				t.Errorf("event %s holds a secret", ev.Name())
			}
		}
		var m event
		if err := json.Unmarshal(ev.Wire(), &m); err != nil {
			t.Fatal(err)
		}
		ts, err := time.Parse(time.RFC3339, m["timestamp"].(string))
		if err != nil || time.Since(ts) > 26*time.Hour || time.Until(ts) > time.Hour {
			t.Errorf("event %s: timestamp %v", ev.Name(), m["timestamp"])
		}
		delete(m, "timestamp")
		delete(m, "event_id")
		out = append(out, m)
	}
	return out
}

// wantEvents checks that the outbox holds exactly want.
func (e *accountsEnv) wantEvents(t *testing.T, want ...event) {
	t.Helper()
	got := e.events(t)
	if len(want) == 0 {
		want = nil
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func (e *accountsEnv) checkNoSecrets(t *testing.T) {
	noteSecrets(e.secrets...)
	logs := e.logs.String()
	for _, s := range e.secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log holds a secret: %s", logs)
		}
	}
}

func (e *accountsEnv) call(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	return call(t, e.srv, method, path, body, header...)
}

// signIn gets a token from POST /auth.
func (e *accountsEnv) signIn(t *testing.T, email, pw string) (string, string) {
	t.Helper()
	body, _ := json.Marshal(TokenRequest{Username: email, Password: pw})
	resp := answerAs[TokenResponse](t, "POST /auth as "+email, e.call(t, "POST", "/auth", string(body)), 200)
	e.secrets = append(e.secrets, resp.Token)
	tok, _, err := e.store.AccessToken(context.Background(), token.Hash(resp.Token))
	if err != nil {
		t.Fatal(err)
	}
	e.events(t) // its user.signin
	return resp.Token, tok.Device
}

// cookieSignIn signs in by POST /auth/signin and returns the Cookie
// header line and the CSRF header line.
func (e *accountsEnv) cookieSignIn(t *testing.T, email, pw string) (cookie, csrf string) {
	t.Helper()
	a := e.call(t, "POST", "/auth/signin", `{"email":"`+email+`","password":"`+pw+`"}`)
	resp := answerAs[SignInResponse](t, "POST /auth/signin as "+email, a, 200)
	c := (&http.Response{Header: a.header}).Cookies()
	if len(c) != 1 || c[0].Name != session.DefaultCookie {
		t.Fatalf("cookies %v", c)
	}
	e.secrets = append(e.secrets, c[0].Value, resp.CSRFToken)
	return "Cookie: " + c[0].Name + "=" + c[0].Value, session.CSRFHeader + ": " + resp.CSRFToken
}

const localIP = "127.0.0.1"

// testUA is the User-Agent of the tests' client, which sign-in events record.
const testUA = "Go-http-client/1.1"

func callerOf(email, device string, admin bool) map[string]any {
	c := map[string]any{"email": email, "device": device}
	if admin {
		c["acting_as"] = OrgAdminID
	}
	return c
}

func TestPostAuth(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		a := e.call(t, "POST", "/auth", `{"username":"Alice@Example.com","password":"`+alicePW+`","extra":1}`,
			"Content-Type: application/octet-stream", "User-Agent: vigil-test/1.0 (sign-in)")
		if a.status != 200 {
			t.Fatalf("POST /auth: %d %s", a.status, a.body)
		}
		var resp TokenResponse
		if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
			t.Fatal(err)
		}
		e.secrets = append(e.secrets, resp.Token)
		if !token.Valid(resp.Token) {
			t.Errorf("token %q is not 32 hex", resp.Token)
		}
		wantExp := e.clock.Now().Truncate(time.Second).Add(24 * time.Hour)
		if !resp.ExpiresAt.Equal(wantExp) || resp.User != (SignedInAs{Email: aliceEmail}) {
			t.Errorf("answer %s; want expiry %v, user alice, not admin", a.body, wantExp)
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": "vigil-test/1.0 (sign-in)"})

		// The token works on an API route, with the first-party scopes.
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(resp.Token)); a.status != 200 ||
			a.body != `{"email":"alice@example.com","first_name":"Alice","last_name":"Liddell","is_admin":false}` {
			t.Errorf("GET own user with the token: %d %s", a.status, a.body)
		}
		// An admin's says so.
		a = e.call(t, "POST", "/auth", `{"username":"admin@example.com","password":"`+adminPW+`"}`)
		if a.status != 200 || !strings.Contains(a.body, `"user":{"email":"admin@example.com","is_admin":true}`) {
			t.Errorf("admin POST /auth: %d %s", a.status, a.body)
		}
		e.events(t)
	})
}

func TestPostAuth_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		for _, body := range []string{
			`{"username":"alice@example.com","password":"not-her-password"}`,
			`{"username":"nobody@example.com","password":"` + alicePW + `"}`,
		} {
			name := body
			a := e.call(t, "POST", "/auth", body)
			if typ, msg := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" || msg != "Invalid email or password" {
				t.Errorf("%s: %d %s", name, a.status, a.body)
			}
		}
		e.wantEvents(t,
			event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA},
			event{"topic": "USER", "event": "user.password.error", "user": "nobody@example.com", "ip": localIP, "user_agent": testUA},
		)
		// Malformed bodies are 400 BAD_ARGS naming the field, and no
		// sign-in attempt.
		for body, field := range map[string]string{
			`{"username":5,"password":"x"}`:                     "username",
			`{"username":"alice@example.com","password":["x"]}`: "password",
			`{"username":"not-an-email","password":"x"}`:        "username",
			`{"username":"alice@example.com"}`:                  "password",
			`[1]`:                                               "body",
		} {
			a := e.call(t, "POST", "/auth", body)
			if typ, msg := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" || !strings.Contains(msg, field) {
				t.Errorf("%s: %d %s; want 400 naming %s", body, a.status, a.body, field)
			}
		}
		e.wantEvents(t)
		// Too large.
		if a := e.call(t, "POST", "/auth", `{"username":"`+strings.Repeat("a", 2<<20)+`"}`); a.status != 400 {
			t.Errorf("2 MiB body: %d", a.status)
		}
	})
}

func TestPostAuth_RateLimited(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		wrong := `{"username":"alice@example.com","password":"guess"}`
		for i := 0; i < 10; i++ {
			if a := e.call(t, "POST", "/auth", wrong); a.status != 401 {
				t.Fatalf("attempt %d: %d %s", i+1, a.status, a.body)
			}
		}
		e.events(t)
		// The 11th is refused before the password is checked, the right
		// one included.
		for _, pw := range []string{"guess", alicePW} {
			a := e.call(t, "POST", "/auth", `{"username":"alice@example.com","password":"`+pw+`"}`)
			if typ, _ := contentError(t, a); a.status != 429 || typ != "TOO_MANY_REQUESTS" || a.header.Get("Retry-After") != "300" {
				t.Errorf("limited: %d %s Retry-After %q", a.status, a.body, a.header.Get("Retry-After"))
			}
			if a := e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"`+pw+`"}`); a.status != 429 {
				t.Errorf("limited /auth/signin: %d", a.status)
			}
		}
		limited := event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA, "rate_limited": true}
		e.wantEvents(t, limited, limited, limited, limited)
		// The window slides: 5 minutes later the right password works.
		e.clock.Add(5*time.Minute + time.Second)
		e.signIn(t, aliceEmail, alicePW)

		// Per address: 10 failures over several users refuse the next
		// user too.
		e.clock.Add(10 * time.Minute)
		for i := 0; i < 10; i++ {
			user := []string{"x@example.com", "y@example.com", bobEmail}[i%3]
			if a := e.call(t, "POST", "/auth", `{"username":"`+user+`","password":"guess"}`); a.status != 401 {
				t.Fatalf("attempt %d: %d", i+1, a.status)
			}
		}
		e.events(t)
		a := e.call(t, "POST", "/auth", `{"username":"admin@example.com","password":"`+adminPW+`"}`)
		if a.status != 429 {
			t.Errorf("11th failure from one address, another user: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.password.error", "user": adminEmail, "ip": localIP, "user_agent": testUA, "rate_limited": true})
	})
}

func TestCookieSignIn(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		a := e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"`+alicePW+`"}`)
		if a.status != 200 {
			t.Fatalf("POST /auth/signin: %d %s", a.status, a.body)
		}
		sc := a.header.Get("Set-Cookie")
		for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(sc, attr) {
				t.Errorf("Set-Cookie %q lacks %s", sc, attr)
			}
		}
		var resp SignInResponse
		if err := json.Unmarshal([]byte(a.body), &resp); err != nil || resp.User != (SignedInAs{Email: aliceEmail}) || !token.Valid(resp.CSRFToken) {
			t.Errorf("answer %s", a.body)
		}
		c := (&http.Response{Header: a.header}).Cookies()[0]
		e.secrets = append(e.secrets, c.Value, resp.CSRFToken)
		cookie, csrf := "Cookie: "+c.Name+"="+c.Value, session.CSRFHeader+": "+resp.CSRFToken
		e.wantEvents(t, event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})
		device := token.Hash(c.Value)[:32]

		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", cookie); a.status != 200 {
			t.Errorf("GET with the cookie: %d %s", a.status, a.body)
		}
		// A change by cookie needs the CSRF token.
		if a := e.call(t, "PUT", "/api/v1.1/users/alice@example.com", `{"first_name":"Al"}`, cookie); a.status != 403 {
			t.Errorf("PUT without CSRF: %d %s", a.status, a.body)
		}
		if a := e.call(t, "PUT", "/api/v1.1/users/alice@example.com", `{"first_name":"Al"}`, cookie, session.CSRFHeader+": "+strings.Repeat("0", 32)); a.status != 403 {
			t.Errorf("PUT with a wrong CSRF token: %d %s", a.status, a.body)
		}
		e.wantEvents(t)
		if a := e.call(t, "PUT", "/api/v1.1/users/alice@example.com", `{"first_name":"Al"}`, cookie, csrf); a.status != 200 || !strings.Contains(a.body, `"first_name":"Al","last_name":"Liddell"`) {
			t.Errorf("PUT with CSRF: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.update", "email": aliceEmail, "caller": callerOf(aliceEmail, device, false)})

		// Sign-out needs the CSRF token too, then the cookie is dead.
		if a := e.call(t, "POST", "/auth/signout", "", cookie); a.status != 403 {
			t.Errorf("sign-out without CSRF: %d", a.status)
		}
		if a := e.call(t, "POST", "/auth/signout", "", cookie, csrf); a.status != 204 || !strings.Contains(a.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("sign-out: %d %v", a.status, a.header)
		}
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", cookie); a.status != 401 {
			t.Errorf("GET after sign-out: %d", a.status)
		}
		// A wrong password is the same 401 and event as POST /auth's.
		a = e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"nope"}`)
		if typ, _ := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" {
			t.Errorf("wrong password: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA})
	})
}

func TestSignOutEverywhere(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		c1, csrf1 := e.cookieSignIn(t, aliceEmail, alicePW)
		c2, _ := e.cookieSignIn(t, aliceEmail, alicePW)
		tok, _ := e.signIn(t, aliceEmail, alicePW)
		bobTok, _ := e.signIn(t, bobEmail, bobPW)
		e.events(t)
		if a := e.call(t, "POST", "/auth/signout/all", "", c1, csrf1); a.status != 204 {
			t.Fatalf("sign out everywhere: %d %s", a.status, a.body)
		}
		for name, h := range map[string]string{"this session": c1, "another session": c2, "a token": bearer(tok)} {
			if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", h); a.status != 401 {
				t.Errorf("%s after sign-out everywhere: %d", name, a.status)
			}
		}
		if a := e.call(t, "GET", "/api/v1.1/users/bob@example.com", "", bearer(bobTok)); a.status != 200 {
			t.Errorf("bob's token: %d", a.status)
		}
		// A token signs itself out.
		if a := e.call(t, "POST", "/auth/signout", "", bearer(bobTok)); a.status != 204 {
			t.Errorf("token sign-out: %d", a.status)
		}
		if a := e.call(t, "GET", "/api/v1.1/users/bob@example.com", "", bearer(bobTok)); a.status != 401 {
			t.Errorf("bob's token after sign-out: %d", a.status)
		}
		e.wantEvents(t)
	})
}

func TestUsers_Create(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		tok, dev := e.signIn(t, adminEmail, adminPW)
		a := e.call(t, "POST", "/api/v1.1/users", `{"email":"Carol@Example.com","first_name":"Carol","last_name":"Singer"}`, bearer(tok))
		if a.status != 201 || a.body != `{"email":"carol@example.com","first_name":"Carol","last_name":"Singer","is_admin":false}` ||
			a.header.Get("Location") != "/api/v1.1/users/carol@example.com" {
			t.Fatalf("POST /users: %d %s %v", a.status, a.body, a.header)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.create", "email": "carol@example.com", "caller": callerOf(adminEmail, dev, true)})
		a = e.call(t, "POST", "/api/v1.1/users", `{"email":"carol@example.com"}`, bearer(tok))
		if typ, _ := contentError(t, a); a.status != 409 || typ != "CONFLICT" {
			t.Errorf("duplicate: %d %s", a.status, a.body)
		}
		for body, field := range map[string]string{
			`{"email":"no-at-sign"}`: "email",
			`{}`:                     "email",
			`{"email":"d@example.com","first_name":7}`:       "first_name",
			`{"email":"d@example.com","last_name":"\u0007"}`: "last_name",
		} {
			a := e.call(t, "POST", "/api/v1.1/users", body, bearer(tok))
			if typ, msg := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" || !strings.Contains(msg, field) {
				t.Errorf("%s: %d %s; want 400 naming %s", body, a.status, a.body, field)
			}
		}
		e.wantEvents(t)
	})
}

func TestUsers_List(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		tok, _ := e.signIn(t, adminEmail, adminPW)
		list := func(q string) (emails []string, more bool) {
			t.Helper()
			a := e.call(t, "GET", "/api/v1.3/users"+q, "", bearer(tok))
			var l List[User]
			if err := json.Unmarshal([]byte(a.body), &l); a.status != 200 || err != nil {
				t.Fatalf("GET /users%s: %d %s", q, a.status, a.body)
			}
			for _, u := range l.Data {
				emails = append(emails, u.Email)
			}
			return emails, l.HasMore
		}
		check := func(q string, want []string, wantMore bool) {
			t.Helper()
			got, more := list(q)
			if !cmp.Equal(want, got) || more != wantMore {
				t.Errorf("GET /users%s = %v, has_more %v; want %v, %v", q, got, more, want, wantMore)
			}
		}
		check("", []string{adminEmail, aliceEmail, bobEmail}, false)
		check("?limit=2", []string{adminEmail, aliceEmail}, true)
		check("?limit=2&after=alice@example.com", []string{bobEmail}, false)
		check("?limit=1&before=bob@example.com", []string{aliceEmail}, true)
		check("?limit=2&before=bob@example.com", []string{adminEmail, aliceEmail}, false)
		if a := e.call(t, "GET", "/api/v1.2/users", "", bearer(tok)); a.status != 404 {
			t.Errorf("GET /users at 1.2: %d", a.status)
		}
		if a := e.call(t, "GET", "/api/v1.3/users?limit=0", "", bearer(tok)); a.status != 400 {
			t.Errorf("limit=0: %d", a.status)
		}
		e.wantEvents(t)
	})
}

func TestUsers_GetUpdateDelete(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		admin, adminDev := e.signIn(t, adminEmail, adminPW)
		alice, aliceDev := e.signIn(t, aliceEmail, alicePW)
		if a := e.call(t, "GET", "/api/v1.1/users/bob%40example.com", "", bearer(admin)); a.status != 200 || !strings.Contains(a.body, `"first_name":"Bob"`) {
			t.Errorf("admin GET bob: %d %s", a.status, a.body)
		}
		if a := e.call(t, "GET", "/api/v1.1/users/nobody@example.com", "", bearer(admin)); a.status != 404 {
			t.Errorf("GET unknown: %d", a.status)
		}
		a := e.call(t, "PUT", "/api/v1.1/users/ALICE@example.com", `{"last_name":"Pleasance","unknown":true}`, bearer(alice))
		if a.status != 200 || a.body != `{"email":"alice@example.com","first_name":"Alice","last_name":"Pleasance","is_admin":false}` {
			t.Errorf("PUT own name: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.update", "email": aliceEmail, "caller": callerOf(aliceEmail, aliceDev, false)})
		if a := e.call(t, "PUT", "/api/v1.1/users/bob@example.com", `{"first_name":"Robert"}`, bearer(admin)); a.status != 200 {
			t.Errorf("admin PUT bob: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.update", "email": bobEmail, "caller": callerOf(adminEmail, adminDev, true)})

		if a := e.call(t, "DELETE", "/api/v1.1/users/bob@example.com", "", bearer(admin)); a.status != 204 {
			t.Fatalf("DELETE bob: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.delete", "email": bobEmail, "delete": callerOf(adminEmail, adminDev, true)})
		if a := e.call(t, "DELETE", "/api/v1.1/users/bob@example.com", "", bearer(admin)); a.status != 404 {
			t.Errorf("DELETE again: %d", a.status)
		}
		// A user with devices is kept.
		if _, _, err := e.store.AddDevice(context.Background(), auth.LocalCaller, aliceEmail, "laptop"); err != nil {
			t.Fatal(err)
		}
		e.events(t)
		a = e.call(t, "DELETE", "/api/v1.1/users/alice@example.com", "", bearer(admin))
		if typ, _ := contentError(t, a); a.status != 409 || typ != "CONFLICT" {
			t.Errorf("DELETE a user with devices: %d %s", a.status, a.body)
		}
		e.wantEvents(t)
	})
}

func TestUsers_Password(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		alice, aliceDev := e.signIn(t, aliceEmail, alicePW)
		const newPW = `n3w "pass" w0rd`
		e.secrets = append(e.secrets, "n3w")
		quoted, _ := json.Marshal(newPW)
		twice, _ := json.Marshal(string(quoted))
		for name, body := range map[string]string{"JSON string": string(quoted), "bare": newPW, "encoded twice": string(twice)} {
			if a := e.call(t, "PUT", "/api/v1.1/users/alice@example.com/password", body, bearer(alice)); a.status != 204 {
				t.Fatalf("%s: %d %s", name, a.status, a.body)
			}
			e.wantEvents(t, event{"topic": "USER", "event": "user.password.update", "email": aliceEmail, "caller": callerOf(aliceEmail, aliceDev, false)})
			e.signIn(t, aliceEmail, newPW)
			// Back to another password, so that the next form is tested.
			if err := e.store.SetPassword(context.Background(), auth.Actor{Email: auth.LocalCaller}, aliceEmail, e.hasher.Hash("other")); err != nil {
				t.Fatal(err)
			}
			e.events(t)
		}
		for _, body := range []string{`{"password":"x"}`, `[]`, `true`, `""`, ""} {
			a := e.call(t, "PUT", "/api/v1.1/users/alice@example.com/password", body, bearer(alice))
			if typ, msg := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" || !strings.Contains(msg, "password") {
				t.Errorf("body %q: %d %s", body, a.status, a.body)
			}
		}
		// Another user's password: only an administrator.
		if a := e.call(t, "PUT", "/api/v1.1/users/bob@example.com/password", `"x"`, bearer(alice)); a.status != 403 {
			t.Errorf("alice sets bob's password: %d", a.status)
		}
		e.wantEvents(t)

		// Revoking ends the user's tokens, and the password no longer
		// signs in.
		admin, adminDev := e.signIn(t, adminEmail, adminPW)
		if a := e.call(t, "DELETE", "/api/v1.1/users/alice@example.com/password", "", bearer(admin)); a.status != 204 {
			t.Fatalf("revoke: %d %s", a.status, a.body)
		}
		e.wantEvents(t, event{"topic": "USER", "event": "user.password.revoke", "email": aliceEmail, "caller": callerOf(adminEmail, adminDev, true)})
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(alice)); a.status != 401 {
			t.Errorf("alice's token after revoke: %d", a.status)
		}
		if a := e.call(t, "POST", "/auth", `{"username":"alice@example.com","password":"other"}`); a.status != 401 {
			t.Errorf("sign-in after revoke: %d", a.status)
		}
		e.events(t)
	})
}

// TestUsers_Credentials tries every user route with every kind of
// credential.
func TestUsers_Credentials(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		ctx := context.Background()
		user, _ := e.signIn(t, aliceEmail, alicePW)
		admin, _ := e.signIn(t, adminEmail, adminPW)
		// Expired: issued 25 hours ago.
		expired, _ := e.signIn(t, bobEmail, bobPW)
		e.clock.Add(-25 * time.Hour)
		expiredUser, _ := e.signIn(t, bobEmail, bobPW)
		e.clock.Add(25 * time.Hour)
		_ = expired
		// A token with a scope no user route takes.
		narrow := token.New()
		e.secrets = append(e.secrets, narrow)
		now := time.Now()
		if err := e.store.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: token.Hash(narrow), Email: adminEmail,
			Scopes: "files.read", Device: token.New(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		e.events(t)

		type route struct{ method, path, body string }
		own := []route{
			{"GET", "/api/v1.1/users/alice@example.com", ""},
			{"PUT", "/api/v1.1/users/alice@example.com", `{"first_name":"A"}`},
			{"PUT", "/api/v1.1/users/alice@example.com/password", `"` + alicePW + `"`},
		}
		others := []route{
			{"GET", "/api/v1.1/users/bob@example.com", ""},
			{"PUT", "/api/v1.1/users/bob@example.com", `{"first_name":"B"}`},
			{"PUT", "/api/v1.1/users/bob@example.com/password", `"` + bobPW + `"`},
		}
		adminOnly := []route{
			{"GET", "/api/v1.3/users", ""},
			{"POST", "/api/v1.1/users", `{"email":"new@example.com"}`},
			{"DELETE", "/api/v1.1/users/bob@example.com/password", ""},
			{"DELETE", "/api/v1.1/users/bob@example.com", ""},
		}
		all := append(append(append([]route{}, own...), others...), adminOnly...)
		for _, rt := range all {
			for name, want := range map[string]struct {
				header string
				status int
			}{
				"none":       {"", 401},
				"expired":    {bearer(expiredUser), 401},
				"unknown":    {bearer(token.New()), 401},
				"wrongscope": {bearer(narrow), 403},
			} {
				var h []string
				if want.header != "" {
					h = append(h, want.header)
				}
				a := e.call(t, rt.method, rt.path, rt.body, h...)
				if a.status != want.status {
					t.Errorf("%s %s with %s: %d %s; want %d", rt.method, rt.path, name, a.status, a.body, want.status)
				}
			}
		}
		for _, rt := range own {
			if a := e.call(t, rt.method, rt.path, rt.body, bearer(user)); a.status/100 != 2 {
				t.Errorf("%s %s as the user: %d %s", rt.method, rt.path, a.status, a.body)
			}
		}
		for _, rt := range append(others, adminOnly...) {
			a := e.call(t, rt.method, rt.path, rt.body, bearer(user))
			if typ, _ := contentError(t, a); a.status != 403 || typ != "FORBIDDEN" {
				t.Errorf("%s %s as another user: %d %s; want 403", rt.method, rt.path, a.status, a.body)
			}
		}
		for _, rt := range append(others, adminOnly...) {
			if a := e.call(t, rt.method, rt.path, rt.body, bearer(admin)); a.status/100 != 2 {
				t.Errorf("%s %s as the admin: %d %s", rt.method, rt.path, a.status, a.body)
			}
		}
		e.events(t)
	})
}

// TestUsers_EventNotWritten: an action whose event cannot be written
// fails, and does not happen.
func TestUsers_EventNotWritten(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		srv, store, admin := withoutOutbox(t, b, Config{}, nil)
		if a := call(t, srv, "POST", "/api/v1.1/users", `{"email":"carol@example.com"}`, bearer(admin)); a.status != 500 {
			t.Errorf("POST /users without an outbox: %d %s", a.status, a.body)
		}
		if _, err := store.User(ctx, "carol@example.com"); err == nil {
			t.Error("the user was created without its event")
		}
		if a := call(t, srv, "POST", "/auth", `{"username":"admin@example.com","password":"`+adminPW+`"}`); a.status != 500 {
			t.Errorf("sign-in without an outbox: %d", a.status)
		}
	})
}

func TestSessionStore_Conformance(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		sessiontest.Run(t, func(t *testing.T) session.Store {
			store, err := auth.New(context.Background(), b.New(t).Open(t))
			if err != nil {
				t.Fatal(err)
			}
			for _, email := range []string{aliceEmail, bobEmail} {
				if _, err := store.CreateUser(context.Background(), auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: email}); err != nil {
					t.Fatal(err)
				}
			}
			return sessionStore{s: store, absolute: time.Hour, signin: &auth.Actor{IP: localIP}}
		})
	})
}

func TestParsePasswordBody(t *testing.T) {
	for body, want := range map[string]string{
		`"s3cret"`:        "s3cret",
		`s3cret`:          "s3cret",
		`"\"s3cret\""`:    "s3cret",
		` "s3cret" `:      "s3cret",
		`123456`:          "123456",
		`"\"\\\"x\\\"\""`: `"x"`,
		`pass word`:       "pass word",
		`"é"`:             "é",
	} {
		got, err := ParsePasswordBody([]byte(body))
		if err != nil || got != want {
			t.Errorf("ParsePasswordBody(%s) = %q, %v; want %q", body, got, err, want)
		}
	}
	for _, body := range []string{``, `""`, `{}`, `[]`, `null`, `true`, "\xff", `"` + strings.Repeat("a", 1025) + `"`} {
		if _, err := ParsePasswordBody([]byte(body)); err == nil {
			t.Errorf("ParsePasswordBody(%q) accepted", body)
		}
	}
}

func FuzzParsePasswordBody(f *testing.F) {
	for _, s := range []string{`"s3cret"`, `s3cret`, `"\"s3cret\""`, `123`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pw, err := ParsePasswordBody(body)
		if err != nil {
			if len(body) > 3 && strings.Contains(err.Error(), string(body)) {
				t.Errorf("error %q quotes the body", err)
			}
			return
		}
		if pw == "" || len(pw) > maxPasswordBytes {
			t.Errorf("accepted %q", pw)
		}
		// The JSON string of a password reads back as it.
		q, _ := json.Marshal(pw)
		if again, err := ParsePasswordBody(q); err != nil || again != pw && !strings.HasPrefix(pw, `"`) {
			t.Errorf("ParsePasswordBody(%s) = %q, %v; want %q", q, again, err, pw)
		}
	})
}

// fuzzDecode decodes body into v as the sign-in and user routes do.
func fuzzDecode(body []byte, v any) error {
	r := httptest.NewRequest("POST", "/auth", bytes.NewReader(body))
	return httpapi.DecodeJSONLax(r, v, 1<<20)
}

func FuzzTokenRequest(f *testing.F) {
	for _, s := range []string{`{"username":"a@b.c","password":"x"}`, `{"username":5}`, `[]`, `{"password":"secret-x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req TokenRequest
		if err := fuzzDecode(body, &req); err != nil {
			if req.Password != "" && len(req.Password) > 3 && strings.Contains(err.Error(), req.Password) {
				t.Errorf("error %q quotes the password", err)
			}
		}
		var sreq SignInRequest
		_ = fuzzDecode(body, &sreq)
	})
}

func FuzzUserBodies(f *testing.F) {
	for _, s := range []string{`{"email":"a@b.c","first_name":"A","last_name":"B"}`, `{"first_name":null}`, `{"last_name":7}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var nu NewUserRequest
		if fuzzDecode(body, &nu) == nil && nu.Email != "" {
			if e, err := bodyEmail(nu.Email); err == nil && e != strings.ToLower(e) {
				t.Errorf("email %q not lower-cased", e)
			}
		}
		var up UpdateUserRequest
		_ = fuzzDecode(body, &up)
	})
}

// BenchmarkSignIn is POST /auth at the default argon2id cost (19 MiB, 2
// passes): sign-ins per second of one core.
func BenchmarkSignIn(b *testing.B) {
	benchEnv(b, func(srv *httptest.Server, body string, _ string) {
		for b.Loop() {
			resp, err := srv.Client().Post(srv.URL+"/auth", "application/json", strings.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
	})
}

// BenchmarkTokenCheck is GET /users/{email} with a bearer token: token
// checks per second on an API route, with the store in SQLite.
func BenchmarkTokenCheck(b *testing.B) {
	benchEnv(b, func(srv *httptest.Server, _ string, tok string) {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1.1/users/alice@example.com", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := srv.Client().Do(req.Clone(context.Background()))
				if err != nil {
					b.Error(err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Error(resp.Status)
					return
				}
			}
		})
	})
}

func benchEnv(b *testing.B, run func(srv *httptest.Server, body, tok string)) {
	store, err := auth.Open(b.TempDir() + "/auth.db")
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	var pc password.Config
	pc.SetDefaults()
	h := password.New(pc)
	if _, err := store.CreateUser(context.Background(), auth.Actor{Email: auth.LocalCaller},
		auth.NewUser{Email: aliceEmail, PasswordHash: h.Hash(alicePW)}); err != nil {
		b.Fatal(err)
	}
	// No limit on successes; failures never happen here.
	a := New(Config{Accounts: store, Passwords: h, Logger: slog.New(slog.DiscardHandler)})
	srv := serve(b, a.Routes())
	body := `{"username":"alice@example.com","password":"` + alicePW + `"}`
	resp, err := srv.Client().Post(srv.URL+"/auth", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	var tr TokenResponse
	_ = json.NewDecoder(resp.Body).Decode(&tr)
	resp.Body.Close()
	run(srv, body, tr.Token)
}

// BenchmarkAuditedMutation is PUT /users/{email} with a bearer token
// through the real router on SQLite: the change and its user.update
// commit together. It reports the p50 and p99 of a request.
func BenchmarkAuditedMutation(b *testing.B) {
	benchEnv(b, func(srv *httptest.Server, _ string, tok string) {
		var took []time.Duration
		i := 0
		for b.Loop() {
			i++
			req, _ := http.NewRequest("PUT", srv.URL+"/api/v1.1/users/alice@example.com",
				strings.NewReader(`{"first_name":"Alice `+strconv.Itoa(i)+`"}`))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "application/json")
			start := time.Now()
			resp, err := srv.Client().Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took = append(took, time.Since(start))
			if resp.StatusCode != 200 {
				b.Fatal(resp.Status)
			}
		}
		slices.Sort(took)
		pct := func(p float64) float64 {
			return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
		}
		b.ReportMetric(pct(0.50), "p50-ms")
		b.ReportMetric(pct(0.99), "p99-ms")
	})
}

// TestSignIn_RehashOnCostChange: a sign-in under a new argon2id cost
// stores the password hashed at that cost; the user sees nothing of it.
func TestSignIn_RehashOnCostChange(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		ctx := context.Background()
		params := func() password.Params {
			t.Helper()
			_, stored, err := e.store.PasswordHash(ctx, aliceEmail)
			if err != nil {
				t.Fatal(err)
			}
			h, err := password.Parse(stored)
			if err != nil {
				t.Fatal(err)
			}
			return h.Params
		}
		e.signIn(t, aliceEmail, alicePW)
		before := params()
		if before != e.hasher.Params() {
			t.Fatalf("hash at %+v, want the configured %+v", before, e.hasher.Params())
		}
		// The same store, served at another cost.
		costlier := password.New(password.Config{Memory: 2 * cheapCost.Memory, Iterations: 2, Parallelism: 1})
		cfg := e.cfg
		cfg.Passwords = costlier
		srv := serve(t, New(cfg).Routes(), e.drainAround)
		signIn := func(pw string) int {
			t.Helper()
			body, _ := json.Marshal(TokenRequest{Username: aliceEmail, Password: pw})
			a := call(t, srv, "POST", "/auth", string(body))
			var resp TokenResponse
			if a.status == 200 {
				if err := json.Unmarshal([]byte(a.body), &resp); err != nil {
					t.Fatal(err)
				}
				e.secrets = append(e.secrets, resp.Token)
			}
			return a.status
		}
		// A wrong password rehashes nothing.
		if st := signIn("not-" + alicePW); st != 401 || params() != before {
			t.Errorf("wrong password: %d, hash at %+v", st, params())
		}
		if st := signIn(alicePW); st != 200 {
			t.Fatalf("sign-in at the new cost: %d", st)
		}
		if got := params(); got != costlier.Params() {
			t.Errorf("after the sign-in: hash at %+v, want %+v", got, costlier.Params())
		}
		// The password is the same, at either cost.
		if st := signIn(alicePW); st != 200 {
			t.Errorf("second sign-in at the new cost: %d", st)
		}
		e.signIn(t, aliceEmail, alicePW)
		if got := params(); got != before {
			t.Errorf("back at the old cost: hash at %+v, want %+v", got, before)
		}
		e.events(t)
	})
}
