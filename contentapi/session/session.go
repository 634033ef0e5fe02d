package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults of Config.
const (
	DefaultIdle     = 30 * time.Minute
	DefaultAbsolute = 12 * time.Hour
	DefaultCookie   = "vigil_session"
)

// Config is the content.session section.
type Config struct {
	// Idle ends a session not used for this long (default 30m).
	Idle time.Duration `yaml:"idle"`
	// Absolute ends a session this long after sign-in, used or not
	// (default 12h).
	Absolute time.Duration `yaml:"absolute"`
	// Cookie is the cookie's name (default vigil_session).
	Cookie string `yaml:"cookie"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.Idle == 0 {
		c.Idle = DefaultIdle
	}
	if c.Absolute == 0 {
		c.Absolute = DefaultAbsolute
	}
	if c.Cookie == "" {
		c.Cookie = DefaultCookie
	}
}

// Validate checks a configuration after SetDefaults.
func (c Config) Validate() error {
	var p config.Problems
	if c.Idle <= 0 {
		p.Add("idle", "must be positive")
	}
	if c.Absolute < c.Idle {
		p.Add("absolute", "%s is shorter than idle (%s)", c.Absolute, c.Idle)
	}
	if !validCookieName(c.Cookie) {
		p.Add("cookie", "%q is not a cookie name (letters, digits, - and _)", c.Cookie)
	}
	return p.Err()
}

func validCookieName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Session is one signed-in browser, as the Store keeps it.
type Session struct {
	// ID is the hash of the session id (token.Hash), the Store's key;
	// the id itself is only in the cookie.
	ID string
	// Email is the signed-in user.
	Email string
	// Created is the sign-in; LastSeen the last use the Store recorded.
	Created, LastSeen time.Time
}

// Expires is when s ends unless used again: idle after its last use, and
// never later than absolute after sign-in.
func (c Config) Expires(s Session) time.Time {
	idle, abs := s.LastSeen.Add(c.Idle), s.Created.Add(c.Absolute)
	if abs.Before(idle) {
		return abs
	}
	return idle
}

// Expired says whether s has ended at now.
func (c Config) Expired(s Session, now time.Time) bool { return !now.Before(c.Expires(s)) }

// Store keeps sessions by ID. Get of an unknown ID is ErrNotFound; Touch
// and Delete of one are no-ops.
type Store interface {
	Create(ctx context.Context, s Session) error
	Get(ctx context.Context, id string) (Session, error)
	// Touch sets the session's LastSeen.
	Touch(ctx context.Context, id string, at time.Time) error
	Delete(ctx context.Context, id string) error
	// DeleteAllForUser ends every session of email: sign-out
	// everywhere.
	DeleteAllForUser(ctx context.Context, email string) error
}

// ErrNotFound is a Store's answer for an unknown session.
var ErrNotFound = errors.New("session not found")

// ErrNoSession is Load's answer for a request without a live session: no
// cookie, a malformed, unknown or expired one. It is a 401.
var ErrNoSession = errors.New("no session")

// Manager starts, loads and ends sessions.
type Manager struct {
	cfg   Config
	store Store
	now   func() time.Time
}

// New returns a Manager of cfg (defaults set, valid) over store; now is
// the clock, nil for time.Now.
func New(cfg Config, store Store, now func() time.Time) *Manager {
	if now == nil {
		now = time.Now
	}
	return &Manager{cfg: cfg, store: store, now: now}
}

// Start creates a session for email, sets its cookie on w (Secure when r
// came over TLS) and returns it with its CSRF token.
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, email string) (Session, string, error) {
	id := token.New()
	now := m.now()
	s := Session{ID: token.Hash(id), Email: email, Created: now, LastSeen: now}
	if err := m.store.Create(r.Context(), s); err != nil {
		return Session{}, "", fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, m.cookie(r, id, int(m.cfg.Absolute/time.Second)))
	return s, CSRFToken(id), nil
}

// Load returns the live session of r's cookie, recording its use (at
// most once per touchEvery, so a session may end up to that much before
// its idle time). An expired session is deleted.
func (m *Manager) Load(r *http.Request) (Session, error) {
	id, ok := m.cookieID(r)
	if !ok {
		return Session{}, ErrNoSession
	}
	ctx := r.Context()
	s, err := m.store.Get(ctx, token.Hash(id))
	switch {
	case errors.Is(err, ErrNotFound):
		return Session{}, ErrNoSession
	case err != nil:
		return Session{}, fmt.Errorf("get session: %w", err)
	}
	now := m.now()
	if m.cfg.Expired(s, now) {
		if err := m.store.Delete(ctx, s.ID); err != nil {
			return Session{}, fmt.Errorf("delete expired session: %w", err)
		}
		return Session{}, ErrNoSession
	}
	if now.Sub(s.LastSeen) >= m.touchEvery() {
		if err := m.store.Touch(ctx, s.ID, now); err != nil {
			return Session{}, fmt.Errorf("touch session: %w", err)
		}
		s.LastSeen = now
	}
	return s, nil
}

// touchEvery is how stale LastSeen may be before Load records a use:
// a tenth of the idle time, at most a minute.
func (m *Manager) touchEvery() time.Duration { return min(m.cfg.Idle/10, time.Minute) }

// End deletes r's session, if any, and clears its cookie.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	if id, ok := m.cookieID(r); ok {
		if err := m.store.Delete(r.Context(), token.Hash(id)); err != nil {
			return fmt.Errorf("delete session: %w", err)
		}
	}
	http.SetCookie(w, m.cookie(r, "", -1))
	return nil
}

// EndAll ends every session of email.
func (m *Manager) EndAll(ctx context.Context, email string) error {
	if err := m.store.DeleteAllForUser(ctx, email); err != nil {
		return fmt.Errorf("delete sessions of user: %w", err)
	}
	return nil
}

// cookie is the session cookie with value id; maxAge < 0 deletes it.
func (m *Manager) cookie(r *http.Request, id string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: m.cfg.Cookie, Value: id, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode}
}

// cookieID is the session id of r's first session cookie of the right
// form.
func (m *Manager) cookieID(r *http.Request) (string, bool) {
	for _, c := range r.CookiesNamed(m.cfg.Cookie) {
		if token.Valid(c.Value) {
			return c.Value, true
		}
	}
	return "", false
}
