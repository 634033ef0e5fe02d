package contentapi

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The OAuth 2.0 authorization server (RFC 6749, with PKCE of RFC 7636),
// outside /api: GET and POST /authorize (the approval page of a signed-in
// user), POST /auth/token (authorization_code and refresh_token grants),
// DELETE /auth/token/{token} and GET /auth/tokeninfo; app registration
// and a user's authorized apps under /api/v1.4. The records are the
// account store's (internal/auth/oauth.go); access tokens are the
// content API's, 32 hex, each with its authorization's device id.

// CodeLifetime is how long an authorization code may be exchanged.
const CodeLifetime = 60 * time.Second

// OAuthConfig is the content.oauth section.
type OAuthConfig struct {
	// Hostname is the appliance's host name in the registration JSON
	// of POST /apps; empty means the request's Host.
	Hostname string `yaml:"hostname"`
	// Cert is the server certificate (PEM) in the registration JSON,
	// which apps pin; empty for none.
	Cert string `yaml:"cert"`
	// MaxExpiresIn is the longest an access token works, what
	// expires_in=0 asks for; 0 means tokens that never expire (until
	// their user revokes the app), as the tutorial shows.
	MaxExpiresIn time.Duration `yaml:"max_expires_in"`
	// PerClient limits the token endpoint's failures (bad client
	// credentials, invalid grants) per (client address, client_id): 10
	// per 5m by default, as content.signin's.
	PerClient ratelimit.Config `yaml:"per_client"`
	// PerIP limits them per client address, whatever the client_id: 10
	// per 5m by default.
	PerIP ratelimit.Config `yaml:"per_ip"`
}

// SetDefaults fills in the zero values.
func (c *OAuthConfig) SetDefaults() {
	c.PerClient.SetDefaults()
	c.PerIP.SetDefaults()
}

// Validate checks a configuration after SetDefaults.
func (c OAuthConfig) Validate() error {
	var p config.Problems
	p.Nest("per_client", c.PerClient.Validate())
	p.Nest("per_ip", c.PerIP.Validate())
	if c.MaxExpiresIn < 0 {
		p.Add("max_expires_in", "must not be negative")
	}
	if c.Cert != "" && !strings.Contains(c.Cert, "-----BEGIN CERTIFICATE-----") {
		p.Add("cert", "not a PEM certificate")
	}
	return p.Err()
}

// neverExpires is the stored expiry of a token that does not expire:
// the last millisecond of year 9999.
var neverExpires = time.UnixMilli(253402300799999).UTC()

// AppRegistration answers POST /apps: the JSON the tutorial's admin
// hands to the app, shown once (the secret is not kept).
type AppRegistration struct {
	Hostname     string `json:"hostname"`
	Cert         string `json:"cert"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret,omitempty"`
	Name         string `json:"name"`
	RedirectURI  string `json:"redirect_uri"`
	Public       bool   `json:"public"`
}

// AppInfo is a registered app as the API shows it.
type AppInfo struct {
	ClientID    string `json:"client_id"`
	Name        string `json:"name"`
	RedirectURI string `json:"redirect_uri"`
	Public      bool   `json:"public"`
	CreatedAt   Time   `json:"created_at"`
}

// AuthorizedApp is one app a user authorized: GET /users/{email}/apps.
type AuthorizedApp struct {
	ClientID string `json:"client_id"`
	Name     string `json:"name"`
	// Device is the authorization's device id, the caller's device of
	// what the app does.
	Device       string `json:"device"`
	Scope        string `json:"scope"`
	AuthorizedAt Time   `json:"authorized_at"`
}

// TokenInfo answers GET /auth/tokeninfo.
type TokenInfo struct {
	User     string `json:"user"`
	ClientID string `json:"client_id,omitempty"`
	Device   string `json:"device"`
	Scope    string `json:"scope"`
	// ExpiresIn is the seconds left; 0 for a token that does not expire.
	ExpiresIn int64 `json:"expires_in"`
	IsAdmin   bool  `json:"is_admin"`
}

// OAuthToken is POST /auth/token's answer.
type OAuthToken struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token,omitempty"`
	Scope        string `json:"scope"`
}

type appBody struct {
	Name        string `json:"name"`
	RedirectURI string `json:"redirect_uri"`
	Public      bool   `json:"public"`
}

