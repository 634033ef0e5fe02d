package contentapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// TokenRequest is POST /auth's body.
type TokenRequest struct {
	// Username is the user's email address.
	Username string `json:"username"`
	Password string `json:"password"`
	// Code is the second-factor code (TOTP or backup), for a user who
	// needs one.
	Code string `json:"code"`
}

// TokenResponse is POST /auth's answer.
type TokenResponse struct {
	// Token is a bearer token for the content API, 32 hex.
	Token     string     `json:"token"`
	ExpiresAt Time       `json:"expires_at"`
	User      SignedInAs `json:"user"`
}

// SignedInAs is the user a sign-in answers with.
type SignedInAs struct {
	Email   string `json:"email"`
	IsAdmin bool   `json:"is_admin"`
}

// SignInRequest is POST /auth/signin's body.
type SignInRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Code is the second-factor code (TOTP or backup), for a user who
	// needs one.
	Code string `json:"code"`
}

// SignInResponse is POST /auth/signin's answer; the session is in the
// cookie.
type SignInResponse struct {
	User SignedInAs `json:"user"`
	// CSRFToken goes in the X-CSRF-Token header (or the csrf_token field
	// of a form) of every state-changing request made with the cookie.
	CSRFToken string `json:"csrf_token"`
}

// badCredential is the 401 of a sign-in with a wrong email or password.
func badCredential() *httpapi.Error {
	return httpapi.NewError(http.StatusUnauthorized, httpapi.CodeUnknownToken, "Invalid email or password")
}

// authRoutes are the sign-in routes, outside /api: public, in the
// content API's error shape, never cached.
func (a *API) authRoutes() []httpapi.Route {
	route := func(rt httpapi.Route, f httpapi.HandlerFunc) httpapi.Route {
		rt.Method, rt.Access, rt.Family = http.MethodPost, httpapi.Public, httpapi.Content
		rt.Handler = httpapi.NoStore(withWriter(a.mapper.Handle(f)))
		return rt
	}
	return []httpapi.Route{
		route(httpapi.Route{Pattern: "/auth", Request: TokenRequest{}, Response: TokenResponse{},
			Summary: "Sign in with a password: a bearer token for the content API, valid 24 h"}, a.tokenSignIn),
		route(httpapi.Route{Pattern: "/auth/signin", Request: SignInRequest{}, Response: SignInResponse{},
			Summary: "Sign in with a password: a session cookie and its CSRF token"}, a.cookieSignIn),
		route(httpapi.Route{Pattern: "/auth/signout", Status: http.StatusNoContent,
			Summary: "Sign out: end the session (cookie, with its CSRF token) or the bearer token"}, a.signOut(false)),
		route(httpapi.Route{Pattern: "/auth/signout/all", Status: http.StatusNoContent,
			Summary: "Sign out everywhere: end every session and token of the signed-in user"}, a.signOut(true)),
	}
}

func (a *API) tokenSignIn(r *http.Request) (any, error) {
	var req TokenRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	u, authority, err := a.checkPassword(r, "username", req.Username, req.Password)
	if err != nil {
		return nil, err
	}
	if ans, err := a.secondFactor(r, u, req.Code); ans != nil || err != nil {
		return ans, err
	}
	// The app's device id has a token's form: 16 random bytes in hex.
	tok, now := token.New(), a.now().UTC().Truncate(time.Second)
	t := auth.AccessToken{Hash: token.Hash(tok), Email: u.Email, Device: token.New(),
		Scopes: firstParty(u, "", now).Scopes.String(), CreatedAt: now, ExpiresAt: now.Add(TokenLifetime), Authority: authority}
	if err := a.acc.store.IssueAccessToken(r.Context(), signinActor(r), t); err != nil {
		return nil, err
	}
	return TokenResponse{Token: tok, ExpiresAt: Time{t.ExpiresAt},
		User: SignedInAs{Email: u.Email, IsAdmin: u.Level == auth.LevelAdmin}}, nil
}

func (a *API) cookieSignIn(r *http.Request) (any, error) {
	var req SignInRequest
	if err := httpapi.DecodeJSONLax(r, &req, a.maxBody); err != nil {
		return nil, err
	}
	u, csrf, ans, err := a.sessionSignIn(responseWriter(r), r, req.Email, req.Password, req.Code)
	if ans != nil || err != nil {
		return ans, err
	}
	return SignInResponse{User: SignedInAs{Email: u.Email, IsAdmin: u.Level == auth.LevelAdmin}, CSRFToken: csrf}, nil
}

// sessionSignIn is the cookie sign-in of POST /auth/signin and the
// sign-in page: the password through the limiters, the second factor,
// then a session whose cookie goes on w and whose user.signin commits
// with it. A non-nil ans is the answer to give instead (a code is
// needed or was refused).
func (a *API) sessionSignIn(w http.ResponseWriter, r *http.Request, email, pw, code string) (u auth.User, csrf string, ans any, err error) {
	u, authority, err := a.checkPassword(r, "email", email, pw)
	if err != nil {
		return auth.User{}, "", nil, err
	}
	if ans, err := a.secondFactor(r, u, code); ans != nil || err != nil {
		return auth.User{}, "", ans, err
	}
	m := session.New(a.acc.sessCfg, sessionStore{s: a.acc.store, absolute: a.acc.sessCfg.Absolute,
		signin: ptr(signinActor(r)), authority: authority}, a.now)
	if _, csrf, err = m.Start(w, r, u.Email); err != nil {
		return auth.User{}, "", nil, err
	}
	return u, csrf, nil, nil
}

