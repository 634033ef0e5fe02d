package contentapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// OIDCConfig is the content.oidc section: sign-in through an OpenID
// Connect issuer with the authorization-code flow and PKCE.
type OIDCConfig struct {
	// Issuer is the issuer's URL; its /.well-known/openid-configuration
	// is read at the first sign-in.
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are Vigil's registration at the issuer;
	// give the secret as ${VAR}.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is this server's /auth/oidc/callback as the issuer
	// knows it: https://vigil.example.com/auth/oidc/callback.
	RedirectURL string `yaml:"redirect_url"`
	// Scopes are asked for besides openid; default email and profile.
	Scopes []string `yaml:"scopes"`
}

// SetDefaults fills in the zero values.
func (c *OIDCConfig) SetDefaults() {
	if len(c.Scopes) == 0 {
		c.Scopes = []string{"email", "profile"}
	}
}

// Validate checks a configuration after SetDefaults, naming each key.
func (c OIDCConfig) Validate() error {
	var p config.Problems
	for key, v := range map[string]string{"issuer": c.Issuer, "redirect_url": c.RedirectURL} {
		u, err := url.Parse(v)
		switch {
		case v == "":
			p.Add(key, "required")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
			p.Add(key, "not an http or https URL")
		}
	}
	if c.ClientID == "" {
		p.Add("client_id", "required")
	}
	for i, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"") {
			p.Add(fmt.Sprintf("scopes[%d]", i), "not a scope")
		}
	}
	return p.Err()
}

// OIDC is sign-in through an OpenID Connect issuer.
type OIDC struct {
	cfg    OIDCConfig
	client *http.Client

	mu       sync.Mutex
	provider *oidc.Provider
}

// NewOIDC returns the sign-in of cfg (after SetDefaults and Validate),
// reaching the issuer with client (nil: http.DefaultClient). It makes
// no network call: the issuer's configuration is read at the first
// sign-in, and again until it is read once.
func NewOIDC(cfg OIDCConfig, client *http.Client) *OIDC {
	if client == nil {
		client = http.DefaultClient
	}
	return &OIDC{cfg: cfg, client: client}
}

func (o *OIDC) context(ctx context.Context) context.Context {
	return oidc.ClientContext(ctx, o.client)
}

// discover returns the issuer's provider, reading its configuration the
// first time.
func (o *OIDC) discover(ctx context.Context) (*oidc.Provider, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.provider != nil {
		return o.provider, nil
	}
	p, err := oidc.NewProvider(o.context(ctx), o.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discover issuer %s: %w", o.cfg.Issuer, err)
	}
	o.provider = p
	return p, nil
}

func (o *OIDC) oauth2(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: o.cfg.ClientID, ClientSecret: o.cfg.ClientSecret, Endpoint: p.Endpoint(),
		RedirectURL: o.cfg.RedirectURL, Scopes: append([]string{oidc.ScopeOpenID}, o.cfg.Scopes...)}
}

// The sign-in in progress lives in a cookie of the browser that started
// it, for ten minutes: its state, nonce and PKCE verifier. The callback
// takes only the state this browser was sent off with.
const (
	oidcCookie   = "vigil_oidc"
	oidcCookieAt = "/auth/oidc"
	oidcPending  = 10 * time.Minute
)

// oidcAttempt is a sign-in in progress.
type oidcAttempt struct {
	State, Nonce, Verifier string
	Started                time.Time
}

func (t oidcAttempt) String() string {
	return t.State + "." + t.Nonce + "." + t.Verifier + "." + strconv.FormatInt(t.Started.Unix(), 10)
}

// parseOIDCAttempt reads an oidcAttempt's cookie value.
func parseOIDCAttempt(v string) (oidcAttempt, bool) {
	parts := strings.Split(v, ".")
	if len(parts) != 4 {
		return oidcAttempt{}, false
	}
	for _, p := range parts[:3] {
		if len(p) != 43 { // 32 random bytes, base64url without padding
			return oidcAttempt{}, false
		}
		if _, err := base64.RawURLEncoding.DecodeString(p); err != nil {
			return oidcAttempt{}, false
		}
	}
	secs, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || secs < 0 || secs > 1<<40 {
		return oidcAttempt{}, false
	}
	return oidcAttempt{State: parts[0], Nonce: parts[1], Verifier: parts[2], Started: time.Unix(secs, 0)}, true
}

func random43() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// oidcRoutes are the OpenID Connect sign-in routes, outside /api:
// public, never cached. None without OIDC.
func (a *API) oidcRoutes() []httpapi.Route {
	if a.oidc == nil || a.acc == nil {
		return nil
	}
	route := func(rt httpapi.Route, f httpapi.HandlerFunc) httpapi.Route {
		rt.Method, rt.Access, rt.Family = http.MethodGet, httpapi.Public, httpapi.Content
		rt.Handler = httpapi.NoStore(withWriter(a.mapper.Handle(f)))
		return rt
	}
	return []httpapi.Route{
		route(httpapi.Route{Pattern: "/auth/oidc/login", Status: http.StatusFound,
			Summary: "Sign in through the OpenID Connect issuer: a redirect to it, with state, nonce and PKCE"}, a.oidcLogin),
		route(httpapi.Route{Pattern: "/auth/oidc/callback", Response: SignInResponse{}, Query: []string{"code", "state", "error"},
			Summary: "The issuer's redirect back: provisions the user on their first sign-in and sets the session cookie"}, a.oidcCallback),
	}
}

