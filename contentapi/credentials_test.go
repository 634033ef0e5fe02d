package contentapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/contentapi/link"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

var pathParam = regexp.MustCompile(`\{[a-z_]+\}`)

// fillPath gives a route's pattern values: the latest version, email for
// {email}, the id of one of objects' folder or file for the {id} of the
// file tree's routes (objects.folder under /folders and /children,
// objects.file under /files), objects.link for {key}, objects.share for
// the {id} of /shares and for {sid}, objects.group for the {id} of
// /groups and for {gid}, and 32 hex digits for any other parameter.
func fillPath(pattern, email string, objects treeObjects) string {
	rest := strings.TrimPrefix(pattern, Prefix+"/{version}")
	return pathParam.ReplaceAllStringFunc(pattern, func(p string) string {
		switch {
		case p == "{version}":
			return "v" + Latest.String()
		case p == "{email}":
			return email
		case p == "{key}" && objects.link != "":
			return objects.link
		case p == "{rev}":
			return "1"
		case p == "{id}" && (strings.HasPrefix(rest, "/files/") || strings.HasPrefix(rest, "/favorites/")) && objects.file != "":
			return objects.file
		case p == "{id}" && (strings.HasPrefix(rest, "/folders/") || strings.HasPrefix(rest, "/children/")) && objects.folder != "":
			return objects.folder
		case (p == "{id}" && strings.HasPrefix(rest, "/shares/") || p == "{sid}") && objects.share != "":
			return objects.share
		case (p == "{id}" && strings.HasPrefix(rest, "/groups/") || p == "{gid}") && objects.group != "":
			return objects.group
		}
		return "0123456789abcdef0123456789abcdef"
	})
}

// treeObjects are a folder and a file of one user's tree (64-hex ids),
// a link of theirs to the folder, and a shared folder the user manages
// with a group on it, for fillPath.
type treeObjects struct{ folder, file, link, share, group string }