// oauthError is an OAuth 2.0 error: {"error", "error_description"},
// 400 unless Status says otherwise.
type oauthError struct {
	Code, Description string
	Status            int
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Description }

func oauthErr(code, desc string) *oauthError { return &oauthError{Code: code, Description: desc} }

// appRoutes are the app registration routes (administrators) and a
// user's authorized apps, under /api (1.4).
func (a *API) appRoutes() []Route {
	return []Route{
		{Method: http.MethodPost, Path: "/apps", Since: V(1, 4), Admin: true, Handle: a.addApp,
			Summary: "Register an OAuth 2.0 app: the registration JSON, with its secret shown this once",
			Request: appBody{}, Status: http.StatusCreated, Response: AppRegistration{}},
		{Method: http.MethodGet, Path: "/apps", Since: V(1, 4), Admin: true, Handle: a.listApps,
			Summary: "The registered apps", Response: []AppInfo{}},
		{Method: http.MethodGet, Path: "/apps/{client_id}", Since: V(1, 4), Admin: true, Handle: a.getApp,
			Summary: "One registered app", Response: AppInfo{}},
		{Method: http.MethodDelete, Path: "/apps/{client_id}", Since: V(1, 4), Admin: true, Handle: a.removeApp,
			Summary: "Remove an app, with every authorization and token users gave it", Status: http.StatusNoContent},
		{Method: http.MethodGet, Path: "/users/{email}/apps", Since: V(1, 4), Scopes: []string{ScopeUserRead, ScopeOrgAdmin},
			Handle: a.userApps, Summary: "The apps a user authorized", Response: []AuthorizedApp{}},
		{Method: http.MethodDelete, Path: "/users/{email}/apps/{client_id}", Since: V(1, 4), Scopes: []string{ScopeUserWrite, ScopeOrgAdmin},
			Handle: a.revokeUserApp, Summary: "Revoke an app's authorization, with its tokens", Status: http.StatusNoContent},
	}
}

func appInfo(app auth.App) AppInfo {
	return AppInfo{ClientID: app.ClientID, Name: app.Name, RedirectURI: app.RedirectURI, Public: app.Public, CreatedAt: Time{app.CreatedAt}}
}

// appError is the answer for an app store error.
func appError(err error) error {
	var fe *auth.FieldError
	switch {
	case errors.As(err, &fe):
		return BadArgs("Invalid " + fe.Field + ": " + fe.Reason)
	case errors.Is(err, auth.ErrNotFound):
		return NotFound("No such app")
	}
	return err
}

func (a *API) addApp(r *Request) (any, error) {
	var b appBody
	if err := r.Decode(&b); err != nil {
		return nil, err
	}
	app, secret, err := a.acc.store.AddApp(r.Context(), r.actor(), b.Name, b.RedirectURI, b.Public)
	if err != nil {
		return nil, appError(err)
	}
	host := a.oauth.Hostname
	if host == "" {
		host = r.Host
	}
	return httpapi.Created(AppRegistration{Hostname: host, Cert: a.oauth.Cert, ClientID: app.ClientID, ClientSecret: secret,
		Name: app.Name, RedirectURI: app.RedirectURI, Public: app.Public}), nil
}

func (a *API) listApps(r *Request) (any, error) {
	apps, err := a.acc.store.Apps(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]AppInfo, len(apps))
	for i, app := range apps {
		out[i] = appInfo(app)
	}
	return out, nil
}

func (a *API) getApp(r *Request) (any, error) {
	app, _, err := a.acc.store.App(r.Context(), chi.URLParam(r.Request, "client_id"))
	if err != nil {
		return nil, appError(err)
	}
	return appInfo(app), nil
}

func (a *API) removeApp(r *Request) (any, error) {
	return nil, appError(a.acc.store.RemoveApp(r.Context(), r.actor(), chi.URLParam(r.Request, "client_id")))
}

func (a *API) userApps(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	auths, err := a.acc.store.UserAuthorizations(r.Context(), email)
	if err != nil {
		return nil, appError(err)
	}
	out := make([]AuthorizedApp, len(auths))
	for i, au := range auths {
		out[i] = AuthorizedApp{ClientID: au.ClientID, Name: au.AppName, Device: au.Device, Scope: au.Scopes, AuthorizedAt: Time{au.CreatedAt}}
	}
	return out, nil
}

