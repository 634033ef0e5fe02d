package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// A browser signed in to the content API (its cookie session) may call
// the audit APIs that the web console reads, as the role its user has
// (ConsoleRole): SessionMiddleware.

// CSRFHeader carries a session's CSRF token on a state-changing request
// by cookie, as the content API takes it.
const CSRFHeader = "X-CSRF-Token"

// SessionUser is the user a browser's session cookie signs in.
type SessionUser struct {
	Email string
	// CSRF is the session's CSRF token: a state-changing request by
	// cookie carries it in CSRFHeader.
	CSRF string
}

// Sessions finds who a browser's session cookie signs in; the content
// API's sign-in is one.
type Sessions interface {
	// SessionUser returns the user of r's live session cookie, and
	// ErrUnauthenticated when r has none (no cookie, or an unknown or
	// expired one).
	SessionUser(r *http.Request) (SessionUser, error)
}

// RoleFinder tells which role a signed-in user acts with; *Store is one.
type RoleFinder interface {
	ConsoleRole(ctx context.Context, email string) (Role, error)
}

// SessionPrincipal returns the principal of r's session cookie: the
// user (KindUser) with the role roles finds for them, "" when none. It
// returns ErrUnauthenticated when r has no live session, and when its
// user is gone.
func SessionPrincipal(r *http.Request, sessions Sessions, roles RoleFinder) (Principal, SessionUser, error) {
	su, err := sessions.SessionUser(r)
	if err != nil {
		return Principal{}, SessionUser{}, err
	}
	role, err := roles.ConsoleRole(r.Context(), su.Email)
	switch {
	case errors.Is(err, ErrNotFound):
		return Principal{}, SessionUser{}, ErrUnauthenticated
	case err != nil:
		return Principal{}, SessionUser{}, fmt.Errorf("find the role of %s: %w", su.Email, err)
	}
	return Principal{Kind: KindUser, UserID: su.Email, Name: su.Email, Role: role}, su, nil
}

// SessionMiddleware is Middleware that also takes a signed-in browser:
// a request without an Authorization header whose session cookie
// sessions knows gets the principal of its user (SessionPrincipal), whose
// role RequireRole then checks. A state-changing request by cookie must
// carry the session's CSRF token in CSRFHeader (403 forbidden without
// it), so that another site's page cannot make the browser act. Any
// other request goes to Middleware, which asks for a bearer token.
func SessionMiddleware(authn Authenticator, sessions Sessions, roles RoleFinder) func(http.Handler) http.Handler {
	bearer := Middleware(authn)
	return func(next http.Handler) http.Handler {
		byToken := bearer(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "" {
				byToken.ServeHTTP(w, r)
				return
			}
			p, su, err := SessionPrincipal(r, sessions, roles)
			switch {
			case errors.Is(err, ErrUnauthenticated):
				byToken.ServeHTTP(w, r)
				return
			case err != nil:
				writeError(w, r, &httpapi.Error{Status: http.StatusInternalServerError, Code: CodeInternal,
					Message: "the session could not be checked", Err: err})
				return
			}
			if !safeMethod(r.Method) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(su.CSRF)) != 1 {
				writeError(w, r, httpapi.NewError(http.StatusForbidden, CodeForbidden,
					"missing or wrong CSRF token: a request by session cookie that changes something sends it in the header "+CSRFHeader))
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
		})
	}
}

// safeMethod says whether a request with method m changes nothing.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// userLacksRole is the 403 message for a signed-in user without one of
// the roles need names.
func userLacksRole(p Principal, need string) string {
	if p.Role == "" {
		return "user " + p.UserID + " has no audit role; this API needs role " + need +
			" (an admin gives it: vigil admin user set-role " + p.UserID + " auditor)"
	}
	return "user " + p.UserID + " has role " + string(p.Role) + "; this API needs role " + need
}
