package session_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/session/sessiontest"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/config"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// countingStore counts Touch calls.
type countingStore struct {
	*sessiontest.Memory
	mu      sync.Mutex
	touches int
}

func (s *countingStore) Touch(ctx context.Context, id string, at time.Time) error {
	s.mu.Lock()
	s.touches++
	s.mu.Unlock()
	return s.Memory.Touch(ctx, id, at)
}

func manager(t testing.TB) (*session.Manager, *countingStore, *clock) {
	t.Helper()
	var cfg session.Config
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	st := &countingStore{Memory: sessiontest.NewMemory()}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return session.New(cfg, st, c.now), st, c
}

// signIn starts a session and returns its cookie and CSRF token.
func signIn(t *testing.T, m *session.Manager, email string) (*http.Cookie, string) {
	t.Helper()
	w := httptest.NewRecorder()
	if _, csrf, err := m.Start(w, httptest.NewRequest("POST", "/auth/signin", nil), email); err != nil {
		t.Fatal(err)
	} else {
		cs := w.Result().Cookies()
		if len(cs) != 1 {
			t.Fatalf("Start set %d cookies", len(cs))
		}
		return cs[0], csrf
	}
	return nil, ""
}

func request(method string, c *http.Cookie) *http.Request {
	r := httptest.NewRequest(method, "/x", nil)
	if c != nil {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	return r
}

func TestConfig(t *testing.T) {
	var c session.Config
	if err := config.Decode([]byte("idle: 15m\nabsolute: 1d\n"), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	want := session.Config{Idle: 15 * time.Minute, Absolute: 24 * time.Hour, Cookie: "vigil_session"}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var d session.Config
	d.SetDefaults()
	if d.Idle != 30*time.Minute || d.Absolute != 12*time.Hour {
		t.Errorf("defaults %+v", d)
	}
	err := session.Config{Idle: time.Hour, Absolute: time.Minute, Cookie: "a b"}.Validate()
	for _, key := range []string{"absolute: ", "cookie: "} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v, want a problem at %s", err, key)
		}
	}
	if err := (session.Config{Idle: -1, Absolute: 0, Cookie: "x"}).Validate(); err == nil || !strings.Contains(err.Error(), "idle: ") {
		t.Errorf("negative idle: %v", err)
	}
}

func TestConfig_Expires(t *testing.T) {
	c := session.Config{Idle: 30 * time.Minute, Absolute: 12 * time.Hour}
	t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		lastSeen time.Time
		want     time.Time
	}{
		{"idle first", t0.Add(time.Hour), t0.Add(90 * time.Minute)},
		{"absolute caps idle", t0.Add(11*time.Hour + 45*time.Minute), t0.Add(12 * time.Hour)},
	}
	for _, tt := range tests {
		s := session.Session{Created: t0, LastSeen: tt.lastSeen}
		if got := c.Expires(s); !got.Equal(tt.want) {
			t.Errorf("%s: Expires = %v, want %v", tt.name, got, tt.want)
		}
		if c.Expired(s, tt.want.Add(-time.Nanosecond)) || !c.Expired(s, tt.want) {
			t.Errorf("%s: Expired is not exactly at Expires", tt.name)
		}
	}
}

func TestStart_Cookie(t *testing.T) {
	m, st, _ := manager(t)
	for _, overTLS := range []bool{false, true} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/auth/signin", nil)
		if overTLS {
			r.TLS = &tls.ConnectionState{}
		}
		s, csrf, err := m.Start(w, r, "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		c := w.Result().Cookies()[0]
		want := http.Cookie{Name: "vigil_session", Value: c.Value, Path: "/", MaxAge: 12 * 3600,
			HttpOnly: true, Secure: overTLS, SameSite: http.SameSiteLaxMode}
		got := http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, MaxAge: c.MaxAge,
			HttpOnly: c.HttpOnly, Secure: c.Secure, SameSite: c.SameSite}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("TLS %v: cookie (-want +got):\n%s", overTLS, diff)
		}
		if !token.Valid(c.Value) {
			t.Errorf("cookie value %q is not a token", c.Value)
		}
		if s.ID != token.Hash(c.Value) || s.ID == c.Value {
			t.Error("the store's key is not the hash of the cookie's id")
		}
		if _, err := st.Get(context.Background(), token.Hash(c.Value)); err != nil {
			t.Errorf("stored: %v", err)
		}
		if !token.Valid(csrf) || csrf == c.Value || csrf != session.CSRFToken(c.Value) || strings.Contains(s.ID, csrf) {
			t.Errorf("CSRF token %q: not derived from the id alone", csrf)
		}
	}
}

