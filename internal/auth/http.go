package auth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The error codes of the audit APIs' error shape (httpapi.Audit).
const (
	CodeUnauthenticated = httpapi.CodeUnauthenticated // 401: a route reached without the credential check
	CodeCredentialReq   = httpapi.CodeCredentialReq   // 401: no credential was sent
	CodeUnknownToken    = httpapi.CodeUnknownToken    // 401: an unknown token
	CodeRevoked         = httpapi.CodeRevoked         // 403: a revoked credential; 409: revoking it again
	CodeForbidden       = httpapi.CodeForbidden       // 403: a credential without the role
	CodeInvalid         = httpapi.CodeInvalid         // 400: the message names the field
	CodeNotFound        = httpapi.CodeNotFound        // 404
	CodeExists          = httpapi.CodeExists          // 409
	CodeInUse           = "in_use"                    // 409: removing a user who owns devices
	CodeMethod          = httpapi.CodeMethod
	CodeInternal        = httpapi.CodeInternal // 500
)

// HTTPError answers 400 invalid_request, naming the field.
func (e *FieldError) HTTPError() *httpapi.Error {
	return httpapi.NewError(http.StatusBadRequest, CodeInvalid, e.Error())
}

// Authenticator tells who a bearer token belongs to; *Store is one.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (Principal, error)
}

type principalKey struct{}

// NewContext returns ctx carrying p, for handlers that authenticate by
// other means (ingest's TLS client certificates).
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal Middleware (or NewContext) put in ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// writeError answers the audit APIs' way; a store error is a 500.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	httpapi.Mapper{Family: httpapi.Audit}.WriteError(w, r, err)
}

// challenge is the WWW-Authenticate value of 401 answers.
const challenge = `Bearer realm="vigil"`

// Middleware authenticates each request by its "Authorization: Bearer
// TOKEN" header and puts the Principal in its context. It answers 401
// unauthenticated without a token or with an unknown one, and 403 revoked
// for a revoked one, without calling next.
func Middleware(authn Authenticator) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, ok := bearer(r.Header.Get("Authorization"))
			if !ok {
				writeError(w, r, httpapi.NewError(http.StatusUnauthorized, CodeCredentialReq, "credential required: send a token in the header Authorization: Bearer TOKEN").
					With("WWW-Authenticate", challenge))
				return
			}
			p, err := authn.Authenticate(r.Context(), token)
			switch {
			case errors.Is(err, ErrUnauthenticated):
				writeError(w, r, httpapi.NewError(http.StatusUnauthorized, CodeUnknownToken, "unknown token").
					With("WWW-Authenticate", challenge+`, error="invalid_token"`))
				return
			case errors.Is(err, ErrRevoked):
				writeError(w, r, httpapi.NewError(http.StatusForbidden, CodeRevoked, "token revoked"))
				return
			case err != nil:
				writeError(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(NewContext(r.Context(), p)))
		})
	}
}

// bearer returns the token of an Authorization header value "Bearer
// TOKEN" (the scheme in any case).
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// RequireRole lets through only requests whose principal is an API token
// or a signed-in user (SessionMiddleware) with one of roles: it answers
// 403 forbidden for devices and other roles, and 401 when no middleware
// authenticated the request.
func RequireRole(roles ...Role) func(http.Handler) http.Handler {
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	need := strings.Join(names, " or ")
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p, ok := FromContext(r.Context())
			switch {
			case !ok:
				writeError(w, r, httpapi.NewError(http.StatusUnauthorized, CodeUnauthenticated, "not authenticated").
					With("WWW-Authenticate", challenge))
				return
			case p.Kind == KindUser && !slices.Contains(roles, p.Role):
				writeError(w, r, httpapi.NewError(http.StatusForbidden, CodeForbidden, userLacksRole(p, need)))
				return
			case p.Kind != KindToken && p.Kind != KindUser:
				writeError(w, r, httpapi.NewError(http.StatusForbidden, CodeForbidden, "device credentials cannot use this API; it needs an API token with role "+need))
				return
			case !slices.Contains(roles, p.Role):
				writeError(w, r, httpapi.NewError(http.StatusForbidden, CodeForbidden, "token "+p.Name+" has role "+string(p.Role)+"; this API needs role "+need))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
