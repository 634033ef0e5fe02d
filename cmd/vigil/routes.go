package main

import (
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/dashboards/alerts"
	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/query"
)

// routes is the server's one route table: every package's routes, each
// tagged with who may call it (httpapi.Access).
func (p *pipeline) routes() []httpapi.Route {
	hasher := password.New(p.content.Password)
	return slices.Concat(
		// batches and single events (device); the quarantine (admin)
		ingest.NewHandler(p.ingester, p.auth).Routes(),
		// events, stats, live tail (admin, auditor)
		query.NewAPI(p.store, p.ingester.Emit, p.logger.With("component", "query")).Routes(),
		// status and dead letter (admin, auditor); replays (admin)
		p.sinks.Manager.Routes(),
		// alerts and their states (read: admin, auditor; change: admin)
		alerts.NewAPI(p.alerts, p.logger.With("component", "alerts")).Routes(),
		// devices, API tokens, the content API's users and the mail outbox (admin)
		auth.AdminRoutes(p.auth, hasher.Hash),
		// the content API under /api/v1.x (its tokens and cookie
		// sessions, checked by its own kit) and its sign-in at /auth;
		// users, tokens, sessions and devices live in the credential
		// store, whose outbox carries their events
		contentapi.New(contentapi.Config{Auditor: p.ingester, Accounts: p.auth, Devices: p.auth,
			Passwords: hasher, SignIn: p.content.SignIn, Session: p.content.Session, Security: p.content.Security,
			Org: p.content.Org, OAuth: p.content.OAuth, Directory: p.directory, OIDC: p.oidc, Files: p.files, Blobs: p.blobs, Uploads: p.uploads, Links: p.links,
			Logger: p.logger.With("component", "contentapi")}).Routes(),
	)
}

// gate puts each access group behind its credential check.
func gate(authn auth.Authenticator) httpapi.Gate {
	read := []func(http.Handler) http.Handler{auth.Middleware(authn), auth.RequireRole(auth.RoleAdmin, auth.RoleAuditor)}
	admin := []func(http.Handler) http.Handler{auth.Middleware(authn), auth.RequireRole(auth.RoleAdmin)}
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

// mountRoutes adds routes to r behind their gates, and GET /openapi.json,
// their OpenAPI document, which needs no credential: it describes the
// routes, not data.
func mountRoutes(r chi.Router, routes []httpapi.Route, authn auth.Authenticator) {
	info := httpapi.Info{Title: "Vigil", Version: readBuildInfo().Version,
		Description: "Audit event ingest, query, sinks and administration; the content API."}
	httpapi.Mount(r, append(routes, httpapi.OpenAPIRoute(info, routes)), gate(authn))
}
