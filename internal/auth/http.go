package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// The error codes of the audit APIs' error shape.
const (
	CodeUnauthenticated = "unauthenticated" // 401: no credential, or an unknown one
	CodeRevoked         = "revoked"         // 403: a revoked credential; 409: revoking it again
	CodeForbidden       = "forbidden"       // 403: a credential without the role
	CodeInvalid         = "invalid_request" // 400: the message names the field
	CodeNotFound        = "not_found"       // 404
	CodeExists          = "exists"          // 409
	CodeMethod          = "method_not_allowed"
	CodeInternal        = "internal" // 500
)

// errorBody is the one error shape of the audit APIs.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WriteError writes the audit APIs' one error shape,
// {"error": {"code": "...", "message": "..."}}, with status.
func WriteError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, errorBody{Error: errorDetail{Code: code, Message: message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
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
				w.Header().Set("WWW-Authenticate", challenge)
				WriteError(w, http.StatusUnauthorized, CodeUnauthenticated, "send a token in the header Authorization: Bearer TOKEN")
				return
			}
			p, err := authn.Authenticate(r.Context(), token)
			switch {
			case errors.Is(err, ErrUnauthenticated):
				w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
				WriteError(w, http.StatusUnauthorized, CodeUnauthenticated, "unknown token")
				return
			case errors.Is(err, ErrRevoked):
				WriteError(w, http.StatusForbidden, CodeRevoked, "the token was revoked")
				return
			case err != nil:
				WriteError(w, http.StatusInternalServerError, CodeInternal, err.Error())
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
// with one of roles: it answers 403 forbidden for devices and other roles,
// and 401 when no middleware authenticated the request.
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
				w.Header().Set("WWW-Authenticate", challenge)
				WriteError(w, http.StatusUnauthorized, CodeUnauthenticated, "not authenticated")
				return
			case p.Kind != KindToken:
				WriteError(w, http.StatusForbidden, CodeForbidden, "device credentials cannot use this API; it needs an API token with role "+need)
				return
			case !slices.Contains(roles, p.Role):
				WriteError(w, http.StatusForbidden, CodeForbidden, "token "+p.Name+" has role "+string(p.Role)+"; this API needs role "+need)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
