package console

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// cookieSessions knows the sessions whose cookie "s" holds one of its
// keys; "broken" fails as a database would.
type cookieSessions map[string]auth.SessionUser

func (cs cookieSessions) SessionUser(r *http.Request) (auth.SessionUser, error) {
	c, err := r.Cookie("s")
	if err != nil {
		return auth.SessionUser{}, auth.ErrUnauthenticated
	}
	if c.Value == "broken" {
		return auth.SessionUser{}, errors.New("database is locked")
	}
	su, ok := cs[c.Value]
	if !ok {
		return auth.SessionUser{}, auth.ErrUnauthenticated
	}
	return su, nil
}

type roleMap map[string]auth.Role

func (m roleMap) ConsoleRole(_ context.Context, email string) (auth.Role, error) {
	r, ok := m[email]
	if !ok {
		return "", auth.ErrNotFound
	}
	return r, nil
}

// The sessions and roles of the tests. Mallory's address is one no real
// account has: it checks that the pages escape what they show.
const mallory = `m"><script>alert(1)</script>@example.com`

var (
	testSessions = cookieSessions{
		"root":    {Email: "root@example.com", CSRF: "csrf-root"},
		"carol":   {Email: "carol@example.com", CSRF: "csrf-carol"},
		"dave":    {Email: "dave@example.com", CSRF: "csrf-dave"},
		"mallory": {Email: mallory, CSRF: "csrf-mallory"},
		"gone":    {Email: "gone@example.com", CSRF: "csrf-gone"},
	}
	testRoles = roleMap{"root@example.com": auth.RoleAdmin, "carol@example.com": auth.RoleAuditor, "dave@example.com": "", mallory: ""}
)

// newServer serves the console's routes as the server mounts them.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	c, err := New(Config{Sessions: testSessions, Roles: testRoles})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	httpapi.Mount(r, c.Routes(), func(httpapi.Access) []func(http.Handler) http.Handler { return nil })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

// get requests path with the session cookie (none when empty), not
// following redirects.
func get(t *testing.T, srv *httptest.Server, path, cookie string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "s", Value: cookie})
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	return resp, b.String()
}