func (a *API) revokeUserApp(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	err = a.acc.store.RevokeUserApp(r.Context(), r.actor(), email, chi.URLParam(r.Request, "client_id"))
	if errors.Is(err, auth.ErrNotFound) {
		return nil, NotFound("The user has not authorized that app")
	}
	return nil, appError(err)
}

// oauthRoutes are the authorization server's routes outside /api:
// public, never cached.
func (a *API) oauthRoutes() []httpapi.Route {
	route := func(method, pattern, summary string, h http.Handler) httpapi.Route {
		return httpapi.Route{Method: method, Pattern: pattern, Summary: summary, Access: httpapi.Public,
			Family: httpapi.Content, Handler: httpapi.NoStore(h)}
	}
	return []httpapi.Route{
		route(http.MethodGet, "/authorize", "OAuth 2.0: the page where a signed-in user approves or denies an app",
			http.HandlerFunc(a.authorizePage)),
		route(http.MethodPost, "/authorize", "OAuth 2.0: the approval form's answer; redirects to the app",
			http.HandlerFunc(a.authorizeDecision)),
		route(http.MethodPost, "/auth/token", "OAuth 2.0 token endpoint: authorization_code and refresh_token grants",
			http.HandlerFunc(a.tokenEndpoint)),
		route(http.MethodDelete, "/auth/token/{token}", "Revoke an access or refresh token", http.HandlerFunc(a.revokeToken)),
		route(http.MethodGet, "/auth/tokeninfo", "Introspect an access token (the token itself is the credential)",
			http.HandlerFunc(a.tokenInfo)),
	}
}

// authorizeParams are the authorization request's parameters, checked
// as far as they can be without the store.
type authorizeParams struct {
	ClientID, RedirectURI, State string
	Scopes                       Scopes
	// Challenge is the PKCE S256 challenge; empty for none.
	Challenge string
	// Err is the error to send back to the app (after the client and
	// the redirect URI are checked), or nil.
	Err *oauthError
}

// maxState bounds the state parameter, in bytes.
const maxState = 1024

// parseAuthorizeQuery reads an authorization request's parameters. The
// client's errors (no client_id) are its error return; the others are
// for the app, in Err.
func parseAuthorizeQuery(q url.Values) (authorizeParams, error) {
	p := authorizeParams{ClientID: strings.TrimSpace(q.Get("client_id")), RedirectURI: q.Get("redirect_uri"), State: q.Get("state")}
	if p.ClientID == "" {
		return p, errors.New("client_id is required")
	}
	if len(p.State) > maxState {
		return p, errors.New("state is too long")
	}
	rt := q.Get("response_type")
	switch {
	case rt == "":
		p.Err = oauthErr("invalid_request", "response_type is required")
		return p, nil
	case rt != "code":
		p.Err = oauthErr("unsupported_response_type", "only response_type=code is supported")
		return p, nil
	}
	sc, err := ParseScopes(q.Get("scope"))
	if err != nil {
		p.Err = oauthErr("invalid_scope", err.Error())
		return p, nil
	}
	p.Scopes = sc
	p.Challenge = q.Get("code_challenge")
	method := q.Get("code_challenge_method")
	switch {
	case p.Challenge == "" && method != "":
		p.Err = oauthErr("invalid_request", "code_challenge_method without code_challenge")
	case p.Challenge != "" && method != "S256":
		p.Err = oauthErr("invalid_request", "code_challenge_method must be S256")
	case p.Challenge != "" && !pkceForm(p.Challenge, 43, 43):
		p.Err = oauthErr("invalid_request", "code_challenge is not an S256 challenge")
	}
	return p, nil
}

