package contentapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// linksEnv is the files environment with a file holding content and a
// folder holding a file and a subfolder, all in Alice's root.
type linksEnv struct {
	*filesEnv
	file, folder, inner, sub, outside string
	content                           string
}

func newLinksEnv(t *testing.T, b metadbtest.Backend) *linksEnv {
	t.Helper()
	f := newFilesEnv(t, b)
	e := &linksEnv{filesEnv: f, content: "hello through a link"}
	ctx := context.Background()
	a := tree.Actor{User: aliceEmail, Device: f.device}
	root := tree.Ref{Alias: tree.AliasRoot}
	mk := func(kind tree.Kind, parent tree.Ref, name string) tree.View {
		v, err := f.files.Create(ctx, a, kind, parent, name, nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	file := mk(tree.File, root, "report.txt")
	info, err := f.blobs.Put(ctx, strings.NewReader(e.content))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.files.SetContent(ctx, a, tree.Ref{ID: file.ID}, tree.Content{Key: info.Key, Size: info.Size, ETag: info.Key}, nil); err != nil {
		t.Fatal(err)
	}
	folder := mk(tree.Folder, root, "docs")
	inner := mk(tree.File, tree.Ref{ID: folder.ID}, "inner.txt")
	sub := mk(tree.Folder, tree.Ref{ID: folder.ID}, "sub")
	outside := mk(tree.File, root, "outside.txt")
	e.file, e.folder, e.inner, e.sub, e.outside = file.ID.String(), folder.ID.String(), inner.ID.String(), sub.ID.String(), outside.ID.String()
	f.events(t)
	return e
}

// create makes a link as Alice with body and returns it.
func (e *linksEnv) create(t *testing.T, body string) Link {
	t.Helper()
	a := e.do(t, "POST", "/api/v1.4/links", body)
	want(t, "POST /links "+body, a, 201)
	l := decode[Link](t, a)
	if a.header.Get("Location") != "/api/v1.4/links/"+l.Key {
		t.Errorf("Location %q", a.header.Get("Location"))
	}
	return l
}

func (e *linksEnv) linkEvent(name, key string, extra event) event {
	ev := event{"topic": "LINK", "event": name, "ip": localIP, "caller": callerOf(aliceEmail, e.device, false), "key": key}
	for k, v := range extra {
		ev[k] = v
	}
	return ev
}

func accessEvent(key string) event {
	return event{"topic": "LINK", "event": "link.access", "ip": localIP, "key": key}
}

func downloadEvent(key, id, name string) event {
	return event{"topic": "LINK", "event": "link.download", "ip": localIP, "key": key, "oid": id[32:], "name": name}
}

func refusedEvent(key string, limited bool) event {
	return event{"topic": "AUDIT", "event": "audit.link.password.error", "ip": localIP, "key": key, "rate_limited": limited}
}

func soidOf(id string) map[string]any { return map[string]any{"sid": id[:32], "oid": id[32:]} }

// wantError checks an error answer's status and type.
func wantError(t *testing.T, what string, a answer, status int, typ string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: %d %s; want %d", what, a.status, a.body, status)
		return
	}
	if got, msg := contentError(t, a); got != typ || msg == "" {
		t.Errorf("%s: body %s; want type %s", what, a.body, typ)
	}
}

// TestLinks_Lifecycle walks a file link through every management route
// and the public routes, checking each answer and its exact events.
func TestLinks_Lifecycle(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newLinksEnv(t, b)
		l := e.create(t, `{"soid": "`+strings.ToUpper(e.file)+`"}`)
		if len(l.Key) != 32 || strings.Trim(l.Key, "0123456789abcdef") != "" {
			t.Errorf("key %q is not 32 lower-case hex", l.Key)
		}
		if diff := cmp.Diff(Link{Key: l.Key, SOID: e.file, CreatedBy: aliceEmail}, l); diff != "" {
			t.Errorf("link (-want +got):\n%s", diff)
		}
		e.wantEvents(t, e.linkEvent("link.create", l.Key, event{"soid": soidOf(e.file)}))
		path := "/api/v1.4/links/" + l.Key
		pub := LinkPrefix + "/" + l.Key

		// Read it back; no event.
		a := e.do(t, "GET", path, "")
		want(t, "GET link", a, 200)
		if diff := cmp.Diff(l, decode[Link](t, a)); diff != "" {
			t.Errorf("GET link (-want +got):\n%s", diff)
		}
		e.wantEvents(t)

		// Without a password: metadata and content, with the client IP.
		a = e.call(t, "GET", pub, "")
		want(t, "GET /l/{key}", a, 200)
		got := decode[LinkTarget](t, a)
		if got.File == nil || got.File.ID != e.file || got.File.Name != "report.txt" || got.File.Parent != "" || got.File.Size != int64(len(e.content)) {
			t.Errorf("link metadata %s", a.body)
		}
		e.wantEvents(t, accessEvent(l.Key))
		a = e.call(t, "GET", pub+"/content", "")
		if a.status != 200 || a.body != e.content || a.header.Get("Content-Type") != "text/plain" {
			t.Errorf("download: %d %v %q", a.status, a.header, a.body)
		}
		e.wantEvents(t, downloadEvent(l.Key, e.file, "report.txt"))
		a = e.call(t, "GET", pub+"/content", "", "Range: bytes=6-12")
		if a.status != 206 || a.body != e.content[6:13] || a.header.Get("Content-Range") != "bytes 6-12/"+strconv.Itoa(len(e.content)) {
			t.Errorf("range download: %d %v %q", a.status, a.header, a.body)
		}
		e.wantEvents(t, downloadEvent(l.Key, e.file, "report.txt"))
		wantError(t, "unsatisfiable range", e.call(t, "GET", pub+"/content", "", "Range: bytes=999-"), 416, "BAD_ARGS")
		e.events(t) // the 416's download was recorded before the range was read

		// A password (a bare JSON string or an object).
		pw := "link-pw-Tq39ssK"
		e.secrets = append(e.secrets, pw, "wrong-"+pw)
		for _, body := range []string{strconv.Quote(pw), `{"password": "` + pw + `"}`} {
			a = e.do(t, "PUT", path+"/password", body)
			want(t, "PUT password", a, 200)
			if !decode[Link](t, a).HasPassword || strings.Contains(a.body, pw) {
				t.Errorf("PUT password: %s", a.body)
			}
			e.wantEvents(t, e.linkEvent("link.set_password", l.Key, nil))
		}
		wantError(t, "no password", e.call(t, "GET", pub, ""), 403, "FORBIDDEN")
		e.wantEvents(t)
		wantError(t, "wrong password", e.call(t, "GET", pub, "", LinkPasswordHeader+": wrong-"+pw), 403, "FORBIDDEN")
		e.wantEvents(t, refusedEvent(l.Key, false))
		a = e.call(t, "GET", pub, "", LinkPasswordHeader+": "+pw)
		want(t, "GET with the password", a, 200)
		e.wantEvents(t, accessEvent(l.Key))
		a = e.call(t, "POST", pub+"/content", url.Values{"password": {pw}}.Encode(), "Content-Type: application/x-www-form-urlencoded")
		if a.status != 200 || a.body != e.content {
			t.Errorf("form download: %d %q", a.status, a.body)
		}
		e.wantEvents(t, downloadEvent(l.Key, e.file, "report.txt"))
		a = e.do(t, "DELETE", path+"/password", "")
		want(t, "DELETE password", a, 200)
		if decode[Link](t, a).HasPassword {
			t.Errorf("DELETE password: %s", a.body)
		}
		e.wantEvents(t, e.linkEvent("link.remove_password", l.Key, nil))
		want(t, "GET after the password went", e.call(t, "GET", pub, ""), 200)
		e.wantEvents(t, accessEvent(l.Key))

		// An expiry: epoch milliseconds or a date; then it expires (410).
		exp := e.clock.Now().Truncate(time.Second).Add(time.Hour)
		for _, body := range []string{strconv.FormatInt(exp.UnixMilli(), 10), `"` + exp.Format(TimeLayout) + `"`} {
			a = e.do(t, "PUT", path+"/expires", body)
			want(t, "PUT expires "+body, a, 200)
			if got := decode[Link](t, a); got.Expires == nil || !got.Expires.Equal(exp) {
				t.Errorf("PUT expires: %s", a.body)
			}
			e.wantEvents(t, e.linkEvent("link.set_expiry", l.Key, event{"expiry": float64(3600)}))
		}
		e.clock.Add(time.Hour)
		wantError(t, "expired metadata", e.call(t, "GET", pub, ""), 410, "BAD_ARGS")
		wantError(t, "expired content", e.call(t, "GET", pub+"/content", ""), 410, "BAD_ARGS")
		e.wantEvents(t)
		a = e.do(t, "DELETE", path+"/expires", "")
		want(t, "DELETE expires", a, 200)
		if decode[Link](t, a).Expires != nil {
			t.Errorf("DELETE expires: %s", a.body)
		}
		e.wantEvents(t, e.linkEvent("link.remove_expiry", l.Key, nil))
		want(t, "GET after the expiry went", e.call(t, "GET", pub, ""), 200)
		e.wantEvents(t, accessEvent(l.Key))

		// require_login: a bearer token or a session cookie, else 401.
		a = e.do(t, "PUT", path+"/require_login", `true`)
		want(t, "PUT require_login", a, 200)
		e.wantEvents(t, e.linkEvent("link.set_require_login", l.Key, event{"require_login": true}))
		wantError(t, "no sign-in", e.call(t, "GET", pub, ""), 401, "UNAUTHORIZED")
		e.wantEvents(t)
		bob, _ := e.signIn(t, bobEmail, bobPW)
		want(t, "GET as Bob", e.call(t, "GET", pub, "", bearer(bob)), 200)
		e.wantEvents(t, accessEvent(l.Key))
		cookie, _ := e.cookieSignIn(t, bobEmail, bobPW)
		e.events(t)
		a = e.call(t, "GET", pub+"/content", "", cookie)
		if a.status != 200 || a.body != e.content {
			t.Errorf("download with a session: %d %q", a.status, a.body)
		}
		e.wantEvents(t, downloadEvent(l.Key, e.file, "report.txt"))
		a = e.do(t, "DELETE", path+"/require_login", "")
		want(t, "DELETE require_login", a, 200)
		e.wantEvents(t, e.linkEvent("link.set_require_login", l.Key, event{"require_login": false}))

		// Several settings at once.
		exp = e.clock.Now().Truncate(time.Second).Add(2 * time.Hour)
		a = e.do(t, "PUT", path, `{"require_login": true, "password": "`+pw+`", "expires": "`+exp.Format(TimeLayout)+`"}`)
		want(t, "PUT link", a, 200)
		if diff := cmp.Diff(Link{Key: l.Key, SOID: e.file, CreatedBy: aliceEmail, RequireLogin: true, HasPassword: true, Expires: &Time{exp}},
			decode[Link](t, a)); diff != "" {
			t.Errorf("PUT link (-want +got):\n%s", diff)
		}
		e.wantEvents(t, e.linkEvent("link.update", l.Key, event{"set_password": true, "require_login": true, "expiry": float64(7200)}))
		wantError(t, "PUT link with nothing", e.do(t, "PUT", path, `{}`), 400, "BAD_ARGS")

		// Delete: gone for everyone.
		a = e.do(t, "DELETE", path, "")
		want(t, "DELETE link", a, 204)
		e.wantEvents(t, e.linkEvent("link.delete", l.Key, nil))
		wantError(t, "GET deleted", e.do(t, "GET", path, ""), 404, "NOT_FOUND")
		wantError(t, "use deleted", e.call(t, "GET", pub, ""), 404, "NOT_FOUND")
		e.wantEvents(t)
	})
}

