package contentapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// maxPasswordBytes bounds a password: argon2id reads all of it.
const maxPasswordBytes = 1024

// User is a user as the content API shows one.
type User struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
	IsAdmin   bool   `json:"is_admin"`
}

func userOf(u auth.User) User {
	return User{Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, IsAdmin: u.Level == auth.LevelAdmin}
}

// NewUserRequest is POST /users' body.
type NewUserRequest struct {
	Email     string `json:"email"`
	FirstName string `json:"first_name"`
	LastName  string `json:"last_name"`
}

// UpdateUserRequest is PUT /users/{email}'s body; an absent name stays
// as it is.
type UpdateUserRequest struct {
	FirstName *string `json:"first_name"`
	LastName  *string `json:"last_name"`
}

// userTable is the routes of users (CONTENT-API.md).
func (a *API) userTable() []Route {
	return []Route{
		{Method: http.MethodGet, Path: "/users", Since: V(1, 3), Admin: true, Handle: a.listUsers,
			Summary: "The organization's users, by email", Response: List[User]{}, Query: []string{"limit", "after", "before"}},
		{Method: http.MethodPost, Path: "/users", Since: V(1, 1), Admin: true, Handle: a.createUser,
			Summary: "Create a user (user.create)", Request: NewUserRequest{}, Response: User{}, Status: http.StatusCreated},
		{Method: http.MethodGet, Path: "/users/{email}", Since: V(1, 1), Scopes: []string{ScopeUserRead}, Handle: a.getUser,
			Summary: "One user: oneself, or anyone for an administrator", Response: User{}},
		{Method: http.MethodPut, Path: "/users/{email}", Since: V(1, 1), Scopes: []string{ScopeUserWrite}, Handle: a.updateUser,
			Summary: "Change a user's name (user.update)", Request: UpdateUserRequest{}, Response: User{}},
		{Method: http.MethodDelete, Path: "/users/{email}", Since: V(1, 1), Admin: true, Handle: a.deleteUser,
			Summary: "Delete a user (user.delete)", Status: http.StatusNoContent},
		{Method: http.MethodPut, Path: "/users/{email}/password", Since: V(1, 1), Scopes: []string{ScopeUserPassword}, Handle: a.setPassword,
			Summary: "Set a user's password; the body is a JSON string (user.password.update)", Request: "", Status: http.StatusNoContent},
		{Method: http.MethodDelete, Path: "/users/{email}/password", Since: V(1, 1), Admin: true, Handle: a.revokePassword,
			Summary: "Revoke a user's password, ending their sessions and tokens (user.password.revoke)", Status: http.StatusNoContent},
	}
}

// actor is who acts in r, for the store's events.
func (r *Request) actor() auth.Actor {
	c := r.Caller()
	return auth.Actor{Email: c.Email, Device: c.Device, ActingAs: c.ActingAs, IP: r.IP()}
}

// isAdmin says whether r's principal acts as an administrator.
func (r *Request) isAdmin() bool {
	return r.Principal.Admin && r.Principal.Scopes.Has(ScopeOrgAdmin)
}

// selfOrAdmin reads the path's user, whom r's principal must be, or
// administer.
func (r *Request) selfOrAdmin() (string, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return "", err
	}
	if email != r.Principal.Email && !r.isAdmin() {
		return "", Forbidden("Only an administrator may act on another user")
	}
	return email, nil
}

// storeError is the answer for an account store's error.
// externalAccount is the 403 of setting a local password for a user
// whom LDAP or OpenID Connect provisioned: their password is the
// directory's or the issuer's, never Vigil's.
func externalAccount() error {
	return Forbidden("The user signs in through LDAP or OpenID Connect: their password cannot be set here")
}

func storeError(err error) error {
	var fe *auth.FieldError
	switch {
	case errors.As(err, &fe):
		return BadArgs("Invalid " + fe.Field + ": " + fe.Reason)
	case errors.Is(err, auth.ErrNotFound):
		return NotFound("No such user")
	case errors.Is(err, auth.ErrExists):
		return Conflict("User already exists")
	case errors.Is(err, auth.ErrInUse):
		return Conflict("The user still has devices: unlink them first")
	case errors.Is(err, auth.ErrExternalAccount):
		return externalAccount()
	}
	return err
}

