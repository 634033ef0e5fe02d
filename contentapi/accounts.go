package contentapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// TokenLifetime is how long a token from POST /auth works: 24 hours, as
// reference 004's does.
const TokenLifetime = 24 * time.Hour

// OrgAdminID is the organization's administrator id: the acting_as of
// callers whose token holds organization.admin. There is one
// organization.
const OrgAdminID = ":2"

// SignInConfig is the content.signin section: the limits on failed
// sign-ins, in a sliding window.
type SignInConfig struct {
	// PerUser limits failures per (client address, user): 10 per 5m by
	// default.
	PerUser ratelimit.Config `yaml:"per_user"`
	// PerIP limits failures per client address, whatever the user: 10 per
	// 5m by default.
	PerIP ratelimit.Config `yaml:"per_ip"`
}

// SetDefaults fills in the zero values.
func (c *SignInConfig) SetDefaults() {
	c.PerUser.SetDefaults()
	c.PerIP.SetDefaults()
}

// Validate checks a configuration after SetDefaults.
func (c SignInConfig) Validate() error {
	var p config.Problems
	p.Nest("per_user", c.PerUser.Validate())
	p.Nest("per_ip", c.PerIP.Validate())
	return p.Err()
}

// firstPartyScopes are the scopes of a first-party app (the web and
// desktop clients), which tokens from POST /auth and cookie sessions
// carry; organization.admin is added for administrators.
var firstPartyScopes = []string{
	ScopeFilesRead, ScopeFilesWrite, ScopeACLRead, ScopeACLWrite, ScopeACLInvitations,
	ScopeUserRead, ScopeUserWrite, ScopeUserPassword, ScopeLinkSharing, ScopeGroupsRead,
}

// firstParty is the principal of a user signed in with a first-party
// app whose device id is device.
func firstParty(u auth.User, device string, expires time.Time) Principal {
	p := Principal{Email: u.Email, Admin: u.Level == auth.LevelAdmin, Device: device, Expires: expires}
	for _, s := range firstPartyScopes {
		p.Scopes = append(p.Scopes, Scope{Name: s})
	}
	if p.Admin {
		p.Scopes = append(p.Scopes, Scope{Name: ScopeOrgAdmin})
		p.ActingAs = OrgAdminID
	}
	p.Scopes, _ = ParseScopes(p.Scopes.String()) // sorted
	return p
}

// StoreVerifier is the Verifier of the tokens kept in the account store:
// those POST /auth issues.
type StoreVerifier struct {
	Store *auth.Store
}

// Verify implements Verifier: the token's user with their current
// level, the scopes it was issued with, its app's device and its expiry.
func (v StoreVerifier) Verify(ctx context.Context, tok string) (Principal, error) {
	t, level, err := v.Store.AccessToken(ctx, token.Hash(tok))
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return Principal{}, ErrUnknownToken
	case err != nil:
		return Principal{}, err
	}
	scopes, err := ParseScopes(t.Scopes)
	if err != nil {
		return Principal{}, err
	}
	p := Principal{Email: t.Email, Admin: level == auth.LevelAdmin, Scopes: scopes, Device: t.Device, Expires: t.ExpiresAt}
	if p.Admin {
		p.ActingAs = OrgAdminID
	}
	return p, nil
}

// sessionStore keeps the web sign-in's sessions in the account store.
// The Create of a sign-in (signin set) records its user.signin in the
// same transaction.
type sessionStore struct {
	s        *auth.Store
	absolute time.Duration
	signin   *auth.Actor
	// authority vouched for the sign-in: empty for a local password.
	authority string
}

func (st sessionStore) Create(ctx context.Context, s session.Session) error {
	if st.signin == nil {
		return errors.New("create session: not a sign-in")
	}
	return st.s.CreateSession(ctx, *st.signin, auth.Session{IDHash: s.ID, Email: s.Email,
		CreatedAt: s.Created, LastSeen: s.LastSeen, ExpireAt: s.Created.Add(st.absolute), Authority: st.authority})
}

func (st sessionStore) Get(ctx context.Context, id string) (session.Session, error) {
	s, err := st.s.Session(ctx, id)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return session.Session{}, session.ErrNotFound
	case err != nil:
		return session.Session{}, err
	}
	return session.Session{ID: s.IDHash, Email: s.Email, Created: s.CreatedAt, LastSeen: s.LastSeen}, nil
}

func (st sessionStore) Touch(ctx context.Context, id string, at time.Time) error {
	return st.s.TouchSession(ctx, id, at)
}

func (st sessionStore) Delete(ctx context.Context, id string) error {
	return st.s.DeleteSession(ctx, id)
}

func (st sessionStore) DeleteAllForUser(ctx context.Context, email string) error {
	return st.s.SignOutEverywhere(ctx, email)
}

// sessionDevice is the device id of a session's browser in audit
// events: the first half of its id's hash, stable for the session and
// worth nothing as a credential.
func sessionDevice(s session.Session) string { return s.ID[:32] }

// accounts is the API's sign-in machinery: the account store, password
// hashing, the limiters of failed sign-ins and the cookie sessions.
type accounts struct {
	store     *auth.Store
	hasher    *password.Hasher
	perUser   *ratelimit.Limiter
	perIP     *ratelimit.Limiter
	sessCfg   session.Config
	sessions  *session.Manager
	dummyHash string
	now       func() time.Time
}

func newAccounts(cfg Config, now func() time.Time) *accounts {
	h := cfg.Passwords
	if h == nil {
		var pc password.Config
		pc.SetDefaults()
		h = password.New(pc)
	}
	sc, sess := cfg.SignIn, cfg.Session
	sc.SetDefaults()
	sess.SetDefaults()
	return &accounts{
		store: cfg.Accounts, hasher: h, now: now,
		perUser: ratelimit.New(sc.PerUser, now), perIP: ratelimit.New(sc.PerIP, now),
		sessCfg:  sess,
		sessions: session.New(sess, sessionStore{s: cfg.Accounts, absolute: sess.Absolute}, now),
		// Checking a password against this costs what checking a real
		// one does, so that an unknown user answers as slowly as a
		// wrong password.
		dummyHash: h.Hash(token.New()),
	}
}

// hasSession says whether r carries a session cookie and no token: it
// authenticates by cookie.
func (ac *accounts) hasSession(r *http.Request) bool {
	if r.Header.Get("Authorization") != "" || r.URL.Query().Get("token") != "" {
		return false
	}
	_, ok := ac.sessions.CSRFToken(r)
	return ok
}

// sessionPrincipal is the principal of r's session cookie. A
// state-changing request must carry the session's CSRF token.
func (ac *accounts) sessionPrincipal(r *http.Request) (Principal, error) {
	s, err := ac.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return Principal{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Invalid or expired session")
	case err != nil:
		return Principal{}, &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal,
			Message: "Cannot check the session", Err: err}
	}
	if err := ac.sessions.CheckCSRF(r); err != nil {
		return Principal{}, err
	}
	u, err := ac.store.User(r.Context(), s.Email)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		return Principal{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Invalid or expired session")
	case err != nil:
		return Principal{}, &httpapi.Error{Status: http.StatusInternalServerError, Code: httpapi.CodeInternal,
			Message: "Cannot check the session", Err: err}
	}
	return firstParty(u, sessionDevice(s), time.Time{}), nil
}