// pkceForm says whether s is min to max characters of the unreserved
// set PKCE uses.
func pkceForm(s string, min, max int) bool {
	if len(s) < min || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// s256 is the S256 challenge of verifier.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// pageData is what the authorize page's template shows.
type pageData struct {
	Title, Message string
	App            string
	User           string
	Scopes         []string
	// Fields are the hidden fields of the approval form.
	Fields map[string]string
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Fields}}<p><strong>{{.App}}</strong> asks to act for <strong>{{.User}}</strong>{{if .Scopes}} with:{{else}}.{{end}}</p>
{{if .Scopes}}<ul>{{range .Scopes}}<li>{{.}}</li>{{end}}</ul>{{end}}
<form method="post" action="/authorize">
{{range $k, $v := .Fields}}<input type="hidden" name="{{$k}}" value="{{$v}}">
{{end}}<button type="submit" name="decision" value="approve">Accept</button>
<button type="submit" name="decision" value="deny">Deny</button>
</form>{{end}}
</body></html>
`))

func writePage(w http.ResponseWriter, status int, d pageData) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = pageTemplate.Execute(w, d) // the client went away
}

// authorizeRequest checks the request's parameters against the store:
// its app, and the redirect URI, which must equal the app's. An unknown
// client or another redirect URI is an error page (never a redirect);
// the rest go back to the app.
func (a *API) authorizeRequest(w http.ResponseWriter, r *http.Request, q url.Values) (authorizeParams, auth.App, bool) {
	p, err := parseAuthorizeQuery(q)
	if err != nil {
		writePage(w, http.StatusBadRequest, pageData{Title: "Invalid authorization request", Message: err.Error()})
		return p, auth.App{}, false
	}
	app, _, err := a.acc.store.App(r.Context(), p.ClientID)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		writePage(w, http.StatusBadRequest, pageData{Title: "Invalid authorization request", Message: "No app is registered with this client_id."})
		return p, app, false
	case err != nil:
		a.mapper.WriteError(w, r, err)
		return p, app, false
	}
	if p.RedirectURI == "" {
		p.RedirectURI = app.RedirectURI
	}
	if p.RedirectURI != app.RedirectURI {
		writePage(w, http.StatusBadRequest, pageData{Title: "Invalid authorization request",
			Message: "The redirect_uri is not the one registered for this app."})
		return p, app, false
	}
	if p.Err == nil && app.Public && p.Challenge == "" {
		p.Err = oauthErr("invalid_request", "a public client must use PKCE (code_challenge, S256)")
	}
	return p, app, true
}

// redirect sends the browser back to the app with params and the state.
func redirect(w http.ResponseWriter, r *http.Request, p authorizeParams, params url.Values) {
	u, _ := url.Parse(p.RedirectURI) // checked at registration
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if p.State != "" {
		q.Set("state", p.State)
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func redirectError(w http.ResponseWriter, r *http.Request, p authorizeParams, e *oauthError) {
	redirect(w, r, p, url.Values{"error": {e.Code}, "error_description": {e.Description}})
}

// signedIn is the user of r's session, or false after answering: a GET
// goes to the sign-in page (which comes back to it), anything else is a
// 401 page saying to sign in.
func (a *API) signedIn(w http.ResponseWriter, r *http.Request) (auth.User, bool) {
	s, err := a.acc.sessions.Load(r)
	if err == nil {
		u, err := a.acc.store.User(r.Context(), s.Email)
		if err == nil {
			return u, true
		}
		if !errors.Is(err, auth.ErrNotFound) {
			a.mapper.WriteError(w, r, err)
			return auth.User{}, false
		}
	} else if !errors.Is(err, session.ErrNoSession) {
		a.mapper.WriteError(w, r, err)
		return auth.User{}, false
	}
	if r.Method == http.MethodGet {
		http.Redirect(w, r, signinPath+"?"+url.Values{"return_to": {r.URL.RequestURI()}}.Encode(), http.StatusSeeOther)
		return auth.User{}, false
	}
	writePage(w, http.StatusUnauthorized, pageData{Title: "Sign in first",
		Message: "Sign in at /signin in this browser, then open the app's authorization page again."})
	return auth.User{}, false
}

// checkUserScopes refuses organization.admin to a user who is not an
// administrator.
func checkUserScopes(u auth.User, sc Scopes) *oauthError {
	if sc.Has(ScopeOrgAdmin) && u.Level != auth.LevelAdmin {
		return oauthErr("invalid_scope", "organization.admin is for administrators")
	}
	return nil
}

func (a *API) authorizePage(w http.ResponseWriter, r *http.Request) {
	p, app, ok := a.authorizeRequest(w, r, r.URL.Query())
	if !ok {
		return
	}
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if p.Err == nil {
		p.Err = checkUserScopes(u, p.Scopes)
	}
	if p.Err != nil {
		redirectError(w, r, p, p.Err)
		return
	}
	csrf, _ := a.acc.sessions.CSRFToken(r)
	fields := map[string]string{"client_id": app.ClientID, "redirect_uri": p.RedirectURI, "response_type": "code",
		"scope": p.Scopes.String(), "csrf_token": csrf}
	if p.State != "" {
		fields["state"] = p.State
	}
	if p.Challenge != "" {
		fields["code_challenge"], fields["code_challenge_method"] = p.Challenge, "S256"
	}
	var names []string
	for _, s := range p.Scopes {
		names = append(names, s.String())
	}
	writePage(w, http.StatusOK, pageData{Title: "Authorize " + app.Name, App: app.Name, User: u.Email, Scopes: names, Fields: fields})
}

func (a *API) authorizeDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	if err := r.ParseForm(); err != nil {
		writePage(w, http.StatusBadRequest, pageData{Title: "Invalid authorization request", Message: "The form cannot be read."})
		return
	}
	p, app, ok := a.authorizeRequest(w, r, r.PostForm)
	if !ok {
		return
	}
	u, ok := a.signedIn(w, r)
	if !ok {
		return
	}
	if err := a.acc.sessions.CheckCSRF(r); err != nil {
		writePage(w, http.StatusForbidden, pageData{Title: "Invalid authorization request", Message: "The form's CSRF token is missing or wrong."})
		return
	}
	if p.Err == nil {
		p.Err = checkUserScopes(u, p.Scopes)
	}
	switch {
	case p.Err != nil:
		redirectError(w, r, p, p.Err)
		return
	case r.PostForm.Get("decision") != "approve":
		if err := a.acc.store.DenyApp(r.Context(), auth.Actor{Email: u.Email, IP: ClientIP(r)}, app.ClientID, p.Scopes.String()); err != nil {
			a.mapper.WriteError(w, r, err)
			return
		}
		redirectError(w, r, p, oauthErr("access_denied", "the user denied the request"))
		return
	}
	code, now := token.New(), a.now().UTC().Truncate(time.Millisecond)
	err := a.acc.store.IssueCode(r.Context(), auth.Actor{Email: u.Email, IP: ClientIP(r)}, auth.AuthCode{Hash: token.Hash(code), ClientID: app.ClientID, Email: u.Email,
		RedirectURI: p.RedirectURI, Scopes: p.Scopes.String(), Challenge: p.Challenge, Device: token.New(),
		CreatedAt: now, ExpiresAt: now.Add(CodeLifetime)})
	if err != nil {
		a.mapper.WriteError(w, r, err)
		return
	}
	redirect(w, r, p, url.Values{"code": {code}})
}

// tokenParams are a token request's parameters.
type tokenParams struct {
	GrantType, ClientID, ClientSecret string
	Code, RedirectURI, Verifier       string
	Refresh                           string
	// Scopes is nil when the request asks for no scope (all granted).
	Scopes    Scopes
	HasScope  bool
	ExpiresIn time.Duration
}

// parseTokenForm reads a token request's form, with the client's
// credentials from HTTP Basic (basic set) or the form, not both.
func parseTokenForm(form url.Values, basicID, basicSecret string, basic bool) (tokenParams, *oauthError) {
	p := tokenParams{GrantType: form.Get("grant_type"), ClientID: form.Get("client_id"), ClientSecret: form.Get("client_secret"),
		Code: form.Get("code"), RedirectURI: form.Get("redirect_uri"), Verifier: form.Get("code_verifier"), Refresh: form.Get("refresh_token")}
	if basic {
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		switch {
		case err1 != nil || err2 != nil:
			return p, oauthErr("invalid_request", "the Authorization header cannot be read")
		case p.ClientSecret != "" || p.ClientID != "" && p.ClientID != id:
			return p, oauthErr("invalid_request", "give the client's credentials in the Authorization header or the form, not both")
		}
		p.ClientID, p.ClientSecret = id, secret
	}
	switch {
	case p.GrantType == "":
		return p, oauthErr("invalid_request", "grant_type is required")
	case p.GrantType != "authorization_code" && p.GrantType != "refresh_token":
		return p, oauthErr("unsupported_grant_type", "grant_type must be authorization_code or refresh_token")
	case p.ClientID == "":
		return p, oauthErr("invalid_request", "client_id is required")
	case p.GrantType == "authorization_code" && p.Code == "":
		return p, oauthErr("invalid_request", "code is required")
	case p.GrantType == "refresh_token" && p.Refresh == "":
		return p, oauthErr("invalid_request", "refresh_token is required")
	case p.Verifier != "" && !pkceForm(p.Verifier, 43, 128):
		return p, oauthErr("invalid_request", "code_verifier is not 43 to 128 unreserved characters")
	}
	if form.Has("scope") {
		sc, err := ParseScopes(form.Get("scope"))
		if err != nil {
			return p, oauthErr("invalid_scope", err.Error())
		}
		p.Scopes, p.HasScope = sc, true
	}
	if v := form.Get("expires_in"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > 1<<32 {
			return p, oauthErr("invalid_request", "expires_in must be a whole number of seconds, 0 for the longest")
		}
		p.ExpiresIn = time.Duration(n) * time.Second
	}
	return p, nil
}

// subset says whether every scope of want is one of have's: the same
// scope, or a restriction of a scope have holds unrestricted.
func subset(want, have Scopes) bool {
	for _, w := range want {
		ok := false
		for _, h := range have {
			if h.Name == w.Name && (h.Object == "" || h.Object == w.Object) {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func writeOAuth(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client went away
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+httpapi.Realm+`"`)
	}
	writeOAuth(w, status, map[string]string{"error": e.Code, "error_description": e.Description})
}

