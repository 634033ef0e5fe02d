package main

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/dashboards/alerts"
	"github.com/vigilaudit/vigil/dashboards/console"
	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/query"
)

// routeTable is the server's one route table: every package's routes,
// each tagged with who may call it (httpapi.Access), in three groups.
type routeTable struct {
	// browser are the audit APIs the web console calls: besides API
	// tokens, their credential checks take a signed-in browser's session
	// cookie (with its CSRF token to change anything), as the role its
	// user has (auth.SessionMiddleware).
	browser []httpapi.Route
	// token are the other APIs: API tokens only, or their own checks.
	token []httpapi.Route
	// console is the web console's pages and files, which check the
	// session themselves; the OpenAPI document leaves them out.
	console []httpapi.Route
	// sessions finds the user of a session cookie: the content API's
	// sign-in.
	sessions auth.Sessions
}

// routes builds the route table.
func (p *pipeline) routes() (routeTable, error) {
	hasher := password.New(p.content.Password)
	// the content API under /api/v1.x (its tokens and cookie sessions,
	// checked by its own kit) and its sign-in at /auth and /signin;
	// users, tokens, sessions and devices live in the credential store,
	// whose outbox carries their events
	content := contentapi.New(contentapi.Config{Auditor: p.ingester, Accounts: p.auth, Devices: p.auth,
		Passwords: hasher, SignIn: p.content.SignIn, Session: p.content.Session, Security: p.content.Security,
		Org: p.content.Org, OAuth: p.content.OAuth, Directory: p.directory, OIDC: p.oidc, Files: p.files, Blobs: p.blobs, Uploads: p.uploads, Links: p.links,
		Logger: p.logger.With("component", "contentapi")})
	// the web console at / (admin, auditor: the signed-in user's role)
	cons, err := console.New(console.Config{Sessions: content, Roles: p.auth, Logger: p.logger.With("component", "console")})
	if err != nil {
		return routeTable{}, err
	}
	return routeTable{
		browser: slices.Concat(
			// batches and single events (device); the quarantine (admin)
			ingest.NewHandler(p.ingester, p.auth).Routes(),
			// events, stats, live tail (admin, auditor)
			query.NewAPI(p.store, p.ingester.Emit, p.logger.With("component", "query")).Routes(),
			// status and dead letter (admin, auditor); replays (admin)
			p.sinks.Manager.Routes(),
			// alerts and their states (read: admin, auditor; change: admin)
			alerts.NewAPI(p.alerts, p.ingester.Emit, p.logger.With("component", "alerts")).Routes(),
		),
		token: slices.Concat(
			// devices, API tokens, the content API's users and the mail outbox (admin)
			auth.AdminRoutes(p.auth, hasher.Hash),
			content.Routes(),
		),
		console:  cons.Routes(),
		sessions: content,
	}, nil
}

// mount adds the route table to r: each group behind its gates, and GET
// /openapi.json for the APIs.
func (rt routeTable) mount(roles auth.RoleFinder, authn auth.Authenticator) func(chi.Router) {
	return func(r chi.Router) {
		apis := slices.Concat(rt.browser, rt.token)
		httpapi.Mount(r, rt.browser, gate(auth.SessionMiddleware(authn, rt.sessions, roles)))
		mountRoutes(r, rt.token, apis, authn)
		httpapi.Mount(r, rt.console, gate(auth.Middleware(authn)))
	}
}

// gate puts each access group behind authenticate and its role check.
func gate(authenticate func(http.Handler) http.Handler) httpapi.Gate {
	read := []func(http.Handler) http.Handler{authenticate, auth.RequireRole(auth.RoleAdmin, auth.RoleAuditor)}
	admin := []func(http.Handler) http.Handler{authenticate, auth.RequireRole(auth.RoleAdmin)}
	return func(a httpapi.Access) []func(http.Handler) http.Handler {
		switch a {
		case httpapi.Read:
			return read
		case httpapi.Admin:
			return admin
		}
		return nil // public; device routes check the device credential (token or certificate) themselves
	}
}

// mountRoutes adds routes to r behind the API tokens' gates, and GET
// /openapi.json, the OpenAPI document of documented (routes when nil),
// which needs no credential: it describes the routes, not data.
func mountRoutes(r chi.Router, routes, documented []httpapi.Route, authn auth.Authenticator) {
	if documented == nil {
		documented = routes
	}
	info := httpapi.Info{Title: "Vigil", Version: readBuildInfo().Version,
		Description: "Audit event ingest, query, sinks and administration; the content API."}
	httpapi.Mount(r, append(routes, httpapi.OpenAPIRoute(info, documented)), gate(auth.Middleware(authn)))
}
