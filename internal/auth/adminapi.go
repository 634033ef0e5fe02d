package auth

import (
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// AdminPath is where the admin API's routes are (AdminRoutes), and where
// Client calls them.
const AdminPath = "/audit/v1/admin"

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 64 << 10

// The admin API's request and response bodies.
type (
	addDeviceRequest struct {
		User string `json:"user"`
		Name string `json:"name"`
	}
	// AddedDevice answers POST /devices: the device and its token, shown
	// only this once.
	AddedDevice struct {
		Device
		Token string `json:"token"`
	}
	devicesResponse struct {
		Devices []Device `json:"devices"`
	}
	addTokenRequest struct {
		Role Role   `json:"role"`
		Name string `json:"name"`
	}
	// AddedToken answers POST /tokens: the token and its secret, shown
	// only this once.
	AddedToken struct {
		Token
		Secret string `json:"token"`
	}
	tokensResponse struct {
		Tokens []Token `json:"tokens"`
	}
)

// AdminRoutes returns the admin HTTP API on s, at AdminPath, for admin
// API tokens (httpapi.Admin):
//
//	POST   /devices        {user, name} -> 201 {device_id, user, name, token, ...}
//	GET    /devices        -> 200 {"devices": [...]}
//	DELETE /devices/{id}   -> 204
//	POST   /tokens         {role, name} -> 201 {name, role, token, ...}
//	GET    /tokens         -> 200 {"tokens": [...]}
//	DELETE /tokens/{name}  -> 204
//
// Each route requires an API token with role admin itself (RequireRole),
// so that mounting it without the check cannot open it; the audit events
// of its actions record the caller ":token:NAME". Errors have the audit
// shape: 400 invalid_request naming the field, 404 not_found (also for an
// unknown route under AdminPath), 405 method_not_allowed, 409 exists or
// revoked (revoking twice).
//
// and the users of the content API (hash makes a new password's stored
// form, the content API's argon2id PHC string):
//
//	POST   /users                {email, first_name, last_name, admin, password} -> 201 {email, level, ...}
//	GET    /users                -> 200 {"users": [...]}
//	PUT    /users/{email}/level  {level} -> 200 {email, level, ...}
//	PUT    /users/{email}/role   {role} -> 200 {email, level, role, ...} (auditor or none)
//	DELETE /users/{email}        -> 204 (409 in_use for a user who owns devices)
//
// and the mail outbox:
//
//	GET    /mail                 -> 200 {"mail": [...]}
func AdminRoutes(s *Store, hash func(password string) string) []httpapi.Route {
	m := httpapi.Mapper{Family: httpapi.Audit, Matches: []httpapi.Match{
		{Err: ErrNotFound, Status: http.StatusNotFound, Code: CodeNotFound},
		{Err: ErrExists, Status: http.StatusConflict, Code: CodeExists},
		{Err: ErrRevoked, Status: http.StatusConflict, Code: CodeRevoked},
		{Err: ErrInUse, Status: http.StatusConflict, Code: CodeInUse},
	}}
	// route completes rt (its path relative to AdminPath) with f.
	route := func(rt httpapi.Route, f func(r *http.Request, caller string) (any, error)) httpapi.Route {
		h := m.Handle(func(r *http.Request) (any, error) {
			p, _ := FromContext(r.Context()) // RequireRole checked it
			return f(r, p.Caller())
		})
		rt.Pattern, rt.Access, rt.Handler = AdminPath+rt.Pattern, httpapi.Admin, httpapi.NoStore(RequireRole(RoleAdmin)(h))
		return rt
	}
	routes := []httpapi.Route{
		route(httpapi.Route{Method: http.MethodPost, Pattern: "/devices", Summary: "Register a device; its token is shown only this once",
			Request: addDeviceRequest{}, Status: http.StatusCreated, Response: AddedDevice{}},
			func(r *http.Request, caller string) (any, error) {
				var req addDeviceRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				d, token, err := s.AddDevice(r.Context(), caller, req.User, req.Name)
				if err != nil {
					return nil, err
				}
				return httpapi.Created(AddedDevice{Device: d, Token: token}), nil
			}),
		route(httpapi.Route{Method: http.MethodGet, Pattern: "/devices", Summary: "List the devices", Response: devicesResponse{}},
			func(r *http.Request, _ string) (any, error) {
				ds, err := s.ListDevices(r.Context())
				return devicesResponse{Devices: ds}, err
			}),
		route(httpapi.Route{Method: http.MethodDelete, Pattern: "/devices/{id}", Summary: "Revoke a device", Status: http.StatusNoContent},
			func(r *http.Request, caller string) (any, error) {
				return nil, s.RevokeDevice(r.Context(), caller, chi.URLParam(r, "id"))
			}),
		route(httpapi.Route{Method: http.MethodPost, Pattern: "/tokens", Summary: "Issue an API token; its secret is shown only this once",
			Request: addTokenRequest{}, Status: http.StatusCreated, Response: AddedToken{}},
			func(r *http.Request, caller string) (any, error) {
				var req addTokenRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				t, secret, err := s.AddToken(r.Context(), caller, req.Role, req.Name)
				if err != nil {
					return nil, err
				}
				return httpapi.Created(AddedToken{Token: t, Secret: secret}), nil
			}),
		route(httpapi.Route{Method: http.MethodGet, Pattern: "/tokens", Summary: "List the API tokens", Response: tokensResponse{}},
			func(r *http.Request, _ string) (any, error) {
				ts, err := s.ListTokens(r.Context())
				return tokensResponse{Tokens: ts}, err
			}),
		route(httpapi.Route{Method: http.MethodDelete, Pattern: "/tokens/{name}", Summary: "Revoke an API token", Status: http.StatusNoContent},
			func(r *http.Request, caller string) (any, error) {
				return nil, s.RevokeToken(r.Context(), caller, chi.URLParam(r, "name"))
			}),
	}
	routes = append(routes, userAdminRoutes(s, hash, route)...)
	routes = append(routes, mailAdminRoutes(s, route)...)
	routes = append(routes, appAdminRoutes(s, route)...)
	for _, fb := range httpapi.Fallback(m, AdminPath, "admin API", httpapi.Admin, routes) {
		fb.Handler = httpapi.NoStore(RequireRole(RoleAdmin)(fb.Handler))
		routes = append(routes, fb)
	}
	return routes
}
