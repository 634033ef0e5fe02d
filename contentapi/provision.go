package contentapi

import (
	"context"
	"errors"
	"time"

	"github.com/vigilaudit/vigil/contentapi/ldapauth"
	"github.com/vigilaudit/vigil/internal/auth"
)

// Directory signs users in against an external directory: ldapauth's
// Directory (content.ldap). Authenticate refuses a bad credential with
// ldapauth.ErrInvalidCredentials.
type Directory interface {
	Authenticate(email, password string) (ldapauth.Entry, error)
}

// directoryRetry is the Retry-After of a sign-in the directory could
// not answer.
const directoryRetry = 30 * time.Second

// directorySignIn signs email in with pw against the directory, when
// there is one, and provisions the user on their first sign-in
// (user.org.provision). ok is false for no directory or a refused
// credential; a directory that cannot answer is 503.
func (a *API) directorySignIn(ctx context.Context, email, pw string) (u auth.User, ok bool, err error) {
	if a.directory == nil {
		return auth.User{}, false, nil
	}
	entry, err := a.directory.Authenticate(email, pw)
	switch {
	case errors.Is(err, ldapauth.ErrInvalidCredentials):
		return auth.User{}, false, nil
	case err != nil:
		e := Unavailable("The directory cannot check the password: try again later", directoryRetry)
		e.Err = err
		return auth.User{}, false, e
	}
	u, _, err = a.acc.store.Provision(ctx, auth.Vouched{Authority: auth.AuthorityLDAP, Subject: entry.DN,
		Email: email, FirstName: entry.FirstName, LastName: entry.LastName, Admin: entry.Admin})
	if err != nil {
		return auth.User{}, false, err
	}
	return u, true, nil
}