// signOut ends the request's session (cookie, CSRF token checked) or
// bearer token; with everywhere, every session and token of its user.
func (a *API) signOut(everywhere bool) httpapi.HandlerFunc {
	return func(r *http.Request) (any, error) {
		ctx := r.Context()
		if a.acc.hasSession(r) {
			p, err := a.acc.sessionPrincipal(r)
			if err != nil {
				return nil, err
			}
			w := responseWriter(r)
			if everywhere {
				if err := a.acc.sessions.EndAll(ctx, p.Email); err != nil {
					return nil, err
				}
			}
			return nil, a.acc.sessions.End(w, r)
		}
		tok, err := Credential(r)
		if err != nil {
			return nil, err
		}
		p, err := a.authenticate(r)
		if err != nil {
			return nil, err
		}
		if everywhere {
			return nil, a.acc.store.SignOutEverywhere(ctx, p.Email)
		}
		return nil, a.acc.store.DeleteAccessToken(ctx, token.Hash(tok))
	}
}

// checkPassword signs email in with pw, through the limiters: a refused
// attempt is 429 and a wrong email or password 401, each recorded as a
// user.password.error. field names the email's field for a 400. A user
// whose local password (if any) does not match is tried against the
// directory, when there is one, and provisioned on their first sign-in
// there. authority is who vouched for the user: empty for the local
// password, auth.AuthorityLDAP for the directory.
func (a *API) checkPassword(r *http.Request, field, email, pw string) (u auth.User, authority string, err error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return auth.User{}, "", BadArgs("Invalid " + field + ": required")
	}
	email, err = bodyEmail(email)
	if err != nil {
		return auth.User{}, "", BadArgs("Invalid " + field + ": " + err.Error())
	}
	if pw == "" {
		return auth.User{}, "", BadArgs("Invalid password: required")
	}
	ctx, ip := r.Context(), ClientIP(r)
	actor := signinActor(r)
	userKey, ipKey := ratelimit.Key(ip, email), ratelimit.Key(ip)
	du, di := a.acc.perUser.Check(userKey), a.acc.perIP.Check(ipKey)
	if !du.Allowed || !di.Allowed {
		if err := a.acc.store.SignInFailed(ctx, actor, email, true); err != nil {
			return auth.User{}, "", err
		}
		return auth.User{}, "", TooManyRequests("Too many failed sign-ins: try again later", max(du.RetryAfter, di.RetryAfter))
	}
	u, hash, err := a.acc.store.PasswordHash(ctx, email)
	if err != nil && !errors.Is(err, auth.ErrNotFound) {
		return auth.User{}, "", err
	}
	ok := false
	if hash == "" {
		_, _ = password.Verify(pw, a.acc.dummyHash) // as slow as a real check
	} else if ok, err = password.Verify(pw, hash); err != nil {
		return auth.User{}, "", err
	}
	if !ok {
		if u, ok, err = a.directorySignIn(ctx, email, pw); err != nil {
			return auth.User{}, "", err
		} else if ok {
			authority = auth.AuthorityLDAP
		}
	}
	if !ok {
		a.acc.perUser.Record(userKey)
		a.acc.perIP.Record(ipKey)
		if err := a.acc.store.SignInFailed(ctx, actor, email, false); err != nil {
			return auth.User{}, "", err
		}
		return auth.User{}, "", badCredential()
	}
	a.acc.perUser.Reset(userKey)
	if authority == "" && a.acc.hasher.NeedsRehash(hash) {
		// The configured cost changed since the hash was made: store
		// the password at the current one, unseen by the user.
		if err := a.acc.store.RehashPassword(ctx, email, hash, a.acc.hasher.Hash(pw)); err != nil {
			return auth.User{}, "", err
		}
	}
	return u, authority, nil
}

// writerKey is the context key of the ResponseWriter, for the handlers
// that set a cookie.
type writerKey struct{}

// withWriter puts the ResponseWriter in the request's context: headers
// a handler sets on it (Set-Cookie) go out with the mapper's answer.
func withWriter(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), writerKey{}, w)))
	})
}

// responseWriter is the ResponseWriter withWriter put in r's context.
func responseWriter(r *http.Request) http.ResponseWriter {
	return r.Context().Value(writerKey{}).(http.ResponseWriter)
}

// maxUserAgent bounds the User-Agent a sign-in event records.
const maxUserAgent = 512

// signinActor is the actor of a sign-in: the client's ip and User-Agent
// (cut to maxUserAgent bytes on a character boundary).
func signinActor(r *http.Request) auth.Actor {
	ua := r.UserAgent()
	if len(ua) > maxUserAgent {
		ua = strings.ToValidUTF8(ua[:maxUserAgent], "")
	}
	return auth.Actor{IP: ClientIP(r), UserAgent: ua}
}

func ptr[T any](v T) *T { return &v }