// grant makes a grant of scopes (the granted ones when the request asks
// none) for p's lifetime.
func (a *API) grant(p tokenParams, granted string) (auth.Grant, OAuthToken, error) {
	have, err := ParseScopes(granted)
	if err != nil {
		return auth.Grant{}, OAuthToken{}, err
	}
	sc := have
	if p.HasScope {
		if !subset(p.Scopes, have) {
			return auth.Grant{}, OAuthToken{}, oauthErr("invalid_scope", "the scope asks for more than the user granted")
		}
		sc = p.Scopes
	}
	life := p.ExpiresIn
	if max := a.oauth.MaxExpiresIn; life == 0 || max > 0 && life > max {
		life = max
	}
	now := a.now().UTC().Truncate(time.Second)
	expires := neverExpires
	if life > 0 {
		expires = now.Add(life)
	}
	access, refresh := token.New(), token.New()
	g := auth.Grant{Access: auth.AccessToken{Hash: token.Hash(access), Scopes: sc.String(), CreatedAt: now, ExpiresAt: expires},
		RefreshHash: token.Hash(refresh)}
	return g, OAuthToken{AccessToken: access, TokenType: "bearer", ExpiresIn: int64(life / time.Second), RefreshToken: refresh, Scope: sc.String()}, nil
}

