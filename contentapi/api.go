package contentapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/link"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/schema"
)

// Config is what the API is built from.
type Config struct {
	// Verifier finds the principal of a token; nil knows no token.
	Verifier Verifier
	// Auditor takes the API's events.
	Auditor Auditor
	// Accounts keeps the users, their tokens from POST /auth and their
	// cookie sessions, and writes the events of what changes them in its
	// outbox, in the same transaction. Nil serves no sign-in or user
	// routes. With Accounts and no Verifier, the tokens verified are
	// Accounts' (StoreVerifier).
	Accounts *auth.Store
	// Passwords hashes new passwords; nil is the default cost.
	Passwords *password.Hasher
	// SignIn limits failed sign-ins (content.signin); Session is the
	// cookie sessions' expiry (content.session). Zero values are the
	// defaults.
	SignIn  SignInConfig
	Session session.Config
	// Security limits password reset requests and second-factor codes
	// (content.security); its zero value is the defaults.
	Security SecurityConfig
	// MaxBodyBytes caps a JSON body; 0 means 1 MiB.
	MaxBodyBytes int64
	// Now is the clock (token expiry, event times); nil is time.Now.
	Now    func() time.Time
	Logger *slog.Logger

	// Devices serves the device routes; nil serves none.
	Devices Devices
	// DeviceOnline is how recently a device must have called to be
	// online; 0 means DefaultDeviceOnline.
	DeviceOnline time.Duration
	// AccessCodeTimeout is how long a mobile access code is valid; 0
	// means DefaultAccessCodeTimeout.
	AccessCodeTimeout time.Duration

	// Directory signs in users whose local password does not match (or
	// who have none) against LDAP (content.ldap), and provisions them on
	// their first sign-in; nil is none. It needs Accounts.
	Directory Directory
	// OIDC serves sign-in through an OpenID Connect issuer at
	// /auth/oidc/login and /auth/oidc/callback (content.oidc),
	// provisioning users on their first sign-in; nil serves none. It
	// needs Accounts.
	OIDC *OIDC
	// Org is the organization (content.org): its name, open sign-up and
	// quota, for the organization routes served with Accounts.
	Org OrgConfig
	// OAuth is the OAuth 2.0 authorization server's content.oauth,
	// served with Accounts.
	OAuth OAuthConfig

	// Files is the file tree behind the files and folders routes; nil
	// serves none. It audits through the same outbox as Accounts.
	Files *tree.Store
	// Blobs keeps file contents and Uploads receives them, for the
	// content routes (served with Files and both of these).
	Blobs   blob.Store
	Uploads *transfer.Uploads
	// Links keeps the links served by the link routes (with Accounts
	// and Files); nil serves none. They download contents from Blobs.
	Links *link.Store
	// LinkPasswords limits wrong link passwords per client address and
	// link (content.link_passwords); zero values are the defaults.
	LinkPasswords ratelimit.Config
}

// API is the content API: its route table and the kit every route goes
// through (version, token, scopes, errors).
type API struct {
	verifier Verifier
	auditor  Auditor
	maxBody  int64
	now      func() time.Time
	mapper   httpapi.Mapper
	// acc and sec are nil without Config.Accounts.
	acc *accounts
	sec *security

	devices           Devices
	deviceOnline      time.Duration
	accessCodeTimeout time.Duration

	directory Directory
	oidc      *OIDC
	org       OrgConfig
	oauth     OAuthConfig
	// tokenPerClient and tokenPerIP limit the token endpoint's failures.
	tokenPerClient, tokenPerIP *ratelimit.Limiter

	files     *tree.Store
	blobs     blob.Store
	uploads   *transfer.Uploads
	links     *link.Store
	linkLimit *ratelimit.Limiter
}

