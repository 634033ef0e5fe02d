package contentapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/internal/auth"
)

// SessionUser implements auth.Sessions for the other parts of the server
// that serve signed-in browsers (the web console, the audit APIs it
// reads): the user of r's live session cookie, with the session's CSRF
// token. A request without one (no cookie, an unknown or expired one, or
// an API without accounts) is auth.ErrUnauthenticated. Like every use of
// a session, it counts as activity that keeps the session alive.
func (a *API) SessionUser(r *http.Request) (auth.SessionUser, error) {
	if a.acc == nil {
		return auth.SessionUser{}, auth.ErrUnauthenticated
	}
	s, err := a.acc.sessions.Load(r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return auth.SessionUser{}, auth.ErrUnauthenticated
	case err != nil:
		return auth.SessionUser{}, fmt.Errorf("load session: %w", err)
	}
	csrf, _ := a.acc.sessions.CSRFToken(r) // Load found the cookie
	return auth.SessionUser{Email: s.Email, CSRF: csrf}, nil
}