// TestLinks_CreateWithSettings records every setting given at creation.
func TestLinks_CreateWithSettings(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newLinksEnv(t, b)
		pw := "create-pw-Hh12ppA"
		e.secrets = append(e.secrets, pw)
		exp := e.clock.Now().Truncate(time.Second).Add(24 * time.Hour)
		l := e.create(t, `{"soid": "`+e.folder+`", "require_login": true, "password": "`+pw+`", "expires": `+strconv.FormatInt(exp.UnixMilli(), 10)+`}`)
		if diff := cmp.Diff(Link{Key: l.Key, SOID: e.folder, CreatedBy: aliceEmail, RequireLogin: true, HasPassword: true, Expires: &Time{exp}}, l); diff != "" {
			t.Errorf("link (-want +got):\n%s", diff)
		}
		e.wantEvents(t,
			e.linkEvent("link.create", l.Key, event{"soid": soidOf(e.folder)}),
			e.linkEvent("link.set_password", l.Key, nil),
			e.linkEvent("link.set_expiry", l.Key, event{"expiry": float64(86400)}),
			e.linkEvent("link.set_require_login", l.Key, event{"require_login": true}))
	})
}

// TestLinks_Folder lists and downloads what lies inside a folder link,
// and nothing outside it.
func TestLinks_Folder(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newLinksEnv(t, b)
		l := e.create(t, `{"soid": "`+e.folder+`"}`)
		e.events(t)
		pub := LinkPrefix + "/" + l.Key

		a := e.call(t, "GET", pub, "")
		want(t, "GET folder link", a, 200)
		got := decode[LinkTarget](t, a)
		if got.Folder == nil || got.Folder.ID != e.folder || got.Folder.Parent != "" || got.Folder.Children == nil ||
			len(got.Folder.Children.Files) != 1 || got.Folder.Children.Files[0].ID != e.inner ||
			len(got.Folder.Children.Folders) != 1 || got.Folder.Children.Folders[0].ID != e.sub {
			t.Errorf("folder link: %s", a.body)
		}
		e.wantEvents(t, accessEvent(l.Key))

		a = e.call(t, "GET", pub+"/"+e.sub, "")
		want(t, "GET subfolder", a, 200)
		if got := decode[LinkTarget](t, a); got.Folder == nil || got.Folder.ID != e.sub || got.Folder.Parent != e.folder {
			t.Errorf("subfolder: %s", a.body)
		}
		e.wantEvents(t, accessEvent(l.Key))
		a = e.call(t, "GET", pub+"/"+e.inner+"/content", "")
		want(t, "download inner", a, 200)
		e.wantEvents(t, downloadEvent(l.Key, e.inner, "inner.txt"))

		root := e.sid + tree.RootOID
		for _, tc := range []struct {
			name, path string
			status     int
			typ        string
		}{
			{"a file outside", pub + "/" + e.outside, 404, "NOT_FOUND"},
			{"a file outside, content", pub + "/" + e.outside + "/content", 404, "NOT_FOUND"},
			{"the root above", pub + "/" + root, 404, "NOT_FOUND"},
			{"the store id", pub + "/" + e.sid, 404, "NOT_FOUND"},
			{"another store", pub + "/" + strings.Repeat("ab", 32), 404, "NOT_FOUND"},
			{"dot dot", pub + "/..", 400, "BAD_ARGS"},
			{"escaped dot dot", pub + "/%2e%2e/content", 400, "BAD_ARGS"},
			{"an alias", pub + "/root", 400, "BAD_ARGS"},
			{"a folder's content", pub + "/content", 404, "NOT_FOUND"},
			{"a bad key", LinkPrefix + "/not-a-key", 400, "BAD_ARGS"},
			{"an unknown key", LinkPrefix + "/" + strings.Repeat("0", 32), 404, "NOT_FOUND"},
		} {
			wantError(t, tc.name, e.call(t, "GET", tc.path, ""), tc.status, tc.typ)
		}
		e.wantEvents(t)
	})
}