// newTreeObjects makes a folder and a file in user's root, side by side,
// a link to the folder, and a shared folder with a group on it.
func newTreeObjects(t *testing.T, e *accountsEnv, user, device string) treeObjects {
	t.Helper()
	ctx := context.Background()
	a := tree.Actor{User: user, Device: device}
	d, err := e.files.Create(ctx, a, tree.Folder, tree.Ref{Alias: tree.AliasRoot}, "folder "+token.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := e.files.Create(ctx, a, tree.File, tree.Ref{Alias: tree.AliasRoot}, "file "+token.New(), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Two contents: the first is the file's revision 1.
	for _, body := range []string{"first", "second"} {
		info, err := e.blobs.Put(ctx, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.files.SetContent(ctx, a, tree.Ref{ID: f.ID}, tree.Content{Key: info.Key, Size: info.Size, ETag: info.Key}, nil); err != nil {
			t.Fatal(err)
		}
	}
	l, err := e.links.Create(ctx, link.Actor{User: user, Caller: json.RawMessage(`{"email":"` + user + `"}`), IP: localIP}, d.ID, link.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	e.events(t) // its link.create
	sharer := tree.Sharer{Actor: a, Caller: []byte(`{"email":"` + user + `"}`)}
	sh, err := e.files.CreateShare(ctx, sharer, "share "+token.New())
	if err != nil {
		t.Fatal(err)
	}
	g, err := e.store.CreateGroup(ctx, "group "+token.New())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.files.AddGroup(ctx, sharer, sh.SID, g.ID, tree.PermRead); err != nil {
		t.Fatal(err)
	}
	e.events(t)
	return treeObjects{folder: d.ID.String(), file: f.ID.String(), link: l.Key, share: sh.SID, group: g.ID}
}

// TestRoutes_Credentials walks the API's whole route table (so a new
// route is covered as it is added): every route that takes a credential
// is tried with none, an expired token, a token lacking its scope, a
// plain user's token and an admin's; each denial's status and content
// error body is checked, and the allowed cases are neither 401 nor 403.
// denial is a refusal a test expects: its status, its content error
// type and, when not empty, its message.
type denial struct {
	status   int
	typ, msg string
}

var (
	noCredential  = denial{401, "UNAUTHORIZED", "Missing access token"}
	expiredToken  = denial{401, "UNAUTHORIZED", "Access token expired"}
	unknownTok    = denial{401, "UNAUTHORIZED", "Invalid access token"}
	malformedTok  = denial{401, "UNAUTHORIZED", "Malformed access token"}
	lacksScopeErr = denial{403, "FORBIDDEN", "Token lacks required scope"}
	notAdmin      = denial{403, "FORBIDDEN", ""}
	noCSRF        = denial{403, "FORBIDDEN", "Missing or invalid CSRF token"}
)

// stateChanging says whether a route's method changes state (a cookie
// session then needs its CSRF token).
func stateChanging(method string) bool {
	return method != "GET" && method != "HEAD" && method != "OPTIONS"
}

// TestRoutes_Credentials walks the API's whole route table, device
// routes included (so a new route is covered as it is added): every
// route that takes a credential is tried with none, an expired token, a
// token of another deployment's administrator, a device credential, a
// token of each single scope, a user's session cookie (with and without
// its CSRF token), an administrator's session, a plain user's token and
// an administrator's. Each denial's status and content error body is
// checked; the allowed cases are neither 401 nor 403.
//
// Another organization's administrator: Vigil serves one organization
// (auth.OrgID, "2" as in the reference), so an administrator of another
// organization is an administrator of another Vigil deployment. Their
// token means nothing here: 401 Invalid access token on every route.
// Our own administrator asking for another organization id
// (/organizations/3, /organizations/3/users/{email}) gets 404 NOT_FOUND
// "No such organization": the id names nothing this server knows, and a
// 404 says no more than that.
func TestRoutes_Credentials(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b, func(c *Config) { c.Devices = c.Accounts })
		ctx := context.Background()
		const carolEmail = "carol@example.com"
		if _, err := e.store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: carolEmail}); err != nil {
			t.Fatal(err)
		}
		user, userDevice := e.signIn(t, aliceEmail, alicePW)
		admin, _ := e.signIn(t, adminEmail, adminPW)
		userCookie, userCSRF := e.cookieSignIn(t, aliceEmail, alicePW)
		adminCookie, adminCSRF := e.cookieSignIn(t, adminEmail, adminPW)
		e.clock.Add(-25 * time.Hour)
		expired, _ := e.signIn(t, bobEmail, bobPW)
		e.clock.Add(25 * time.Hour)
		// Tokens of one scope each, held by the administrator.
		now := time.Now()
		single := map[string]string{}
		for _, sc := range scopeNames {
			tok := token.New()
			e.secrets = append(e.secrets, tok)
			if err := e.store.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: token.Hash(tok), Email: adminEmail,
				Scopes: sc, Device: token.New(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			single[sc] = tok
		}
		// The administrator of another deployment, with its own store.
		other := newAccountsEnv(t, b)
		otherAdmin, _ := other.signIn(t, adminEmail, adminPW)
		// A live device credential (64 hex) is not an access token.
		dev := e.certifyDevice(t, user, "laptop")
		// A device credential after its device was unlinked.
		gone := e.certifyDevice(t, user, "old-laptop")
		if a := e.call(t, "DELETE", "/api/v1.4/devices/"+gone.ID, "", bearer(user)); a.status != 204 {
			t.Fatalf("unlink: %d %s", a.status, a.body)
		}
		e.events(t)

		var routes []httpapi.Route
		for _, rt := range New(e.cfg).Routes() {
			if rt.Access == httpapi.Scoped && !strings.Contains(rt.Pattern, "*") {
				routes = append(routes, rt)
			}
		}
		if len(routes) < 30 || !slices.ContainsFunc(routes, func(rt httpapi.Route) bool { return rt.Pattern == Prefix+"/{version}/devices/{did}" }) {
			t.Fatalf("only %d routes take a credential, or no device routes", len(routes))
		}
		check := func(name string, rt httpapi.Route, a answer, want denial) {
			t.Helper()
			if a.status != want.status {
				t.Errorf("%s %s with %s: %d %s; want %d", rt.Method, rt.Pattern, name, a.status, a.body, want.status)
				return
			}
			if rt.Method == http.MethodHead {
				return // no body to check
			}
			if typ, msg := contentError(t, a); typ != want.typ || msg == "" || want.msg != "" && msg != want.msg {
				t.Errorf("%s %s with %s: body %s; want type %s and message %q", rt.Method, rt.Pattern, name, a.body, want.typ, want.msg)
			}
		}
		accepted := func(name string, rt httpapi.Route, a answer) {
			t.Helper()
			if a.status == 401 || a.status == 403 {
				t.Errorf("%s %s with %s: %d %s", rt.Method, rt.Pattern, name, a.status, a.body)
			}
		}
		objects := newTreeObjects(t, e, aliceEmail, userDevice)
		call := func(rt httpapi.Route, email string, header ...string) answer {
			body := ""
			if rt.Method == "POST" || rt.Method == "PUT" {
				body = "{}"
			}
			return e.call(t, rt.Method, fillPath(rt.Pattern, email, objects), body, header...)
		}
		admins := func(rt httpapi.Route) bool { return slices.Equal(rt.Scopes, []string{ScopeOrgAdmin}) }
		// Only the user may set up their two-factor authentication, or
		// accept or ignore their invitations.
		selfOnly := func(rt httpapi.Route) bool {
			return slices.Contains([]string{"POST /api/{version}/users/{email}/two_factor", "POST /api/{version}/users/{email}/two_factor/verify",
				"POST /api/{version}/users/{email}/invitations/{sid}", "DELETE /api/{version}/users/{email}/invitations/{sid}"},
				rt.Method+" "+rt.Pattern)
		}

		// The denials first: they change nothing.
		for _, rt := range routes {
			check("no credential", rt, call(rt, aliceEmail), noCredential)
			check("an expired token", rt, call(rt, aliceEmail, bearer(expired)), expiredToken)
			check("an unknown token", rt, call(rt, aliceEmail, bearer(token.New())), unknownTok)
			check("another deployment's admin token", rt, call(rt, aliceEmail, bearer(otherAdmin)), unknownTok)
			check("a device credential", rt, call(rt, aliceEmail, "Authorization: Bearer "+dev.Credential), malformedTok)
			check("a revoked device's credential", rt, call(rt, aliceEmail, "Authorization: Bearer "+gone.Credential), malformedTok)
			if admins(rt) {
				check("a plain user's token", rt, call(rt, bobEmail, bearer(user)), notAdmin)
				check("a plain user's session", rt, call(rt, bobEmail, userCookie, userCSRF), notAdmin)
			}
			if stateChanging(rt.Method) {
				check("a user's session without CSRF token", rt, call(rt, aliceEmail, userCookie), noCSRF)
				check("an admin's session without CSRF token", rt, call(rt, bobEmail, adminCookie), noCSRF)
				check("an admin's session with another's CSRF token", rt, call(rt, bobEmail, adminCookie, userCSRF), noCSRF)
			}
			for _, sc := range scopeNames {
				if len(rt.Scopes) > 0 && !slices.Contains(rt.Scopes, sc) {
					check("a token of scope "+sc, rt, call(rt, carolEmail, bearer(single[sc])), lacksScopeErr)
				}
			}
		}
		// Each single scope that a route takes gets past the kit (the
		// handler may still refuse the administrator's narrow token for
		// what it does, with its own reason; carol is the one whose
		// resources it may change). files.appdata reaches only the
		// app's data folder: on the made-up objects here the handler
		// refuses it as lacking scope, and TestFiles_Refused checks it
		// on appdata objects.
		for _, rt := range routes {
			for _, sc := range scopeNames {
				if sc == ScopeFilesAppData {
					continue
				}
				if len(rt.Scopes) == 0 || slices.Contains(rt.Scopes, sc) {
					a := call(rt, carolEmail, bearer(single[sc]))
					if a.status == 401 || a.status == 403 && strings.Contains(a.body, "Token lacks required scope") {
						t.Errorf("%s %s with a token of scope %s: %d %s", rt.Method, rt.Pattern, sc, a.status, a.body)
					}
				}
			}
		}
		// A plain user on their own resources, by session then by token:
		// whatever the answer (404 for the made-up ids), the credential
		// is accepted.
		for _, rt := range routes {
			if !admins(rt) {
				accepted("the user's session", rt, call(rt, aliceEmail, userCookie, userCSRF))
				accepted("the user's token", rt, call(rt, aliceEmail, bearer(user)))
			}
		}
		// The administrator on another's, by session then by token.
		for _, rt := range routes {
			for _, cred := range []struct {
				name   string
				header []string
			}{{"an admin's session", []string{adminCookie, adminCSRF}}, {"an admin's token", []string{bearer(admin)}}} {
				a := call(rt, bobEmail, cred.header...)
				if selfOnly(rt) {
					check(cred.name, rt, a, notAdmin)
				} else {
					accepted(cred.name, rt, a)
				}
			}
		}
		// Our administrator and another organization's id.
		for _, tc := range []struct{ method, path string }{
			{"GET", "/api/v1.4/organizations/3"},
			{"GET", "/api/v1.2/organizations/0"},
			{"DELETE", "/api/v1.4/organizations/3/users/" + aliceEmail},
		} {
			for _, h := range [][]string{{bearer(admin)}, {adminCookie, adminCSRF}} {
				a := e.call(t, tc.method, tc.path, "", h...)
				check("our admin", httpapi.Route{Method: tc.method, Pattern: tc.path}, a, denial{404, "NOT_FOUND", "No such organization"})
			}
		}
		if a := e.call(t, "GET", "/api/v1.4/organizations/"+auth.OrgID, "", bearer(admin)); a.status != 200 {
			t.Errorf("GET our organization: %d %s", a.status, a.body)
		}
		e.events(t)
	})
}

