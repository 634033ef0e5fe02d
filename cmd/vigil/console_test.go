package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// consoleServer is a running vigil serve with the console's users: an
// organization administrator, an auditor and a plain user, each signed
// in with a browser session; an admin API token and a device token.
type consoleServer struct {
	base, dataDir     string
	adminToken, token string // admin API token; device token
	sessions          map[string]browserSession
}

// browserSession is a signed-in browser: its session cookie and CSRF
// token.
type browserSession struct {
	cookie *http.Cookie
	csrf   string
}

// The console test users and their passwords.
var consoleUsers = []struct{ email, password, role string }{
	{"root@example.com", "root-Pw-4821", "admin"},
	{"carol@example.com", "carol-Pw-4821", "auditor"},
	{"dave@example.com", "dave-Pw-4821", "user"},
}

func startConsoleServer(t *testing.T, configYAML string) *consoleServer {
	t.Helper()
	dir := t.TempDir()
	cs := &consoleServer{dataDir: filepath.Join(dir, "data"), sessions: map[string]browserSession{}}
	admin := func(stdin string, args ...string) string {
		t.Helper()
		code, out, stderr := runWithStdin(t, stdin, append([]string{"admin", "--data-dir", cs.dataDir}, args...)...)
		if code != 0 {
			t.Fatalf("admin %v: %s %s", args, out, stderr)
		}
		return out
	}
	for _, u := range consoleUsers {
		args := []string{"user", "add", "--email", u.email, "--password-stdin"}
		if u.role == "admin" {
			args = append(args, "--admin")
		}
		admin(u.password, args...)
		if u.role == "auditor" {
			admin("", "user", "set-role", u.email, "auditor")
		}
	}
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(admin("", "token", "add", "--role", "admin", "--name", "ops")), &tok); err != nil {
		t.Fatal(err)
	}
	cs.adminToken = tok.Token
	if err := json.Unmarshal([]byte(admin("", "device", "add", "--user", "dev@example.com", "--name", "laptop")), &tok); err != nil {
		t.Fatal(err)
	}
	cs.token = tok.Token
	args := []string{"--data-dir", cs.dataDir, "--listen", "127.0.0.1:0"}
	if configYAML != "" {
		config := filepath.Join(dir, "vigil.yaml")
		if err := os.WriteFile(config, []byte(configYAML), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", config)
	}
	addr, _, _ := startServe(t, args...)
	cs.base = "http://" + addr
	for _, u := range consoleUsers {
		cs.sessions[u.role] = cs.signIn(t, u.email, u.password)
	}
	return cs
}

// signIn signs a browser in through the content API's cookie sign-in.
func (cs *consoleServer) signIn(t *testing.T, email, password string) browserSession {
	t.Helper()
	body := fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)
	resp, err := http.Post(cs.base+"/auth/signin", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("sign in %s: %d %v", email, resp.StatusCode, err)
	}
	for _, c := range resp.Cookies() {
		if c.Name == "vigil_session" {
			return browserSession{cookie: c, csrf: out.CSRF}
		}
	}
	t.Fatalf("sign in %s: no session cookie", email)
	return browserSession{}
}

// do sends a request as who: "" (nothing), a role of consoleUsers (its
// session cookie, with its CSRF token unless noCSRF), or "token" (the
// admin API token). It does not follow redirects, and reads at most
// 16 MiB of the answer, and nothing of the live tail, which never ends.
func (cs *consoleServer) do(t *testing.T, method, path, who string, noCSRF bool, body string) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, cs.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	switch who {
	case "":
	case "token":
		req.Header.Set("Authorization", "Bearer "+cs.adminToken)
	default:
		s, ok := cs.sessions[who]
		if !ok {
			t.Fatalf("no session %q", who)
		}
		req.AddCookie(s.cookie)
		if !noCSRF {
			req.Header.Set("X-CSRF-Token", s.csrf)
		}
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var b []byte
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp, "" // the status is the answer; the stream goes on
	}
	b, _ = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	return resp, string(b)
}