func TestLoad_Expiry(t *testing.T) {
	m, st, clk := manager(t)
	c, _ := signIn(t, m, "alice@example.com")

	s, err := m.Load(request("GET", c))
	if err != nil || s.Email != "alice@example.com" {
		t.Fatalf("Load = %+v, %v", s, err)
	}
	if st.touches != 0 {
		t.Errorf("touched %d times right after sign-in", st.touches)
	}
	// Used every 29 minutes, it lives until the absolute limit.
	for range 24 {
		clk.advance(29 * time.Minute)
		if _, err := m.Load(request("GET", c)); err != nil {
			t.Fatalf("used within idle time: %v", err)
		}
	}
	if st.touches != 24 {
		t.Errorf("%d touches for 24 uses a minute apart or more", st.touches)
	}
	// 11h36m after sign-in; 24 minutes more pass the absolute 12h.
	clk.advance(24 * time.Minute)
	if _, err := m.Load(request("GET", c)); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("past the absolute limit: Load = %v, want ErrNoSession", err)
	}
	if st.Len() != 0 {
		t.Error("the expired session was not deleted")
	}

	c2, _ := signIn(t, m, "alice@example.com")
	clk.advance(30 * time.Minute)
	if _, err := m.Load(request("GET", c2)); !errors.Is(err, session.ErrNoSession) {
		t.Fatalf("idle 30m: Load = %v, want ErrNoSession", err)
	}
}

func TestLoad_TouchesAtMostOncePerMinute(t *testing.T) {
	m, st, clk := manager(t)
	c, _ := signIn(t, m, "alice@example.com")
	for range 10 {
		clk.advance(10 * time.Second)
		if _, err := m.Load(request("GET", c)); err != nil {
			t.Fatal(err)
		}
	}
	if st.touches != 1 {
		t.Errorf("%d touches in 100s of use, want 1", st.touches)
	}
}

func TestLoad_NoSession(t *testing.T) {
	m, _, _ := manager(t)
	for name, c := range map[string]*http.Cookie{
		"no cookie":   nil,
		"malformed":   {Name: "vigil_session", Value: "not-a-token"},
		"upper case":  {Name: "vigil_session", Value: strings.ToUpper(token.New())},
		"unknown":     {Name: "vigil_session", Value: token.New()},
		"other name":  {Name: "session", Value: token.New()},
		"empty value": {Name: "vigil_session", Value: ""},
	} {
		if _, err := m.Load(request("GET", c)); !errors.Is(err, session.ErrNoSession) {
			t.Errorf("%s: Load = %v, want ErrNoSession", name, err)
		}
	}
}

// failing is a Store whose every call fails.
type failing struct{ *sessiontest.Memory }

var errDown = errors.New("database down")

func (*failing) Get(context.Context, string) (session.Session, error) {
	return session.Session{}, errDown
}
func (*failing) Create(context.Context, session.Session) error { return errDown }

func TestStoreErrors_AreWrappedWithoutTheID(t *testing.T) {
	var cfg session.Config
	cfg.SetDefaults()
	m := session.New(cfg, &failing{sessiontest.NewMemory()}, nil)
	if _, _, err := m.Start(httptest.NewRecorder(), httptest.NewRequest("POST", "/", nil), "a@example.com"); !errors.Is(err, errDown) {
		t.Errorf("Start = %v", err)
	}
	id := token.New()
	_, err := m.Load(request("GET", &http.Cookie{Name: "vigil_session", Value: id}))
	if !errors.Is(err, errDown) || errors.Is(err, session.ErrNoSession) {
		t.Fatalf("Load = %v, want the store's error", err)
	}
	if strings.Contains(err.Error(), id) || strings.Contains(err.Error(), token.Hash(id)) {
		t.Errorf("error %q holds the session id", err)
	}
}

func TestEnd_AndEndAll(t *testing.T) {
	m, st, _ := manager(t)
	c, _ := signIn(t, m, "alice@example.com")
	other, _ := signIn(t, m, "alice@example.com")
	bob, _ := signIn(t, m, "bob@example.com")

	w := httptest.NewRecorder()
	if err := m.End(w, request("POST", c)); err != nil {
		t.Fatal(err)
	}
	cleared := w.Result().Cookies()
	if len(cleared) != 1 || cleared[0].MaxAge >= 0 || cleared[0].Value != "" || !cleared[0].HttpOnly {
		t.Errorf("End's cookie %+v does not clear the session cookie", cleared)
	}
	if _, err := m.Load(request("GET", c)); !errors.Is(err, session.ErrNoSession) {
		t.Error("the ended session still loads")
	}
	if _, err := m.Load(request("GET", other)); err != nil {
		t.Error("End ended the user's other session")
	}
	if err := m.EndAll(context.Background(), "alice@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Load(request("GET", other)); !errors.Is(err, session.ErrNoSession) {
		t.Error("EndAll left a session of the user")
	}
	if _, err := m.Load(request("GET", bob)); err != nil || st.Len() != 1 {
		t.Errorf("EndAll touched another user: %v, %d left", err, st.Len())
	}
	if err := m.End(httptest.NewRecorder(), request("POST", nil)); err != nil {
		t.Errorf("End without a session = %v", err)
	}
}