func TestPage(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, path, cookie string
		status             int
		location           string   // for redirects
		contains, excludes []string // in the body
	}{
		{name: "NoSession", path: "/", status: http.StatusSeeOther, location: "/signin?return_to=%2F"},
		{name: "NoSessionKeepsTheQuery", path: "/?range=7d&refresh=1m", status: http.StatusSeeOther,
			location: "/signin?return_to=%2F%3Frange%3D7d%26refresh%3D1m"},
		{name: "UnknownSession", path: "/", cookie: "nobody", status: http.StatusSeeOther, location: "/signin?return_to=%2F"},
		{name: "UserGone", path: "/", cookie: "gone", status: http.StatusSeeOther, location: "/signin?return_to=%2F"},
		{name: "SessionStoreFails", path: "/", cookie: "broken", status: http.StatusInternalServerError,
			contains: []string{"cannot check your session"}},
		{name: "PlainUser", path: "/", cookie: "dave", status: http.StatusForbidden,
			contains: []string{"No access to the console", "dave@example.com", "vigil admin user set-role dave@example.com auditor", `href="/signin?return_to=%2F"`},
			excludes: []string{"app.js", "csrf-dave"}},
		{name: "PlainUserEscaped", path: "/", cookie: "mallory", status: http.StatusForbidden,
			contains: []string{"m&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;@example.com"}, excludes: []string{"<script>alert(1)"}},
		{name: "Auditor", path: "/", cookie: "carol", status: http.StatusOK,
			contains: []string{`data-view="overview"`, `data-user="carol@example.com"`, `data-role="auditor"`, `data-csrf="csrf-carol"`,
				`<script type="module" src="/console/assets/app.js"></script>`, `aria-current="page"`}},
		{name: "Admin", path: "/", cookie: "root", status: http.StatusOK,
			contains: []string{`data-role="admin"`, `data-csrf="csrf-root"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, srv, tt.path, tt.cookie)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d:\n%s", resp.StatusCode, tt.status, body)
			}
			if got := resp.Header.Get("Location"); got != tt.location {
				t.Errorf("Location %q, want %q", got, tt.location)
			}
			if got := resp.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("the page lacks %q:\n%s", s, body)
				}
			}
			for _, s := range tt.excludes {
				if strings.Contains(body, s) {
					t.Errorf("the page holds %q:\n%s", s, body)
				}
			}
		})
	}
}

// TestSecurityHeaders checks every kind of console answer: pages,
// refusals, redirects, files and missing files.
func TestSecurityHeaders(t *testing.T) {
	srv := newServer(t)
	want := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
	}
	for _, c := range []struct{ path, cookie string }{
		{"/", "root"}, {"/", "dave"}, {"/", ""}, {"/", "broken"},
		{AssetsPath + "/app.js", ""}, {"/favicon.ico", ""}, {AssetsPath + "/vendor/uplot/uPlot.min.css", "carol"}, {AssetsPath + "/nosuch.js", ""},
	} {
		resp, _ := get(t, srv, c.path, c.cookie)
		got := map[string]string{}
		for k := range want {
			got[k] = resp.Header.Get(k)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("GET %s (%q): headers (-want +got):\n%s", c.path, c.cookie, diff)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("GET %s (%q): CSP %q lacks %q", c.path, c.cookie, csp, d)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: CSP %q allows inline code", c.path, csp)
		}
	}
}

func TestAssets(t *testing.T) {
	srv := newServer(t)
	web, err := fs.Sub(embedded, "web")
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", "": "text/plain; charset=utf-8"}
	n := 0
	err = fs.WalkDir(web, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		resp, body := get(t, srv, AssetsPath+"/"+name, "")
		if strings.HasSuffix(name, ".html") {
			// Templates are the server's, not files to fetch.
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", name, resp.StatusCode)
			}
			return nil
		}
		n++
		if resp.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s: %d, %d bytes", name, resp.StatusCode, len(body))
			return nil
		}
		ext := name[strings.LastIndexByte(name, '/')+1:]
		if i := strings.LastIndexByte(ext, '.'); i >= 0 {
			ext = ext[i:]
		} else {
			ext = ""
		}
		if want, ok := types[ext]; ok && resp.Header.Get("Content-Type") != want {
			t.Errorf("GET %s: Content-Type %q, want %q", name, resp.Header.Get("Content-Type"), want)
		}
		etag := resp.Header.Get("ETag")
		if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: ETag %q, Cache-Control %q", name, etag, resp.Header.Get("Cache-Control"))
		}
		if again, _ := get(t, srv, AssetsPath+"/"+name, "", "If-None-Match", etag); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s If-None-Match: %d, want 304", name, again.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 6 {
		t.Errorf("served %d files; the console has more", n)
	}
	for _, path := range []string{"/nosuch.js", "/vendor", "/vendor/", "/views/../app.js", "//app.js", "/./app.js", ""} {
		if resp, _ := get(t, srv, AssetsPath+path, ""); resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMovedPermanently {
			t.Errorf("GET %s%s: %d, want 404", AssetsPath, path, resp.StatusCode)
		}
	}
}

// FuzzAssetPath checks that only the embedded files are ever served,
// whatever the path.
func FuzzAssetPath(f *testing.F) {
	for _, s := range []string{"app.js", "vendor/uplot/uPlot.esm.js", "../console.go", "shell.html", "views//overview.js", "%2e%2e/x", ""} {
		f.Add(s)
	}
	c, err := New(Config{Sessions: testSessions, Roles: testRoles})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, name string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.Path = AssetsPath + "/" + name
		rec := httptest.NewRecorder()
		c.serveAsset(rec, req)
		_, known := c.assets[name]
		if (rec.Code == http.StatusOK) != known {
			t.Errorf("GET %q: %d; embedded: %v", name, rec.Code, known)
		}
	})
}

// TestVendored checks the vendored files against the sums vendor.txt
// pins (.ci/check-vendor checks those against the packages).
func TestVendored(t *testing.T) {
	f, err := os.Open("vendor.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files, packages := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch {
		case fields[0] == "package" && len(fields) == 4:
			packages++
		case fields[0] == "file" && len(fields) == 4:
			files++
			b, err := fs.ReadFile(embedded, "web/"+fields[2])
			if err != nil {
				t.Errorf("vendored %s: %v", fields[2], err)
				continue
			}
			sum := sha256.Sum256(b)
			if got := hex.EncodeToString(sum[:]); got != fields[3] {
				t.Errorf("web/%s has SHA-256 %s; vendor.txt pins %s", fields[2], got, fields[3])
			}
		default:
			t.Errorf("vendor.txt: cannot read %q", sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if packages == 0 || files == 0 {
		t.Errorf("vendor.txt lists %d packages, %d files", packages, files)
	}
}