// New returns the API of cfg.
func New(cfg Config) *API {
	a := &API{verifier: cfg.Verifier, auditor: cfg.Auditor, maxBody: cfg.MaxBodyBytes, now: cfg.Now,
		mapper: httpapi.Mapper{Family: httpapi.Content, Logger: cfg.Logger}}
	if a.maxBody <= 0 {
		a.maxBody = 1 << 20
	}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.Accounts != nil {
		a.acc = newAccounts(cfg, a.now)
		a.sec = newSecurity(cfg.Security, a.now)
		if a.verifier == nil {
			a.verifier = StoreVerifier{Store: cfg.Accounts}
		}
		a.directory, a.oidc = cfg.Directory, cfg.OIDC
	}
	a.devices, a.deviceOnline, a.accessCodeTimeout = cfg.Devices, cfg.DeviceOnline, cfg.AccessCodeTimeout
	a.org = cfg.Org
	a.org.SetDefaults()
	a.oauth = cfg.OAuth
	a.files, a.blobs, a.uploads = cfg.Files, cfg.Blobs, cfg.Uploads
	a.oauth.SetDefaults()
	a.tokenPerClient, a.tokenPerIP = ratelimit.New(a.oauth.PerClient, a.now), ratelimit.New(a.oauth.PerIP, a.now)
	if cfg.Files != nil {
		lc := cfg.LinkPasswords
		lc.SetDefaults()
		a.links, a.linkLimit = cfg.Links, ratelimit.New(lc, a.now)
	}
	if a.deviceOnline <= 0 {
		a.deviceOnline = DefaultDeviceOnline
	}
	if a.accessCodeTimeout <= 0 {
		a.accessCodeTimeout = DefaultAccessCodeTimeout
	}
	return a
}

// Prefix is where the API lives; a route's path follows the version:
// /api/v1.4/users.
const Prefix = "/api"

// Route is one route of the content API, as its table declares it.
type Route struct {
	Method string
	// Path follows the version: "/users/{email}".
	Path string
	// Since is the first version the route exists in; at an older one
	// it is 404.
	Since Version
	// Public routes take no token.
	Public bool
	// Scopes are the scopes one of which the token must have (restricted
	// to an object or not: the handler asks Scopes.Permits about the
	// object); none means any valid token.
	Scopes []string
	// Admin routes need organization.admin held by an organization
	// administrator (Scopes is then not used).
	Admin  bool
	Handle Handler

	// For the OpenAPI document.
	Summary string
	// Request and Response are values of the JSON bodies' types; Status
	// is the success status (0: 200); Query names the parameters.
	Request, Response any
	Status            int
	Query             []string
}

// Handler answers a request with data (JSON, 200; nil is 204; an
// httpapi.Response for another status) or an error.
type Handler func(r *Request) (any, error)

// Request is a request that passed the kit: at a version the route
// exists in, with its principal when the route takes a token.
type Request struct {
	*http.Request
	Version   Version
	Principal Principal
	api       *API
}

// Routes returns the API's routes for the server's table, and the
// fallback that answers every other path under /api with 404 NOT_FOUND.
func (a *API) Routes() []httpapi.Route {
	if a.acc == nil {
		return a.mount(a.table())
	}
	return slices.Concat(a.authRoutes(), a.securityAuthRoutes(), []httpapi.Route{a.signupRoute()}, a.oidcRoutes(), a.oauthRoutes(), a.signinRoutes(), a.publicLinkRoutes(),
		a.mount(slices.Concat(a.table(), a.userTable(), a.securityTable(), a.orgTable(), a.appRoutes())))
}

// table is the content API: every route, in one screen.
func (a *API) table() []Route {
	return append([]Route{
		{Method: http.MethodGet, Path: "/version", Since: V(0, 8), Public: true, Handle: a.version,
			Summary: "The API versions served", Response: VersionInfo{}},
	}, slices.Concat(a.deviceRoutes(), a.fileRoutes(), a.contentRoutes(), a.revisionRoutes(), a.favoriteRoutes(), a.linkRoutes(), a.shareRoutes())...)
}

// mount turns a table into the server's routes: each behind the kit,
// under /api/{version}, plus the fallback.
func (a *API) mount(table []Route) []httpapi.Route {
	out := make([]httpapi.Route, 0, len(table)+2)
	for _, rt := range table {
		hr := httpapi.Route{
			Method:   rt.Method,
			Pattern:  Prefix + "/{version}" + rt.Path,
			Handler:  a.mapper.Handle(a.kit(rt)),
			Access:   httpapi.Scoped,
			Scopes:   rt.Scopes,
			Summary:  strings.TrimSpace(rt.Summary + " (since v" + rt.Since.String() + ")"),
			Request:  rt.Request,
			Status:   rt.Status,
			Response: rt.Response,
			Query:    rt.Query,
			Family:   httpapi.Content,
		}
		switch {
		case rt.Public:
			hr.Access = httpapi.Public
		case rt.Admin:
			hr.Scopes = []string{ScopeOrgAdmin}
		}
		out = append(out, hr)
	}
	fallback := httpapi.Fallback(a.mapper, Prefix, "content API", httpapi.Public, out)
	for i := range fallback {
		fallback[i].Handler = a.unknownVersion(fallback[i].Handler)
	}
	return append(out, fallback...)
}