// TestConsole_RouteRoles is the route x role table of the web console:
// every console route and every audit API route that the console calls,
// with no session, and signed in as a plain user, an auditor and an
// admin. A session that changes something sends its CSRF token, as the
// console's pages do. Every Read and Admin route under /audit/v1 that
// takes a session (all but the admin API) must be in the table.
func TestConsole_RouteRoles(t *testing.T) {
	recv := newLineReceiver(t, nil)
	cs := startConsoleServer(t, fmt.Sprintf("sinks:\n  - {name: siem, tcp: {address: %q}}\n", recv.addr))
	const alert = "/audit/v1/alerts/01M83XJ880G988VDCE1F5VZJF0"
	type statuses struct{ none, user, auditor, admin int }
	var (
		page     = statuses{http.StatusSeeOther, http.StatusForbidden, http.StatusOK, http.StatusOK}
		public   = statuses{http.StatusOK, http.StatusOK, http.StatusOK, http.StatusOK}
		read     = statuses{http.StatusUnauthorized, http.StatusForbidden, http.StatusOK, http.StatusOK}
		adminOK  = statuses{http.StatusUnauthorized, http.StatusForbidden, http.StatusForbidden, http.StatusOK}
		adminGot = func(status int) statuses {
			return statuses{http.StatusUnauthorized, http.StatusForbidden, http.StatusForbidden, status}
		}
	)
	tests := []struct {
		method, path, pattern, body string
		want                        statuses
	}{
		{"GET", "/", "", "", page},
		{"GET", "/?range=7d&refresh=1m", "", "", page},
		{"GET", "/console/assets/app.js", "", "", public},
		{"GET", "/favicon.ico", "", "", public},
		{"GET", "/console/assets/views/overview.js", "", "", public},
		{"GET", "/console/assets/vendor/uplot/uPlot.esm.js", "", "", public},
		{"GET", "/audit/v1/events?limit=5", "/audit/v1/events", "", read},
		{"GET", "/audit/v1/events?format=csv&limit=5", "", "", read},
		{"GET", "/audit/v1/stats?by=topic&since=24h", "/audit/v1/stats", "", read},
		{"GET", "/audit/v1/events/stream", "/audit/v1/events/stream", "", read},
		{"GET", "/audit/v1/alerts?state=open", "/audit/v1/alerts", "", read},
		{"GET", alert, "/audit/v1/alerts/{id}", "", statuses{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusNotFound}},
		{"POST", alert + "/ack", "/audit/v1/alerts/{id}/ack", `{"note":"seen"}`, adminGot(http.StatusNotFound)},
		{"POST", alert + "/resolve", "/audit/v1/alerts/{id}/resolve", `{}`, adminGot(http.StatusNotFound)},
		{"POST", alert + "/dismiss", "/audit/v1/alerts/{id}/dismiss", `{}`, adminGot(http.StatusNotFound)},
		{"GET", "/audit/v1/sinks", "/audit/v1/sinks", "", read},
		{"GET", "/audit/v1/sinks/siem", "/audit/v1/sinks/{name}", "", read},
		{"GET", "/audit/v1/sinks/siem/deadletter", "/audit/v1/sinks/{name}/deadletter", "", read},
		{"POST", "/audit/v1/sinks/nosuch/replay", "/audit/v1/sinks/{name}/replay", `{"since":"1h"}`, adminGot(http.StatusNotFound)},
		{"POST", "/audit/v1/sinks/siem/deadletter/replay", "/audit/v1/sinks/{name}/deadletter/replay", "", adminOK},
		{"GET", "/audit/v1/quarantine?limit=10", "/audit/v1/quarantine", "", adminOK},
		{"POST", "/audit/v1/quarantine/replay", "/audit/v1/quarantine/replay", `{"ids":[]}`, adminOK},
		// The admin API takes API tokens only.
		{"GET", "/audit/v1/admin/users", "", "", statuses{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusUnauthorized, http.StatusUnauthorized}},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		if tt.pattern != "" {
			covered[tt.method+" "+tt.pattern] = true
		}
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			for _, c := range []struct {
				who  string
				want int
			}{{"", tt.want.none}, {"user", tt.want.user}, {"auditor", tt.want.auditor}, {"admin", tt.want.admin}} {
				resp, body := cs.do(t, tt.method, tt.path, c.who, false, tt.body)
				if resp.StatusCode != c.want {
					t.Errorf("as %q: %d, want %d: %s", c.who, resp.StatusCode, c.want, body)
				}
				if resp.StatusCode == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/signin?return_to=") {
					t.Errorf("as %q: redirected to %q, want the sign-in page", c.who, resp.Header.Get("Location"))
				}
			}
			if tt.method == "POST" && tt.want.admin != http.StatusForbidden {
				// Without its CSRF token, a session changes nothing.
				if resp, body := cs.do(t, tt.method, tt.path, "admin", true, tt.body); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
					t.Errorf("as admin without the CSRF token: %d %s, want 403", resp.StatusCode, body)
				}
			}
		})
	}

	// Every session-taking audit route is in the table: the OpenAPI
	// document lists them all.
	resp, body := cs.do(t, "GET", "/openapi.json", "", false, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", resp.StatusCode)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	var missing []string
	for path, ops := range doc.Paths {
		if !strings.HasPrefix(path, "/audit/v1/") || strings.HasPrefix(path, "/audit/v1/admin/") {
			continue
		}
		for method := range ops {
			m := strings.ToUpper(method)
			if m == "POST" && path == "/audit/v1/events" {
				continue // ingest: device credentials
			}
			if !covered[m+" "+path] {
				missing = append(missing, m+" "+path)
			}
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("the table lacks these audit routes:\n%s", strings.Join(missing, "\n"))
	}
}

// TestConsole_SessionQueriesAudited checks that a query by session is
// recorded as audit.query with the signed-in user as its caller.
func TestConsole_SessionQueriesAudited(t *testing.T) {
	cs := startConsoleServer(t, "")
	if resp, body := cs.do(t, "GET", "/audit/v1/stats?by=user&since=1h", "auditor", false, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("stats as the auditor: %d %s", resp.StatusCode, body)
	}
	q := url.Values{"event": {"audit.query"}, "limit": {"100"}}
	waitFor(t, "the auditor's audit.query", func() bool {
		resp, body := cs.do(t, "GET", "/audit/v1/events?"+q.Encode(), "token", false, "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("events: %d %s", resp.StatusCode, body)
		}
		var page struct {
			Events []struct {
				Caller struct{ Email string } `json:"caller"`
				Route  string                 `json:"route"`
				Filter string                 `json:"filter"`
			} `json:"events"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			if e.Caller.Email == "carol@example.com" && e.Route == "/audit/v1/stats" && e.Filter == "by=user&since=1h" {
				return true
			}
		}
		return false
	})
}
