package contentapi

import (
	"crypto/subtle"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"github.com/vigilaudit/vigil/contentapi/session"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The sign-in page (GET and POST /signin) signs a browser in with the
// checks of POST /auth/signin. Before there is a session its form is
// protected by a pre-session cookie: the form carries the CSRF token of
// the cookie's value, which a cross-site page can neither read nor set.
const (
	// signinPath is the page's path, and the pre-session cookie's.
	signinPath = "/signin"
	// preSessionCookie is the pre-session cookie's name.
	preSessionCookie = "vigil_signin"
	// preSessionAge is how long a sign-in form stays usable, in seconds.
	preSessionAge = 3600
	// maxReturnTo caps the return_to parameter.
	maxReturnTo = 4096
)

// signinPageData is what the sign-in page's template shows.
type signinPageData struct {
	Title, Message, Error string
	// SignedIn is the email of the browser's session, if any.
	SignedIn string
	// Form is false on a page without the form (a refused post).
	Form      bool
	Email     string
	NeedsCode bool
	ReturnTo  string
	CSRF      string
}

var signinTemplate = template.Must(template.New("signin").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body>
<h1>{{.Title}}</h1>
{{if .SignedIn}}<p>You are signed in as <strong>{{.SignedIn}}</strong>.</p>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
{{if .Form}}<form method="post" action="/signin">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
{{if .ReturnTo}}<input type="hidden" name="return_to" value="{{.ReturnTo}}">
{{end}}<p><label>Email <input type="email" name="email" value="{{.Email}}" autocomplete="username" required></label></p>
<p><label>Password <input type="password" name="password" autocomplete="current-password" required></label></p>
{{if .NeedsCode}}<p><label>Two-factor code <input type="text" name="code" inputmode="numeric" autocomplete="one-time-code" required></label></p>
{{end}}<p><button type="submit">Sign in</button></p>
</form>{{end}}
</body></html>
`))

// signinRoutes are the sign-in page's routes: public, never cached.
func (a *API) signinRoutes() []httpapi.Route {
	route := func(method, summary string, h http.HandlerFunc) httpapi.Route {
		return httpapi.Route{Method: method, Pattern: signinPath, Summary: summary, Access: httpapi.Public,
			Family: httpapi.Content, Handler: httpapi.NoStore(h)}
	}
	return []httpapi.Route{
		route(http.MethodGet, "The sign-in page: a form for email, password and, when needed, a two-factor code", a.signinPage),
		route(http.MethodPost, "The sign-in form's answer: sets the session cookie and redirects (303) to return_to", a.signinPost),
	}
}

// validReturnTo reports whether s may be redirected to after a sign-in:
// a path on this server (beginning with a single "/"), never another
// origin ("//host", "/\host", a scheme) nor a control character.
func validReturnTo(s string) bool {
	if len(s) > maxReturnTo || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.HasPrefix(s, `/\`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f || s[i] == '\\' {
			return false
		}
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" && u.User == nil && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(u.Path, "//")
}

// returnTo is r's return_to parameter if it is valid, else "".
func returnTo(v string) string {
	if validReturnTo(v) {
		return v
	}
	return ""
}

// preSession is r's pre-session cookie value, if it has one of the
// right form.
func preSession(r *http.Request) (string, bool) {
	for _, c := range r.CookiesNamed(preSessionCookie) {
		if token.Valid(c.Value) {
			return c.Value, true
		}
	}
	return "", false
}

func preSessionCookieOf(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: preSessionCookie, Value: value, Path: signinPath, MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode}
}

// formCSRF is the form's CSRF token for r, setting a new pre-session
// cookie on w when r has none.
func formCSRF(w http.ResponseWriter, r *http.Request) string {
	id, ok := preSession(r)
	if !ok {
		id = token.New()
		http.SetCookie(w, preSessionCookieOf(r, id, preSessionAge))
	}
	return session.CSRFToken(id)
}

// signedInAs is the email of r's live session, or "".
func (a *API) signedInAs(r *http.Request) string {
	s, err := a.acc.sessions.Load(r)
	if err != nil {
		return ""
	}
	return s.Email
}

func writeSigninPage(w http.ResponseWriter, status int, d signinPageData) {
	if d.Title == "" {
		d.Title = "Sign in"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'")
	w.WriteHeader(status)
	_ = signinTemplate.Execute(w, d) // the client went away
}

func (a *API) signinPage(w http.ResponseWriter, r *http.Request) {
	writeSigninPage(w, http.StatusOK, signinPageData{SignedIn: a.signedInAs(r), Form: true,
		ReturnTo: returnTo(r.URL.Query().Get("return_to")), CSRF: formCSRF(w, r)})
}

func (a *API) signinPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, a.maxBody)
	if err := r.ParseForm(); err != nil {
		writeSigninPage(w, http.StatusBadRequest, signinPageData{Error: "The form cannot be read."})
		return
	}
	f := r.PostForm
	id, ok := preSession(r)
	if !ok || subtle.ConstantTimeCompare([]byte(f.Get(session.CSRFField)), []byte(session.CSRFToken(id))) != 1 {
		writeSigninPage(w, http.StatusForbidden, signinPageData{Error: "The form's CSRF token is missing or wrong.",
			Message: "Open the sign-in page again and sign in from there."})
		return
	}
	d := signinPageData{Form: true, Email: strings.TrimSpace(f.Get("email")), NeedsCode: f.Get("code") != "",
		ReturnTo: returnTo(f.Get("return_to")), CSRF: session.CSRFToken(id)}
	_, _, ans, err := a.sessionSignIn(w, r, f.Get("email"), f.Get("password"), f.Get("code"))
	if ans != nil {
		resp, _ := ans.(httpapi.Response)
		body, _ := resp.Body.(twoFactorBody)
		d.NeedsCode, d.Error = true, body.Message
		if f.Get("code") == "" {
			d.Error, d.Message = "", "Enter your password again with the code of your authenticator app (or a backup code)."
		}
		writeSigninPage(w, http.StatusUnauthorized, d)
		return
	}
	if err != nil {
		var he *httpapi.Error
		if !errors.As(err, &he) {
			a.mapper.WriteError(w, r, err)
			return
		}
		for k, vs := range he.Header {
			if k == "Retry-After" {
				w.Header()[k] = vs
			}
		}
		d.Error = he.Message
		writeSigninPage(w, he.Status, d)
		return
	}
	http.SetCookie(w, preSessionCookieOf(r, "", -1))
	to := d.ReturnTo
	if to == "" {
		to = signinPath
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}