// certifyDevice certifies a desktop client named name with tok and
// returns it; its credential is one of the test's secrets.
func (e *accountsEnv) certifyDevice(t *testing.T, tok, name string) CertifiedDevice {
	t.Helper()
	d := answerAs[CertifiedDevice](t, "certify "+name, e.call(t, "POST", "/api/v1.4/devices", `{"name":"`+name+`"}`, bearer(tok)), 201)
	e.secrets = append(e.secrets, d.Credential)
	return d
}

// TestRoutes_RevokedDevice checks that a device's credential stops
// working the moment the device is unlinked or erased: on the content
// API's device routes, and for ingest, which checks a device credential
// with the same store's Authenticate.
func TestRoutes_RevokedDevice(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b, func(c *Config) { c.Devices = c.Accounts })
		ctx := context.Background()
		user, _ := e.signIn(t, aliceEmail, alicePW)
		admin, _ := e.signIn(t, adminEmail, adminPW)
		for _, tc := range []struct {
			name, method, path, tok string
			removal                 auth.Removal
			msg                     string
		}{
			{"unlink", "DELETE", "", user, auth.RemovalUnlinked, "Device unlinked"},
			{"erase", "POST", "/erase", admin, auth.RemovalErased, "Device erased"},
		} {
			d := e.certifyDevice(t, user, "laptop-"+tc.name)
			cred := "Authorization: Bearer " + d.Credential
			if p, err := e.store.Authenticate(ctx, d.Credential); err != nil || p.DeviceID != d.ID {
				t.Fatalf("%s: ingest's check of a live device: %+v, %v", tc.name, p, err)
			}
			if a := e.call(t, "POST", "/api/v1.4/devices/signin", "", cred); a.status != 200 {
				t.Fatalf("%s: sign-in of a live device: %d %s", tc.name, a.status, a.body)
			}
			if a := e.call(t, tc.method, "/api/v1.4/devices/"+d.ID+tc.path, "", bearer(tc.tok)); a.status != 204 {
				t.Fatalf("%s: %d %s", tc.name, a.status, a.body)
			}
			for _, rc := range []struct{ method, path string }{
				{"POST", "/api/v1.4/devices/signin"},
				{"POST", "/api/v1.4/devices/" + d.ID + "/recertify"},
			} {
				a := e.call(t, rc.method, rc.path, "", cred)
				if typ, msg := contentError(t, a); a.status != 403 || typ != "FORBIDDEN" || msg != tc.msg || a.header.Get("Device-Removal") != string(tc.removal) {
					t.Errorf("%s: %s %s after it: %d %s %v", tc.name, rc.method, rc.path, a.status, a.body, a.header)
				}
			}
			var re *auth.RevokedError
			if _, err := e.store.Authenticate(ctx, d.Credential); !errors.As(err, &re) || re.Removal != tc.removal {
				t.Errorf("%s: ingest's check after it: %v, want a revoked device (%s)", tc.name, err, tc.removal)
			}
		}
		e.events(t)
	})
}