func (a *API) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, oauthErr("invalid_request", "the form cannot be read"))
		return
	}
	id, secret, basic := r.BasicAuth()
	p, perr := parseTokenForm(r.PostForm, id, secret, basic)
	if perr != nil {
		writeOAuthError(w, perr)
		return
	}
	actor := auth.Actor{IP: ClientIP(r)}
	clientKey, ipKey := ratelimit.Key(actor.IP, p.ClientID), ratelimit.Key(actor.IP)
	if dc, di := a.tokenPerClient.Check(clientKey), a.tokenPerIP.Check(ipKey); !dc.Allowed || !di.Allowed {
		if err := a.acc.store.TokenRefused(r.Context(), actor, p.ClientID, "too_many_requests", true); err != nil {
			a.mapper.WriteError(w, r, err)
			return
		}
		retry := max(dc.RetryAfter, di.RetryAfter)
		w.Header().Set("Retry-After", strconv.FormatInt(int64((retry+time.Second-1)/time.Second), 10))
		writeOAuthError(w, &oauthError{Code: "too_many_requests", Description: "too many failed token requests: try again later",
			Status: http.StatusTooManyRequests})
		return
	}
	// refuse answers e, a bad client or grant: counted by the limiters
	// and audited.
	refuse := func(e *oauthError) {
		a.tokenPerClient.Record(clientKey)
		a.tokenPerIP.Record(ipKey)
		if err := a.acc.store.TokenRefused(r.Context(), actor, p.ClientID, e.Code, false); err != nil {
			a.mapper.WriteError(w, r, err)
			return
		}
		writeOAuthError(w, e)
	}
	badClient := &oauthError{Code: "invalid_client", Description: "unknown client or wrong client secret", Status: http.StatusUnauthorized}
	app, hash, err := a.acc.store.App(r.Context(), p.ClientID)
	switch {
	case errors.Is(err, auth.ErrNotFound):
		refuse(badClient)
		return
	case err != nil:
		a.mapper.WriteError(w, r, err)
		return
	case app.Public && p.ClientSecret != "", !app.Public && !token.Match(p.ClientSecret, hash):
		refuse(badClient)
		return
	}
	var out OAuthToken
	now := a.now()
	if p.GrantType == "authorization_code" {
		if p.RedirectURI == "" {
			p.RedirectURI = app.RedirectURI
		}
		_, err = a.acc.store.RedeemCode(r.Context(), actor, token.Hash(p.Code), app.ClientID, p.RedirectURI, now,
			func(c auth.AuthCode) (auth.Grant, error) {
				switch {
				case c.Challenge == "" && p.Verifier != "":
					return auth.Grant{}, oauthErr("invalid_grant", "the authorization request had no code_challenge")
				case c.Challenge != "" && p.Verifier == "":
					return auth.Grant{}, oauthErr("invalid_grant", "code_verifier is required")
				case c.Challenge != "" && s256(p.Verifier) != c.Challenge:
					return auth.Grant{}, oauthErr("invalid_grant", "code_verifier does not match the code_challenge")
				}
				g, t, err := a.grant(p, c.Scopes)
				out = t
				return g, err
			})
	} else {
		_, err = a.acc.store.Refresh(r.Context(), actor, token.Hash(p.Refresh), app.ClientID, now,
			func(au auth.Authorization) (auth.Grant, error) {
				g, t, err := a.grant(p, au.Scopes)
				out = t
				return g, err
			})
	}
	var oe *oauthError
	switch {
	case errors.As(err, &oe) && oe.Code == "invalid_grant":
		refuse(oe)
	case errors.As(err, &oe):
		writeOAuthError(w, oe)
	case errors.Is(err, auth.ErrGrantRefused) && p.GrantType == "authorization_code":
		refuse(oauthErr("invalid_grant", "the authorization code is invalid"))
	case errors.Is(err, auth.ErrGrantRefused):
		refuse(oauthErr("invalid_grant", "the refresh token is invalid"))
	case err != nil:
		a.mapper.WriteError(w, r, err)
	default:
		writeOAuth(w, http.StatusOK, out)
	}
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request) {
	tok := chi.URLParam(r, "token")
	if !token.Valid(tok) {
		a.mapper.WriteError(w, r, BadArgs("Invalid token: not 32 lower-case hex"))
		return
	}
	// A token that is unknown (or already revoked) is revoked too: the
	// answer says nothing of which tokens exist.
	if _, err := a.acc.store.RevokeOAuthToken(r.Context(), auth.Actor{IP: ClientIP(r)}, token.Hash(tok)); err != nil {
		a.mapper.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// tokenInfo introspects the token the request carries (Bearer, or the
// access_token or token parameter): its holder needs no other
// credential, so a resource server passes on what it was given.
func (a *API) tokenInfo(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("access_token")
	if tok == "" {
		var err error
		if tok, err = Credential(r); err != nil {
			writeOAuth(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "no access token"})
			return
		}
	}
	invalid := map[string]string{"error": "invalid_token", "error_description": "the token is unknown, revoked or expired"}
	if !token.Valid(tok) {
		writeOAuth(w, http.StatusUnauthorized, invalid)
		return
	}
	p, err := StoreVerifier{Store: a.acc.store}.Verify(r.Context(), tok)
	switch {
	case errors.Is(err, ErrUnknownToken):
		writeOAuth(w, http.StatusUnauthorized, invalid)
		return
	case err != nil:
		a.mapper.WriteError(w, r, err)
		return
	case !p.Expires.IsZero() && !a.now().Before(p.Expires):
		writeOAuth(w, http.StatusUnauthorized, invalid)
		return
	}
	info := TokenInfo{User: p.Email, Device: p.Device, Scope: p.Scopes.String(), IsAdmin: p.Admin}
	if !p.Expires.IsZero() && p.Expires.Before(neverExpires) {
		info.ExpiresIn = int64(p.Expires.Sub(a.now()) / time.Second)
	}
	au, err := a.acc.store.DeviceAuthorization(r.Context(), p.Device)
	switch {
	case err == nil:
		info.ClientID = au.ClientID
	case !errors.Is(err, auth.ErrNotFound):
		a.mapper.WriteError(w, r, err)
		return
	}
	writeOAuth(w, http.StatusOK, info)
}
