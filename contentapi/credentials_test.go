package contentapi

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

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
// objects.file under /files), objects.share for the {id} of /shares and
// for {sid}, objects.group for the {id} of /groups and for {gid}, and 32
// hex digits for any other parameter.
func fillPath(pattern, email string, objects treeObjects) string {
	rest := strings.TrimPrefix(pattern, Prefix+"/{version}")
	return pathParam.ReplaceAllStringFunc(pattern, func(p string) string {
		switch {
		case p == "{version}":
			return "v" + Latest.String()
		case p == "{email}":
			return email
		case p == "{id}" && strings.HasPrefix(rest, "/files/") && objects.file != "":
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
// a shared folder the user manages and a group on it, for fillPath.
type treeObjects struct{ folder, file, share, group string }

// newTreeObjects makes a folder and a file in user's root, side by side,
// and a shared folder with a group on it.
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
	return treeObjects{folder: d.ID.String(), file: f.ID.String(), share: sh.SID, group: g.ID}
}

// TestRoutes_Credentials walks the API's whole route table (so a new
// route is covered as it is added): every route that takes a credential
// is tried with none, an expired token, a token lacking its scope, a
// plain user's token and an admin's; each denial's status and content
// error body is checked, and the allowed cases are neither 401 nor 403.
func TestRoutes_Credentials(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		ctx := context.Background()
		user, userDevice := e.signIn(t, aliceEmail, alicePW)
		admin, _ := e.signIn(t, adminEmail, adminPW)
		e.clock.Add(-25 * time.Hour)
		expired, _ := e.signIn(t, bobEmail, bobPW)
		e.clock.Add(25 * time.Hour)
		narrow := token.New()
		e.secrets = append(e.secrets, narrow)
		now := time.Now()
		if err := e.store.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: token.Hash(narrow), Email: adminEmail,
			Scopes: ScopeLinkSharing, Device: token.New(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		e.events(t)

		var routes []httpapi.Route
		for _, rt := range New(Config{Accounts: e.store, Passwords: e.hasher, Files: e.files, Logger: testLogger(e.logs)}).Routes() {
			if rt.Access == httpapi.Scoped && !strings.Contains(rt.Pattern, "*") {
				routes = append(routes, rt)
			}
		}
		if len(routes) < 20 {
			t.Fatalf("only %d routes take a credential", len(routes))
		}
		denied := func(name string, rt httpapi.Route, a answer, status int, typ string) {
			t.Helper()
			if a.status != status {
				t.Errorf("%s %s with %s: %d %s; want %d", rt.Method, rt.Pattern, name, a.status, a.body, status)
				return
			}
			if got, msg := contentError(t, a); got != typ || msg == "" {
				t.Errorf("%s %s with %s: body %s; want type %s and a message", rt.Method, rt.Pattern, name, a.body, typ)
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
		// The denials first: they change nothing.
		for _, rt := range routes {
			denied("no credential", rt, call(rt, aliceEmail), 401, "UNAUTHORIZED")
			denied("an expired token", rt, call(rt, aliceEmail, bearer(expired)), 401, "UNAUTHORIZED")
			denied("an unknown token", rt, call(rt, aliceEmail, bearer(token.New())), 401, "UNAUTHORIZED")
			if !slices.Contains(rt.Scopes, ScopeLinkSharing) && len(rt.Scopes) > 0 {
				denied("a token lacking its scope", rt, call(rt, aliceEmail, bearer(narrow)), 403, "FORBIDDEN")
			}
			if slices.Equal(rt.Scopes, []string{ScopeOrgAdmin}) {
				denied("a plain user's token", rt, call(rt, bobEmail, bearer(user)), 403, "FORBIDDEN")
			}
		}
		// A plain user on their own resources, then the admin on
		// another's: whatever the answer (404 for the made-up ids), the
		// credential is accepted.
		for _, rt := range routes {
			if slices.Equal(rt.Scopes, []string{ScopeOrgAdmin}) {
				continue
			}
			if a := call(rt, aliceEmail, bearer(user)); a.status == 401 || a.status == 403 {
				t.Errorf("%s %s as the user: %d %s", rt.Method, rt.Pattern, a.status, a.body)
			}
		}
		// Only the user may set up their two-factor authentication, or
		// accept or ignore their invitations.
		selfOnly := []string{"POST /api/{version}/users/{email}/two_factor", "POST /api/{version}/users/{email}/two_factor/verify",
			"POST /api/{version}/users/{email}/invitations/{sid}", "DELETE /api/{version}/users/{email}/invitations/{sid}"}
		for _, rt := range routes {
			a := call(rt, bobEmail, bearer(admin))
			if slices.Contains(selfOnly, rt.Method+" "+rt.Pattern) {
				denied("an admin's token", rt, a, 403, "FORBIDDEN")
			} else if a.status == 401 || a.status == 403 {
				t.Errorf("%s %s as the admin: %d %s", rt.Method, rt.Pattern, a.status, a.body)
			}
		}
		e.events(t)
	})
}
