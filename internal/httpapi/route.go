package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/config"
)

// Access is who may call a route; the server puts each group behind its
// middleware.
type Access int

const (
	// Public routes need no credential.
	Public Access = iota
	// Device routes take a device credential, which their handler checks
	// itself (a bearer device token or a TLS client certificate).
	Device
	// Read routes need an API token with role admin or auditor.
	Read
	// Admin routes need an API token with role admin.
	Admin
	// Scoped routes take a content API token (a bearer header or a token
	// query parameter) with one of the route's Scopes, which the content
	// API checks itself.
	Scoped
)

func (a Access) String() string {
	switch a {
	case Device:
		return "device"
	case Read:
		return "admin or auditor"
	case Admin:
		return "admin"
	case Scoped:
		return "content API token"
	}
	return "public"
}

// Route is one route of an API, as the package that serves it describes
// it: enough to mount it and to document it.
type Route struct {
	// Method is the HTTP method; "" matches every method (a fallback,
	// left out of the documentation).
	Method string
	// Pattern is the chi pattern of the whole path: "/audit/v1/sinks/{name}".
	Pattern string
	Handler http.Handler
	Access  Access
	// Scopes are the content API scopes of a Scoped route, one of which
	// its token must have; for the documentation.
	Scopes  []string
	Summary string
	// Request is a value of the JSON request body's type, nil for none.
	Request any
	// Consumes lists other media types the body may have.
	Consumes []string
	// Status is the success status; 0 means 200.
	Status int
	// Response is a value of the JSON success body's type, nil for none.
	Response any
	// Produces lists the media types of a streamed answer, when it is not
	// (only) Response's JSON.
	Produces []string
	// Query names the query parameters. A GET of the Audit family
	// refuses any other name (400 unknown_parameter), so that a
	// misspelled filter never widens a search; the Content family ignores
	// unknown parameters, as its clients expect.
	Query []string
	// Family is the error body shape.
	Family Family
}

// Gate returns the middleware, outermost first, that guards a group.
type Gate func(Access) []func(http.Handler) http.Handler

// Mount adds routes to r, each behind its group's middleware.
func Mount(r chi.Router, routes []Route, gate Gate) {
	for _, rt := range routes {
		h := rt.Handler
		if rt.Family == Audit && (rt.Method == http.MethodGet || rt.Method == http.MethodHead) {
			h = knownParams(rt.Query, h)
		}
		mw := gate(rt.Access)
		for i := len(mw) - 1; i >= 0; i-- {
			h = mw[i](h)
		}
		if rt.Method == "" {
			r.Handle(rt.Pattern, h)
			continue
		}
		r.Method(rt.Method, rt.Pattern, h)
	}
}

// knownParams answers 400 unknown_parameter, in the Audit family, to a
// request with a query parameter not in names.
func knownParams(names []string, next http.Handler) http.Handler {
	known := make(map[string]bool, len(names))
	for _, n := range names {
		known[n] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range slices.Sorted(maps.Keys(r.URL.Query())) {
			if known[p] {
				continue
			}
			msg := fmt.Sprintf("unknown parameter %q", p)
			if c := config.Closest(p, names); c != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", c)
			}
			Audit.Write(w, NewError(http.StatusBadRequest, CodeUnknownParam, msg))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// Fallback returns the routes that answer, in m's family, the requests
// under prefix that match none of routes: 405 method_not_allowed for a
// known path with another method, else 404 not_found ("no such NAME
// route: PATH").
func Fallback(m Mapper, prefix, name string, access Access, routes []Route) []Route {
	known := chi.NewRouter()
	for _, rt := range routes {
		if rt.Method != "" {
			known.Method(rt.Method, rt.Pattern, http.NotFoundHandler())
		}
	}
	known.NotFound(func(w http.ResponseWriter, r *http.Request) {
		m.Family.Write(w, NewError(http.StatusNotFound, CodeNotFound, "no such "+name+" route: "+r.URL.Path))
	})
	known.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		m.Family.Write(w, NewError(http.StatusMethodNotAllowed, CodeMethod, r.Method+" is not allowed on "+r.URL.Path))
	})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A fresh routing context: the outer router's knows only that
		// this fallback matched.
		ctx := context.WithValue(r.Context(), chi.RouteCtxKey, chi.NewRouteContext())
		known.ServeHTTP(w, r.WithContext(ctx))
	})
	return []Route{
		{Pattern: prefix, Handler: h, Access: access},
		{Pattern: prefix + "/*", Handler: h, Access: access},
	}
}