func (a *API) listUsers(r *Request) (any, error) {
	p, err := ParsePage(r.URL.Query(), 20, 1000)
	if err != nil {
		return nil, err
	}
	us, err := a.acc.store.Users(r.Context(), p.After, p.Before, p.Limit+1)
	if err != nil {
		return nil, err
	}
	out := make([]User, len(us))
	for i, u := range us {
		out[i] = userOf(u)
	}
	if p.Before != "" && len(out) > p.Limit {
		// The extra one is the oldest: there are more before.
		return List[User]{Data: out[1:], HasMore: true}, nil
	}
	return NewList(out, p.Limit), nil
}

func (a *API) createUser(r *Request) (any, error) {
	var req NewUserRequest
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	if req.Email == "" {
		return nil, BadArgs("Invalid email: required")
	}
	email, err := bodyEmail(req.Email)
	if err != nil {
		return nil, BadArgs("Invalid email: " + err.Error())
	}
	u, err := a.acc.store.CreateUser(r.Context(), r.actor(), auth.NewUser{Email: email, FirstName: req.FirstName, LastName: req.LastName})
	if err != nil {
		return nil, storeError(err)
	}
	return httpapi.Response{Status: http.StatusCreated, Body: userOf(u),
		Header: http.Header{"Location": {Prefix + "/v" + r.Version.String() + "/users/" + u.Email}}}, nil
}

func (a *API) getUser(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	u, err := a.acc.store.User(r.Context(), email)
	if err != nil {
		return nil, storeError(err)
	}
	return userOf(u), nil
}

func (a *API) updateUser(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	var req UpdateUserRequest
	if err := r.Decode(&req); err != nil {
		return nil, err
	}
	cur, err := a.acc.store.User(r.Context(), email)
	if err != nil {
		return nil, storeError(err)
	}
	first, last := cur.FirstName, cur.LastName
	if req.FirstName != nil {
		first = *req.FirstName
	}
	if req.LastName != nil {
		last = *req.LastName
	}
	u, err := a.acc.store.UpdateUser(r.Context(), r.actor(), email, first, last)
	if err != nil {
		return nil, storeError(err)
	}
	return userOf(u), nil
}

func (a *API) deleteUser(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	return nil, storeError(a.acc.store.DeleteUser(r.Context(), r.actor(), email))
}

func (a *API) setPassword(r *Request) (any, error) {
	email, err := r.selfOrAdmin()
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, a.maxBody))
	if err != nil {
		return nil, BadArgs("Invalid body: larger than the limit")
	}
	pw, err := ParsePasswordBody(body)
	if err != nil {
		return nil, err
	}
	// Hash before the transaction: argon2id takes its time.
	return nil, storeError(a.acc.store.SetPassword(r.Context(), r.actor(), email, a.acc.hasher.Hash(pw)))
}

func (a *API) revokePassword(r *Request) (any, error) {
	email, err := r.PathEmail("email")
	if err != nil {
		return nil, err
	}
	return nil, storeError(a.acc.store.RevokePassword(r.Context(), r.actor(), email))
}

// ParsePasswordBody reads the body of PUT /users/{email}/password: a
// JSON string, as documented; or, as existing client libraries send it,
// a bare string (the body is the password) or a JSON string holding a
// JSON string (encoded twice). Each gives the same password. A JSON
// number is taken as its text; another JSON value, an empty password, a
// longer one than 1024 bytes or one that is not UTF-8 is 400 BAD_ARGS
// naming the password, never quoting it.
func ParsePasswordBody(body []byte) (string, error) {
	pw := string(body)
	trimmed := bytes.TrimSpace(body)
	if json.Valid(trimmed) {
		switch trimmed[0] {
		case '"':
			if err := json.Unmarshal(trimmed, &pw); err != nil {
				return "", BadArgs("Invalid password: must be a string")
			}
			// Encoded twice: the string is itself a JSON string.
			var inner string
			if len(pw) > 1 && pw[0] == '"' && json.Unmarshal([]byte(pw), &inner) == nil {
				pw = inner
			}
		case '{', '[', 't', 'f', 'n':
			return "", BadArgs("Invalid password: must be a string")
		default:
			pw = string(trimmed) // a number: its text
		}
	}
	switch {
	case pw == "":
		return "", BadArgs("Invalid password: required")
	case len(pw) > maxPasswordBytes:
		return "", BadArgs("Invalid password: longer than 1024 bytes")
	case !utf8.ValidString(pw):
		return "", BadArgs("Invalid password: must be UTF-8")
	}
	return pw, nil
}
