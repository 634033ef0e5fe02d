package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// AssetsPath is where the console's static files are served.
const AssetsPath = "/console/assets"

// DefaultSignInPath is the content API's web sign-in page.
const DefaultSignInPath = "/signin"

//go:embed web
var embedded embed.FS

// View is one page of the console: the shell served at Path, which the
// browser fills with the ES module of Name (web/views/NAME.js).
type View struct {
	Name  string
	Path  string
	Title string
}

// Views are the console's pages, in the navigation's order.
var Views = []View{
	{Name: "overview", Path: "/", Title: "Overview"},
}

// Config is what New needs: who is signed in, and as what.
type Config struct {
	// Sessions finds the user of a browser's session cookie.
	Sessions auth.Sessions
	// Roles finds the role that user acts with.
	Roles auth.RoleFinder
	// SignInPath is the sign-in page a browser without a session is sent
	// to, with return_to; DefaultSignInPath when empty.
	SignInPath string
	Logger     *slog.Logger
}

// Console serves the console's pages and assets.
type Console struct {
	cfg    Config
	web    fs.FS
	assets map[string]asset
	shell  *template.Template
	notice *template.Template
}

// asset is one embedded file, ready to serve.
type asset struct {
	body []byte
	etag string
}

// New returns the console over cfg. It reads the embedded files once.
func New(cfg Config) (*Console, error) {
	if cfg.Sessions == nil || cfg.Roles == nil {
		return nil, errors.New("console: Sessions and Roles are required")
	}
	if cfg.SignInPath == "" {
		cfg.SignInPath = DefaultSignInPath
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	web, err := fs.Sub(embedded, "web")
	if err != nil {
		return nil, fmt.Errorf("console assets: %w", err)
	}
	c := &Console{cfg: cfg, web: web, assets: map[string]asset{}}
	err = fs.WalkDir(web, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(name, ".html") {
			return err
		}
		b, err := fs.ReadFile(web, name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		c.assets[name] = asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read console assets: %w", err)
	}
	if _, ok := c.assets[faviconAsset]; !ok {
		return nil, errors.New("console assets: no " + faviconAsset)
	}
	if c.shell, err = template.ParseFS(web, "shell.html"); err != nil {
		return nil, fmt.Errorf("parse console shell: %w", err)
	}
	if c.notice, err = template.ParseFS(web, "notice.html"); err != nil {
		return nil, fmt.Errorf("parse console notice: %w", err)
	}
	return c, nil
}

// Routes returns the console's routes: a page per view, and the static
// files under AssetsPath. They are public to the router: a page checks
// the session itself, so that a browser without one is sent to sign in
// rather than answered 401; the assets hold no data. Their family is
// Content's, which lets unknown query parameters through: the pages'
// state (range, from, to, refresh and each view's own) is read by the
// scripts, and a stale link should open the page, not an error.
func (c *Console) Routes() []httpapi.Route {
	out := make([]httpapi.Route, 0, len(Views)+1)
	for _, v := range Views {
		out = append(out, httpapi.Route{Method: http.MethodGet, Pattern: v.Path, Access: httpapi.Public, Family: httpapi.Content,
			Summary: "The web console: " + v.Title, Handler: securityHeaders(c.page(v))})
	}
	return append(out,
		httpapi.Route{Method: http.MethodGet, Pattern: AssetsPath + "/*", Access: httpapi.Public, Family: httpapi.Content,
			Summary: "The web console's static files", Handler: securityHeaders(http.HandlerFunc(c.serveAsset))},
		// Browsers ask for it on every page of the server, the sign-in
		// page's included.
		httpapi.Route{Method: http.MethodGet, Pattern: "/favicon.ico", Access: httpapi.Public, Family: httpapi.Content,
			Summary: "The server's icon", Handler: securityHeaders(http.HandlerFunc(c.serveFavicon))})
}

// faviconAsset is the icon served at /favicon.ico.
const faviconAsset = "favicon.svg"

func (c *Console) serveFavicon(w http.ResponseWriter, r *http.Request) {
	a := c.assets[faviconAsset]
	w.Header().Set("Cache-Control", "max-age=86400")
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, faviconAsset, time.Time{}, bytes.NewReader(a.body))
}

// contentSecurityPolicy allows the console's own scripts, styles and API
// calls, and nothing else: no inline script, no other origin, no
// framing.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders puts the console's security headers on every answer of
// next: no framing by another site (CSP frame-ancestors and
// X-Frame-Options), no content sniffing, no referrer to other origins.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// shellData is what the shell's template shows.
type shellData struct {
	View   View
	Views  []View
	Email  string
	Role   auth.Role
	CSRF   string
	Assets string
}

// noticeData is what the notice page (refusals, failures) shows.
type noticeData struct {
	Title, Message string
	// Email is the signed-in user, when there is one.
	Email string
	// Command is a command line that would help, shown as code.
	Command    string
	SignInPath string
}

// page serves view v to a signed-in user with a role; it sends a browser
// without a session to sign in, and refuses a user without a role.
func (c *Console) page(v View) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store") // the page holds the CSRF token
		p, su, err := auth.SessionPrincipal(r, c.cfg.Sessions, c.cfg.Roles)
		switch {
		case errors.Is(err, auth.ErrUnauthenticated):
			http.Redirect(w, r, c.cfg.SignInPath+"?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		case err != nil:
			c.cfg.Logger.Error("console session check", "err", err)
			c.writeNotice(w, http.StatusInternalServerError, noticeData{Title: "The console cannot check your session",
				Message: "The server could not read its sessions. Try again in a moment."})
			return
		case p.Role == "":
			c.writeNotice(w, http.StatusForbidden, noticeData{Title: "No access to the console", Email: p.UserID,
				Message: "Your account has no audit role. The console is for organization administrators and for users an administrator made auditors; ask one to give you the role:",
				Command: "vigil admin user set-role " + p.UserID + " auditor"})
			return
		}
		var b bytes.Buffer
		if err := c.shell.Execute(&b, shellData{View: v, Views: Views, Email: p.UserID, Role: p.Role, CSRF: su.CSRF, Assets: AssetsPath}); err != nil {
			c.cfg.Logger.Error("render the console shell", "err", err)
			http.Error(w, "the console page could not be rendered", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(b.Bytes()) // the client went away
	})
}

func (c *Console) writeNotice(w http.ResponseWriter, status int, d noticeData) {
	d.SignInPath = c.cfg.SignInPath
	var b bytes.Buffer
	if err := c.notice.Execute(&b, d); err != nil {
		c.cfg.Logger.Error("render a console notice", "err", err)
		http.Error(w, d.Title, status)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// serveAsset serves one embedded file; its ETag (a hash of its bytes)
// lets a browser keep it and revalidate.
func (c *Console) serveAsset(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, AssetsPath+"/")
	a, ok := c.assets[name]
	if !ok || path.Clean(name) != name {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}