// TestLinks_PasswordLimit refuses wrong passwords past the limit with
// 429 and Retry-After, even the right one, until the window passes.
func TestLinks_PasswordLimit(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newLinksEnv(t, b)
		pw := "limit-pw-Ab98ccD"
		e.secrets = append(e.secrets, pw)
		l := e.create(t, `{"soid": "`+e.file+`", "password": "`+pw+`"}`)
		e.events(t)
		pub := LinkPrefix + "/" + l.Key + "/content"
		for i := 0; i < 10; i++ {
			wantError(t, "wrong password", e.call(t, "GET", pub, "", LinkPasswordHeader+": wrong"), 403, "FORBIDDEN")
			e.wantEvents(t, refusedEvent(l.Key, false))
		}
		a := e.call(t, "GET", pub, "", LinkPasswordHeader+": "+pw)
		wantError(t, "limited", a, 429, "TOO_MANY_REQUESTS")
		if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 || ra > 300 {
			t.Errorf("Retry-After %q", a.header.Get("Retry-After"))
		}
		e.wantEvents(t, refusedEvent(l.Key, true))
		e.clock.Add(5*time.Minute + time.Second)
		a = e.call(t, "GET", pub, "", LinkPasswordHeader+": "+pw)
		if a.status != 200 || a.body != e.content {
			t.Errorf("after the window: %d %s", a.status, a.body)
		}
		e.wantEvents(t, downloadEvent(l.Key, e.file, "report.txt"))
	})
}