// unknownVersion answers 404 to a path under /api whose version is not
// served, whatever its method, before next (405 for another method of a
// known route, 404 for the rest).
func (a *API) unknownVersion(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, Prefix+"/"), "/")
		if _, ok := ParseVersion(seg); !ok {
			a.mapper.WriteError(w, r, NotFound("No such route: "+r.URL.Path))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// kit checks a request in order, before rt's handler runs: the version
// (404), the token (400, 401), the scopes (403).
func (a *API) kit(rt Route) httpapi.HandlerFunc {
	return func(r *http.Request) (any, error) {
		v, ok := ParseVersion(chi.URLParam(r, "version"))
		if !ok || v.Less(rt.Since) {
			return nil, NotFound("No such route: " + r.URL.Path)
		}
		req := &Request{Request: r, Version: v, api: a}
		if !rt.Public {
			p, err := a.authenticate(r)
			if err != nil {
				return nil, err
			}
			if err := authorize(rt, p); err != nil {
				return nil, err
			}
			req.Principal = p
		}
		return rt.Handle(req)
	}
}

// PathEmail is the path parameter name read as an email: escaped or
// not, lower-cased; not one is 400 BAD_ARGS.
func (r *Request) PathEmail(name string) (string, error) {
	e, err := ParseEmail(chi.URLParam(r.Request, name))
	if err != nil {
		return "", BadArgs("Invalid " + name + ": " + err.Error())
	}
	return e, nil
}

// Decode reads the JSON body into v, whatever the Content-Type says:
// unknown fields are ignored, a value of the wrong type is 400 BAD_ARGS
// naming the field, and the body is capped.
func (r *Request) Decode(v any) error {
	return httpapi.DecodeJSONLax(r.Request, v, r.api.maxBody)
}

// IfMatch is the If-Match header; an empty one is none.
func (r *Request) IfMatch() (string, bool) { return header(r.Request, "If-Match") }

// IfNoneMatch is the If-None-Match header; an empty one is none.
func (r *Request) IfNoneMatch() (string, bool) { return header(r.Request, "If-None-Match") }

func header(r *http.Request, name string) (string, bool) {
	v := strings.TrimSpace(strings.Join(r.Header.Values(name), ","))
	return v, strings.Trim(v, ", ") != ""
}

// Caller is the caller object of the request's audit events.
func (r *Request) Caller() Caller { return CallerOf(r.Principal) }

// IP is the client's address, for the events' ip field.
func (r *Request) IP() string { return ClientIP(r.Request) }

// Event builds the named event, now, with its caller fields and ip
// filled from the request where fields leave them unset.
func (r *Request) Event(name string, fields schema.Fields) (*schema.Event, error) {
	return newEvent(name, r.api.now(), fields, r.Caller(), r.IP())
}

// VersionInfo is GET /version's answer.
type VersionInfo struct {
	// Latest is the highest version served.
	Latest string `json:"latest"`
	// Versions are all the versions served, oldest first.
	Versions []string `json:"versions"`
}

func (a *API) version(*Request) (any, error) {
	info := VersionInfo{Latest: Latest.String()}
	for _, v := range versions {
		info.Versions = append(info.Versions, v.String())
	}
	return info, nil
}

// Audit builds the named event as Event does and emits it, returning
// once it is durable: an action whose event cannot be written fails.
func (r *Request) Audit(name string, fields schema.Fields) error {
	e, err := r.Event(name, fields)
	if err != nil {
		return err
	}
	if r.api.auditor == nil {
		return fmt.Errorf("emit %s: no auditor", name)
	}
	if err := r.api.auditor.Emit(r.Context(), e); err != nil {
		return fmt.Errorf("emit %s: %w", name, err)
	}
	return nil
}
