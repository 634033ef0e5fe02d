package auth

import (
	"context"
	"math"
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The admin API's user bodies.
type (
	addUserRequest struct {
		Email     string `json:"email"`
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		// Admin makes the user an organization administrator.
		Admin bool `json:"admin"`
		// Password is the user's first password; it is kept only as its
		// hash.
		Password string `json:"password"`
	}
	usersResponse struct {
		Users []User `json:"users"`
	}
	setLevelRequest struct {
		Level Level `json:"level"`
	}
	setRoleRequest struct {
		// Role is auditor, or none to take it away.
		Role Role `json:"role"`
	}
)

// maxAdminPassword bounds a password, in bytes: argon2id reads all of it.
const maxAdminPassword = 1024

// AllUsers returns every user, by email.
func (s *Store) AllUsers(ctx context.Context) ([]User, error) {
	return s.Users(ctx, "", "", math.MaxInt32)
}

// userAdminRoutes are the admin API's user routes; route completes each
// as AdminRoutes does.
func userAdminRoutes(s *Store, hash func(string) string, route func(httpapi.Route, func(*http.Request, string) (any, error)) httpapi.Route) []httpapi.Route {
	actor := func(_ *http.Request, caller string) Actor { return Actor{Email: caller} }
	// email is the path's user, escaped or not.
	email := func(r *http.Request) string {
		e := chi.URLParam(r, "email")
		if u, err := url.PathUnescape(e); err == nil {
			return u
		}
		return e
	}
	return []httpapi.Route{
		route(httpapi.Route{Method: http.MethodPost, Pattern: "/users", Summary: "Create a content API user with a password",
			Request: addUserRequest{}, Status: http.StatusCreated, Response: User{}},
			func(r *http.Request, caller string) (any, error) {
				var req addUserRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				nu := NewUser{Email: req.Email, FirstName: req.FirstName, LastName: req.LastName, Level: LevelUser}
				if req.Admin {
					nu.Level = LevelAdmin
				}
				switch {
				case len(req.Password) > maxAdminPassword:
					return nil, &FieldError{Field: "password", Reason: "longer than 1024 bytes"}
				case req.Password != "":
					nu.PasswordHash = hash(req.Password)
				}
				u, err := s.CreateUser(r.Context(), actor(r, caller), nu)
				if err != nil {
					return nil, err
				}
				return httpapi.Created(u), nil
			}),
		route(httpapi.Route{Method: http.MethodGet, Pattern: "/users", Summary: "List the content API's users", Response: usersResponse{}},
			func(r *http.Request, _ string) (any, error) {
				us, err := s.AllUsers(r.Context())
				return usersResponse{Users: us}, err
			}),
		route(httpapi.Route{Method: http.MethodPut, Pattern: "/users/{email}/level", Summary: "Promote a user to ADMIN or demote to USER",
			Request: setLevelRequest{}, Response: User{}},
			func(r *http.Request, caller string) (any, error) {
				var req setLevelRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				return s.SetLevel(r.Context(), actor(r, caller), email(r), req.Level)
			}),
		route(httpapi.Route{Method: http.MethodPut, Pattern: "/users/{email}/role", Summary: "Give a user the audit role auditor, or take it away (none)",
			Request: setRoleRequest{}, Response: User{}},
			func(r *http.Request, caller string) (any, error) {
				var req setRoleRequest
				if err := httpapi.DecodeJSON(r, &req, maxAdminBody); err != nil {
					return nil, err
				}
				return s.SetUserRole(r.Context(), caller, email(r), req.Role)
			}),
		route(httpapi.Route{Method: http.MethodDelete, Pattern: "/users/{email}", Summary: "Remove a user, with their sessions and tokens", Status: http.StatusNoContent},
			func(r *http.Request, caller string) (any, error) {
				return nil, s.DeleteUser(r.Context(), actor(r, caller), email(r))
			}),
	}
}
