package contentapi

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// Principal is who a token speaks for.
type Principal struct {
	// Email is the user who authorized the token (lower-cased).
	Email string
	// Admin says whether the user is an administrator of the
	// organization.
	Admin bool
	// Scopes are what the token may do.
	Scopes Scopes
	// Device is the device id (32 hex) of the app that holds the token;
	// the Caller's device in audit events.
	Device string
	// ActingAs is the authority a token issued with organization.admin
	// acts with (the organization's administrator id, ":" and hex, as
	// the reference's privileged Caller shows); the Caller's acting_as.
	ActingAs string
	// Expires is when the token stops working; zero for never.
	Expires time.Time
}

// Verifier finds the principal of a token (32 lower-case hex, checked
// before it is asked). A token it does not know, or no longer honours, is
// ErrUnknownToken; any other error is a server error.
type Verifier interface {
	Verify(ctx context.Context, token string) (Principal, error)
}

// ErrUnknownToken is a token the Verifier does not know.
var ErrUnknownToken = errors.New("unknown token")

// invalidToken is the challenge of a 401 for a token that was sent.
const invalidToken = `Bearer realm="` + httpapi.Realm + `", error="invalid_token"`

// Credential reads a request's token from its Authorization header
// (Bearer, the scheme in any case) or its token query parameter; an
// empty header or parameter is none. No token is a 401 without an error
// in the challenge; both ways at once a 400; one that is not 32
// lower-case hex a 401 invalid_token.
func Credential(r *http.Request) (string, error) {
	header := strings.TrimSpace(r.Header.Get("Authorization"))
	query := r.URL.Query().Get("token")
	switch {
	case header != "" && query != "":
		return "", BadArgs("Give the token in the Authorization header or the token parameter, not both")
	case header == "" && query == "":
		return "", httpapi.NewError(http.StatusUnauthorized, httpapi.CodeCredentialReq, "Missing access token")
	case query != "":
		if !isToken(query) {
			return "", malformedToken()
		}
		return query, nil
	}
	return ParseBearer(header)
}

// ParseBearer reads the token of an Authorization header value:
// "Bearer <32 lower-case hex>", with the scheme in any case.
func ParseBearer(h string) (string, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || !isToken(tok) {
		return "", malformedToken()
	}
	return tok, nil
}

func malformedToken() *httpapi.Error {
	return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Malformed access token").
		With("WWW-Authenticate", invalidToken)
}

// isToken says whether s has a token's form: 32 lower-case hex.
func isToken(s string) bool { return len(s) == 32 && isHex(s) }

// authenticate returns the principal of r's token, or of its session
// cookie when it carries no token (a state-changing request then needs
// the session's CSRF token), or the answer for why there is none.
func (a *API) authenticate(r *http.Request) (Principal, error) {
	if a.acc != nil && a.acc.hasSession(r) {
		return a.acc.sessionPrincipal(r)
	}
	tok, err := Credential(r)
	if err != nil {
		return Principal{}, err
	}
	if a.verifier == nil {
		return Principal{}, unknownToken()
	}
	p, err := a.verifier.Verify(r.Context(), tok)
	switch {
	case errors.Is(err, ErrUnknownToken):
		return Principal{}, unknownToken()
	case err != nil:
		// The tokens' database did not answer: the client may retry.
		e := Unavailable("Cannot check the access token now; try again later", 5*time.Second)
		e.Err = err
		return Principal{}, e
	case !p.Expires.IsZero() && !a.now().Before(p.Expires):
		return Principal{}, httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Access token expired").
			With("WWW-Authenticate", invalidToken+`, error_description="the token expired"`)
	}
	return p, nil
}

func unknownToken() *httpapi.Error {
	return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Invalid access token").
		With("WWW-Authenticate", invalidToken)
}

// authorize checks that p may call rt: one of its scopes, and for an
// admin route organization.admin held by an administrator.
func authorize(rt Route, p Principal) error {
	need := rt.Scopes
	if rt.Admin {
		need = []string{ScopeOrgAdmin}
	}
	if len(need) > 0 && !slices.ContainsFunc(need, p.Scopes.Has) {
		return lacksScope(need)
	}
	if rt.Admin && !p.Admin {
		return Forbidden("Organization administrator required")
	}
	return nil
}

// lacksScope is the 403 of a token without any of the scopes.
func lacksScope(scopes []string) *httpapi.Error {
	return Forbidden("Token lacks required scope").With("WWW-Authenticate",
		`Bearer realm="`+httpapi.Realm+`", error="insufficient_scope", scope="`+strings.Join(scopes, " ")+`"`)
}