func (a *API) oidcLogin(r *http.Request) (any, error) {
	p, err := a.oidc.discover(r.Context())
	if err != nil {
		e := Unavailable("The identity provider cannot be reached: try again later", directoryRetry)
		e.Err = err
		return nil, e
	}
	at := oidcAttempt{State: random43(), Nonce: random43(), Verifier: random43(), Started: a.now()}
	http.SetCookie(responseWriter(r), &http.Cookie{Name: oidcCookie, Value: at.String(), Path: oidcCookieAt,
		MaxAge: int(oidcPending / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	to := a.oidc.oauth2(p).AuthCodeURL(at.State, oidc.Nonce(at.Nonce), oauth2.S256ChallengeOption(at.Verifier))
	return httpapi.Response{Status: http.StatusFound, Header: http.Header{"Location": {to}}}, nil
}

// oidcRefused is the 401 of a sign-in the issuer did not vouch for.
func oidcRefused(msg string, err error) *httpapi.Error {
	e := httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, msg)
	e.Err = err
	return e
}

// idClaims are the ID token's claims Vigil reads.
type idClaims struct {
	Email string `json:"email"`
	// EmailVerified is a boolean; some issuers send it as a string.
	EmailVerified any    `json:"email_verified"`
	GivenName     string `json:"given_name"`
	FamilyName    string `json:"family_name"`
}

func (c idClaims) verified() bool {
	switch v := c.EmailVerified.(type) {
	case bool:
		return v
	case string:
		return strings.EqualFold(v, "true")
	}
	return false
}

// oidcCallback answers the issuer's redirect. A refusal (400 or 401:
// no sign-in in progress, a wrong state, the issuer's error, a bad code
// or ID token, an unverified email) is audited as audit.oidc.refuse with
// its message as the reason, and the email the issuer named if any:
// user.password.error would fit a refusal of a known user, but most of
// these have no user Vigil could trust, and detections key that event on
// its user.
func (a *API) oidcCallback(r *http.Request) (any, error) {
	var claimed string
	ans, err := a.oidcSignIn(r, &claimed)
	var he *httpapi.Error
	if errors.As(err, &he) && (he.Status == http.StatusBadRequest || he.Status == http.StatusUnauthorized) {
		if aerr := a.acc.store.OIDCRefused(r.Context(), auth.Actor{IP: ClientIP(r)}, claimed, he.Message); aerr != nil {
			return nil, aerr
		}
	}
	return ans, err
}

// oidcSignIn is the callback's sign-in; claimed is set to the email the
// ID token names once it is read.
func (a *API) oidcSignIn(r *http.Request, claimed *string) (any, error) {
	ctx, w, q := r.Context(), responseWriter(r), r.URL.Query()
	var at oidcAttempt
	ok := false
	for _, c := range r.CookiesNamed(oidcCookie) {
		if at, ok = parseOIDCAttempt(c.Value); ok {
			break
		}
	}
	if !ok || a.now().Sub(at.Started) > oidcPending {
		return nil, BadArgs("No sign-in in progress: start again at /auth/oidc/login")
	}
	// The attempt is used up, whatever comes of it.
	http.SetCookie(w, &http.Cookie{Name: oidcCookie, Path: oidcCookieAt, MaxAge: -1, HttpOnly: true,
		Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(at.State)) != 1 {
		return nil, BadArgs("Invalid state: not the sign-in this browser started")
	}
	if e := q.Get("error"); e != "" {
		return nil, oidcRefused("The identity provider refused the sign-in", fmt.Errorf("issuer answered error %.100q", e))
	}
	code := q.Get("code")
	if code == "" {
		return nil, BadArgs("Invalid code: required")
	}
	p, err := a.oidc.discover(ctx)
	if err != nil {
		e := Unavailable("The identity provider cannot be reached: try again later", directoryRetry)
		e.Err = err
		return nil, e
	}
	octx := a.oidc.context(ctx)
	tok, err := a.oidc.oauth2(p).Exchange(octx, code, oauth2.VerifierOption(at.Verifier))
	if err != nil {
		return nil, oidcRefused("The identity provider refused the code", fmt.Errorf("exchange the code: %w", err))
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, oidcRefused("The identity provider sent no ID token", nil)
	}
	// Signature, issuer, audience and expiry.
	idt, err := p.Verifier(&oidc.Config{ClientID: a.oidc.cfg.ClientID, Now: a.now}).Verify(octx, raw)
	if err != nil {
		return nil, oidcRefused("Invalid ID token", fmt.Errorf("verify the ID token: %w", err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(at.Nonce)) != 1 {
		return nil, oidcRefused("Invalid ID token", errors.New("verify the ID token: wrong nonce"))
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		return nil, oidcRefused("Invalid ID token", fmt.Errorf("read the ID token's claims: %w", err))
	}
	email, err := bodyEmail(c.Email)
	if err != nil {
		return nil, oidcRefused("The identity provider gave no valid email address", nil)
	}
	*claimed = email
	if !c.verified() {
		return nil, oidcRefused("The identity provider has not verified the email address", nil)
	}
	u, _, err := a.acc.store.Provision(ctx, auth.Vouched{Authority: auth.AuthorityOpenID, Subject: idt.Subject,
		Email: email, FirstName: c.GivenName, LastName: c.FamilyName})
	if err != nil {
		return nil, err
	}
	m := session.New(a.acc.sessCfg, sessionStore{s: a.acc.store, absolute: a.acc.sessCfg.Absolute,
		signin: ptr(signinActor(r)), authority: auth.AuthorityOpenID}, a.now)
	_, csrf, err := m.Start(w, r, u.Email)
	if err != nil {
		return nil, err
	}
	return SignInResponse{User: SignedInAs{Email: u.Email, IsAdmin: u.Level == auth.LevelAdmin}, CSRFToken: csrf}, nil
}