// TestLinks_Refused covers the management routes' bad input and the
// credentials they refuse.
func TestLinks_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newLinksEnv(t, b)
		l := e.create(t, `{"soid": "`+e.file+`"}`)
		e.events(t)
		path := "/api/v1.4/links/" + l.Key
		past := e.clock.Now().Add(-time.Minute).Format(TimeLayout)
		bob, _ := e.signIn(t, bobEmail, bobPW)
		readOnly := e.scoped(t, "files.read")
		narrow := e.scoped(t, "files.write:"+e.folder)
		for _, tc := range []struct {
			name, method, path, body string
			header                   []string
			status                   int
			typ                      string
		}{
			{"no soid", "POST", "/api/v1.4/links", `{}`, nil, 400, "BAD_ARGS"},
			{"not JSON", "POST", "/api/v1.4/links", `{"soid":`, nil, 400, "BAD_ARGS"},
			{"soid not an id", "POST", "/api/v1.4/links", `{"soid": "root"}`, nil, 400, "BAD_ARGS"},
			{"soid a number", "POST", "/api/v1.4/links", `{"soid": 7}`, nil, 400, "BAD_ARGS"},
			{"unknown soid", "POST", "/api/v1.4/links", `{"soid": "` + e.sid + strings.Repeat("1", 32) + `"}`, nil, 404, "NOT_FOUND"},
			{"empty password", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `", "password": ""}`, nil, 400, "BAD_ARGS"},
			{"past expiry", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `", "expires": "` + past + `"}`, nil, 400, "BAD_ARGS"},
			{"bad expiry", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `", "expires": "soon"}`, nil, 400, "BAD_ARGS"},
			{"bad require_login", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `", "require_login": "yes please"}`, nil, 400, "BAD_ARGS"},
			{"bad key", "GET", "/api/v1.4/links/xyz", ``, nil, 400, "BAD_ARGS"},
			{"unknown key", "GET", "/api/v1.4/links/" + strings.Repeat("f", 32), ``, nil, 404, "NOT_FOUND"},
			{"password a number", "PUT", path + "/password", `42`, nil, 400, "BAD_ARGS"},
			{"no password", "PUT", path + "/password", ``, nil, 400, "BAD_ARGS"},
			{"expiry past", "PUT", path + "/expires", `"` + past + `"`, nil, 400, "BAD_ARGS"},
			{"require_login a string", "PUT", path + "/require_login", `"true!"`, nil, 400, "BAD_ARGS"},
			{"before v1.4", "POST", "/api/v1.3/links", `{"soid": "` + e.file + `"}`, nil, 404, "NOT_FOUND"},
			{"files.read only", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `"}`, []string{bearer(readOnly)}, 403, "FORBIDDEN"},
			{"write scope elsewhere", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `"}`, []string{bearer(narrow)}, 403, "FORBIDDEN"},
			{"write scope elsewhere, get", "GET", path, ``, []string{bearer(narrow)}, 403, "FORBIDDEN"},
			{"Bob links Alice's file", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `"}`, []string{bearer(bob)}, 404, "NOT_FOUND"},
			{"Bob reads Alice's link", "GET", path, ``, []string{bearer(bob)}, 404, "NOT_FOUND"},
			{"Bob deletes Alice's link", "DELETE", path, ``, []string{bearer(bob)}, 404, "NOT_FOUND"},
			{"Bob sets its password", "PUT", path + "/password", `"x"`, []string{bearer(bob)}, 404, "NOT_FOUND"},
			{"no token", "POST", "/api/v1.4/links", `{"soid": "` + e.file + `"}`, []string{}, 401, "UNAUTHORIZED"},
		} {
			h := tc.header
			if h == nil {
				h = []string{bearer(e.tok)}
			}
			wantError(t, tc.name, e.call(t, tc.method, tc.path, tc.body, h...), tc.status, tc.typ)
		}
		e.wantEvents(t)
		// A token restricted to the folder links inside it.
		a := e.call(t, "POST", "/api/v1.4/links", `{"soid": "`+e.inner+`"}`, bearer(narrow))
		want(t, "restricted token inside its folder", a, 201)
		e.events(t)
	})
}

// FuzzLinkBody feeds the link routes' JSON bodies to their decoders: a
// body is accepted or refused with a 400, never anything else.
func FuzzLinkBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"soid":"ab","password":"x","expires":1700000000000,"require_login":true}`, `"pw"`, `true`,
		`{"password":"x"}`, `"2030-01-01T00:00:00Z"`, `{"expires":"x"}`, `null`, `{"soid":`, "\x00", `[1,2]`, `{"require_login":"no"}`} {
		f.Add(s)
	}
	api := New(Config{})
	f.Fuzz(func(t *testing.T, body string) {
		check := func(what string, err error) {
			if err == nil {
				return
			}
			var he *httpapi.Error
			if !errorsAs(err, &he) || he.Status != 400 {
				t.Fatalf("%s of %q: %v; want a 400", what, body, err)
			}
		}
		req := func() *Request {
			r := httpRequest("PUT", "/", body)
			return &Request{Request: r, api: api}
		}
		var b linkBody
		check("link body", req().Decode(&b))
		var s string
		check("password", req().decodeSetting("password", &s))
		var on bool
		check("require_login", req().decodeSetting("require_login", &on))
		var tm Time
		check("expires", req().decodeSetting("expires", &tm))
	})
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }

func httpRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}
