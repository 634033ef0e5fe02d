package contentapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// filesEnv is the accounts environment with Alice signed in: her token,
// its device, her root store and the server's device.
type filesEnv struct {
	*accountsEnv
	tok, device, sid, server string
}

func newFilesEnv(t *testing.T, b metadbtest.Backend) *filesEnv {
	t.Helper()
	e := newAccountsEnv(t, b)
	f := &filesEnv{accountsEnv: e, server: e.files.ServerDevice()}
	f.tok, f.device = e.signIn(t, aliceEmail, alicePW)
	a := f.do(t, "GET", "/api/v1.4/folders/root", "")
	var root Folder
	if err := json.Unmarshal([]byte(a.body), &root); err != nil || a.status != 200 {
		t.Fatalf("root: %d %s", a.status, a.body)
	}
	f.sid = root.ID[:32]
	e.events(t)
	return f
}

// do calls as Alice.
func (f *filesEnv) do(t *testing.T, method, path, body string, header ...string) answer {
	t.Helper()
	return f.call(t, method, path, body, append(header, bearer(f.tok))...)
}

// scoped issues a token for Alice with scopes.
func (f *filesEnv) scoped(t *testing.T, scopes string) string {
	t.Helper()
	tok := token.New()
	f.secrets = append(f.secrets, tok)
	now := time.Now()
	if err := f.store.IssueAccessToken(context.Background(), auth.Actor{}, auth.AccessToken{Hash: token.Hash(tok), Email: aliceEmail,
		Scopes: scopes, Device: f.device, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	f.events(t)
	return tok
}

// fileEvent is the event the server writes for Alice's app: op on the
// object id at path (relative to its store), with extra fields.
func (f *filesEnv) fileEvent(name, op, id, path string, extra event) event {
	ev := event{"topic": "FILE", "event": name,
		"verified_submitter": map[string]any{"user_id": OrgAdminID, "device_id": f.server},
		"soid":               map[string]any{"sid": id[:32], "oid": id[32:]},
		"event_time":         f.clock.Now().UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z"),
		"operations":         []any{op}, "device": f.server,
		"path": map[string]any{"sid": id[:32], "relative_path": path}}
	if name == "file.transfer" {
		ev["destination_device"], ev["destination_user"] = f.device, aliceEmail
	} else {
		ev["mobile_device"] = f.device
	}
	for k, v := range extra {
		ev[k] = v
	}
	return ev
}

func (f *filesEnv) read(id, path string) event {
	return f.fileEvent("file.transfer", "META_REQUEST", id, path, nil)
}

func (f *filesEnv) wrote(op, id, path string) event {
	return f.fileEvent("file.notification", op, id, path, nil)
}

func decode[T any](t *testing.T, a answer) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("%s: %v", a.body, err)
	}
	return v
}

func want(t *testing.T, what string, a answer, status int) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: %d %s; want %d", what, a.status, a.body, status)
	}
}

// TestFiles_Tutorial walks the tutorials' metadata steps and the
// preconditions around them, checking each answer and its exact events.
func TestFiles_Tutorial(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		root := f.sid + tree.RootOID

		// List the root's children: the v0.10 and the v1.2 routes.
		for _, path := range []string{"/api/v0.10/children", "/api/v1.2/folders/root/children", "/api/v1.4/children/" + f.sid} {
			a := f.do(t, "GET", path, "")
			want(t, path, a, 200)
			if diff := cmp.Diff(Children{Parent: root, Folders: []Folder{}, Files: []File{}}, decode[Children](t, a)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
			f.wantEvents(t, f.read(root, ""))
		}

		// Create a folder and a file in it.
		a := f.do(t, "POST", "/api/v0.10/folders", `{"parent": "`+root+`", "name": "docs"}`, "Content-Type: application/octet-stream")
		want(t, "create folder", a, 201)
		docs := decode[Folder](t, a)
		if a.header.Get("Location") != "/api/v0.10/folders/"+docs.ID || !strings.HasPrefix(a.header.Get("Etag"), `W/"`) {
			t.Errorf("create folder: headers %v", a.header)
		}
		if diff := cmp.Diff(Folder{ID: docs.ID, Name: "docs", Parent: root}, docs); diff != "" || !strings.HasPrefix(docs.ID, f.sid) {
			t.Errorf("folder (-want +got):\n%s", diff)
		}
		f.wantEvents(t, f.wrote("CREATE", docs.ID, "docs"))

		a = f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+docs.ID+`", "name": "hello.txt"}`)
		want(t, "create file", a, 201)
		hello := decode[File](t, a)
		empty := sha256.Sum256(nil)
		wantFile := File{ID: hello.ID, Name: "hello.txt", Parent: docs.ID, LastModified: Time{f.clock.Now().UTC().Truncate(time.Second)},
			MimeType: "text/plain", ETag: hex.EncodeToString(empty[:]), ContentState: "AVAILABLE"}
		if diff := cmp.Diff(wantFile, hello); diff != "" {
			t.Errorf("file (-want +got):\n%s", diff)
		}
		f.wantEvents(t, f.wrote("CREATE", hello.ID, "docs/hello.txt"))
		if a := f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+docs.ID+`", "name": "hello.txt"}`); a.status != 409 {
			t.Errorf("same name: %d %s", a.status, a.body)
		}
		f.wantEvents(t)

		// Metadata, its ETag, and 304 for a matching If-None-Match.
		a = f.do(t, "GET", "/api/v1.4/files/"+hello.ID, "")
		want(t, "get file", a, 200)
		etag := a.header.Get("Etag")
		if !strings.HasPrefix(etag, `W/"`) {
			t.Errorf("file ETag %q", etag)
		}
		f.wantEvents(t, f.read(hello.ID, "docs/hello.txt"))
		a = f.do(t, "GET", "/api/v1.4/files/"+hello.ID, "", "If-None-Match: "+etag)
		want(t, "get file If-None-Match", a, 304)
		f.wantEvents(t, f.read(hello.ID, "docs/hello.txt"))
		if a := f.do(t, "GET", "/api/v1.4/files/"+hello.ID, "", "If-None-Match: "); a.status != 200 {
			t.Errorf("empty If-None-Match: %d", a.status)
		}
		f.events(t)

		// fields: the path, the children; no ETag then.
		a = f.do(t, "GET", "/api/v1.4/files/"+hello.ID+"?fields=path", "")
		want(t, "fields=path", a, 200)
		rootFolder := Folder{ID: root, Name: RootName}
		withPath := wantFile
		withPath.Path = &ParentPath{Folders: []Folder{rootFolder, {ID: docs.ID, Name: "docs", Parent: root}}}
		if diff := cmp.Diff(withPath, decode[File](t, a)); diff != "" || a.header.Get("Etag") != "" {
			t.Errorf("fields=path, ETag %q (-want +got):\n%s", a.header.Get("Etag"), diff)
		}
		f.wantEvents(t, f.read(hello.ID, "docs/hello.txt"))
		for _, q := range []string{"?fields=path,children", "?fields=path&fields=children", "?fields=children,,path"} {
			a = f.do(t, "GET", "/api/v1.4/folders/"+docs.ID+q, "")
			want(t, q, a, 200)
			wantDocs := Folder{ID: docs.ID, Name: "docs", Parent: root, Path: &ParentPath{Folders: []Folder{rootFolder}},
				Children: &Children{Folders: []Folder{}, Files: []File{wantFile}}}
			if diff := cmp.Diff(wantDocs, decode[Folder](t, a)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", q, diff)
			}
			f.wantEvents(t, f.read(docs.ID, "docs"))
		}
		a = f.do(t, "GET", "/api/v1.4/folders/"+docs.ID+"?fields=", "")
		if a.status != 200 || a.header.Get("Etag") != "" {
			t.Errorf("fields= : %d, ETag %q", a.status, a.header.Get("Etag"))
		}
		f.events(t)
		a = f.do(t, "GET", "/api/v1.2/files/"+hello.ID+"/path", "")
		want(t, "file path", a, 200)
		if diff := cmp.Diff(*withPath.Path, decode[ParentPath](t, a)); diff != "" {
			t.Errorf("path (-want +got):\n%s", diff)
		}
		f.wantEvents(t, f.read(hello.ID, "docs/hello.txt"))
		a = f.do(t, "GET", "/api/v1.2/folders/root/path", "")
		if a.status != 200 || a.body != `{"folders":[]}` {
			t.Errorf("root path: %d %s", a.status, a.body)
		}
		f.wantEvents(t, f.read(root, ""))

		// Rename with If-Match: stale is 412, a clash 409, the right one 200.
		a = f.do(t, "PUT", "/api/v0.10/files/"+hello.ID, `{"name": "hi.txt"}`, `If-Match: W/"0123"`)
		want(t, "stale If-Match", a, 412)
		if typ, _ := contentError(t, a); typ != "CONFLICT" || a.header.Get("Etag") != etag {
			t.Errorf("412: type %s, ETag %q want %q", typ, a.header.Get("Etag"), etag)
		}
		want(t, "other file", f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+docs.ID+`", "name": "other.txt"}`), 201)
		f.events(t)
		want(t, "clash", f.do(t, "PUT", "/api/v0.10/files/"+hello.ID, `{"name": "other.txt"}`, "If-Match: "+etag), 409)
		a = f.do(t, "PUT", "/api/v0.10/files/"+hello.ID, `{"name": "hi.txt"}`, "If-Match: "+etag)
		want(t, "rename", a, 200)
		if got := decode[File](t, a); got.Name != "hi.txt" || a.header.Get("Etag") == etag || a.header.Get("Etag") == "" {
			t.Errorf("renamed %+v, ETag %q", got, a.header.Get("Etag"))
		}
		etag = a.header.Get("Etag")
		f.wantEvents(t, f.fileEvent("file.notification", "MOVE", hello.ID, "docs/hello.txt",
			event{"path_to": map[string]any{"sid": f.sid, "relative_path": "docs/hi.txt"}}))
		// Moving: out to the root, not into itself, not the root.
		a = f.do(t, "PUT", "/api/v1.4/files/"+hello.ID, `{"parent": "root"}`)
		want(t, "move", a, 200)
		f.wantEvents(t, f.fileEvent("file.notification", "MOVE", hello.ID, "docs/hi.txt",
			event{"path_to": map[string]any{"sid": f.sid, "relative_path": "hi.txt"}}))
		etag = a.header.Get("Etag")
		want(t, "into itself", f.do(t, "PUT", "/api/v1.4/folders/"+docs.ID, `{"parent": "`+docs.ID+`"}`), 400)
		want(t, "move the root", f.do(t, "PUT", "/api/v1.4/folders/root", `{"name": "x"}`), 403)
		want(t, "file as folder", f.do(t, "PUT", "/api/v1.4/folders/"+hello.ID, `{"name": "x"}`), 404)
		f.wantEvents(t)

		// Delete with If-Match; then it is gone.
		want(t, "stale delete", f.do(t, "DELETE", "/api/v0.10/files/"+hello.ID, "", `If-Match: "nope"`), 412)
		f.wantEvents(t)
		want(t, "delete", f.do(t, "DELETE", "/api/v0.10/files/"+hello.ID, "", "If-Match: "+etag), 204)
		f.wantEvents(t, f.wrote("DELETE", hello.ID, "hi.txt"))
		want(t, "deleted", f.do(t, "GET", "/api/v1.4/files/"+hello.ID, ""), 404)
		f.wantEvents(t)
		want(t, "delete folder", f.do(t, "DELETE", "/api/v1.4/folders/"+docs.ID, "", "If-Match: *"), 204)
		f.wantEvents(t, f.wrote("DELETE", docs.ID, "docs"))
		a = f.do(t, "GET", "/api/v1.4/children", "")
		if diff := cmp.Diff(Children{Parent: root, Folders: []Folder{}, Files: []File{}}, decode[Children](t, a)); diff != "" {
			t.Errorf("after the deletes (-want +got):\n%s", diff)
		}
		f.events(t)
	})
}

// TestFiles_Refused checks the 400s, 401s, 403s and 404s: bad input,
// credentials, scopes (restricted to an object too), other users' objects
// and the routes' versions. None emits an event.
func TestFiles_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		docs := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "docs"}`))
		inner := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "`+docs.ID+`", "name": "inner"}`))
		other := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "other"}`))
		f.events(t)
		bob, _ := f.signIn(t, bobEmail, bobPW)
		readDocs := f.scoped(t, "files.read:"+docs.ID)
		writeDocs := f.scoped(t, "files.write:"+docs.ID+",files.read")
		userOnly := f.scoped(t, "user.read")
		appdata := f.scoped(t, "files.appdata")
		readAll := f.scoped(t, "files.read")
		long := strings.Repeat("x", 256)
		tests := []struct {
			name, method, path, body, tok string
			status                        int
			typ, msg                      string
		}{
			{"slash in a name", "POST", "/api/v1.4/folders", `{"parent": "root", "name": "a/b"}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"dot dot", "POST", "/api/v1.4/files", `{"parent": "root", "name": ".."}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"NUL", "POST", "/api/v1.4/files", `{"parent": "root", "name": "a\u0000"}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"too long", "POST", "/api/v1.4/files", `{"parent": "root", "name": "` + long + `"}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"empty name", "PUT", "/api/v1.4/folders/" + docs.ID, `{"name": ""}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"no name", "POST", "/api/v1.4/files", `{"parent": "root"}`, f.tok, 400, "BAD_ARGS", "Invalid name"},
			{"no parent", "POST", "/api/v1.4/files", `{"name": "a"}`, f.tok, 400, "BAD_ARGS", "Invalid parent"},
			{"bad parent", "POST", "/api/v1.4/files", `{"parent": "nope", "name": "a"}`, f.tok, 400, "BAD_ARGS", "Invalid parent"},
			{"name of the wrong type", "POST", "/api/v1.4/files", `{"parent": "root", "name": 3}`, f.tok, 400, "BAD_ARGS", "name"},
			{"not JSON", "POST", "/api/v1.4/files", `{"parent"`, f.tok, 400, "BAD_ARGS", ""},
			{"bad id", "GET", "/api/v1.4/files/xyz", "", f.tok, 400, "BAD_ARGS", "Invalid id"},
			{"bad fields", "GET", "/api/v1.4/files/" + docs.ID + "?fields=children", "", f.tok, 400, "BAD_ARGS", "Invalid fields"},
			{"no token", "GET", "/api/v1.4/children", "", "", 401, "UNAUTHORIZED", ""},
			{"no files scope", "GET", "/api/v1.4/children", "", userOnly, 403, "FORBIDDEN", "Token lacks required scope"},
			{"another user's folder", "GET", "/api/v1.4/folders/" + docs.ID, "", bob, 404, "NOT_FOUND", ""},
			{"another user's parent", "POST", "/api/v1.4/folders", `{"parent": "` + docs.ID + `", "name": "x"}`, bob, 404, "NOT_FOUND", ""},
			{"another user's delete", "DELETE", "/api/v1.4/folders/" + docs.ID, "", bob, 404, "NOT_FOUND", ""},
			{"unknown object", "GET", "/api/v1.4/files/" + docs.ID[:32] + strings.Repeat("1", 32), "", f.tok, 404, "NOT_FOUND", ""},
			{"folder as file", "GET", "/api/v1.4/files/" + docs.ID, "", f.tok, 404, "NOT_FOUND", ""},
			{"read outside the scope's folder", "GET", "/api/v1.4/children", "", readDocs, 403, "FORBIDDEN", "Token lacks required scope"},
			{"read a sibling of the scope's folder", "GET", "/api/v1.4/folders/" + other.ID, "", readDocs, 403, "FORBIDDEN", ""},
			{"write with a read scope", "POST", "/api/v1.4/folders", `{"parent": "` + docs.ID + `", "name": "x"}`, readDocs, 403, "FORBIDDEN", ""},
			{"write outside the scope's folder", "POST", "/api/v1.4/folders", `{"parent": "root", "name": "x"}`, writeDocs, 403, "FORBIDDEN", ""},
			{"move out of the scope's folder", "PUT", "/api/v1.4/folders/" + inner.ID, `{"parent": "root"}`, writeDocs, 403, "FORBIDDEN", ""},
			{"root with appdata only", "GET", "/api/v1.4/children", "", appdata, 403, "FORBIDDEN", ""},
			{"appdata without files.appdata", "GET", "/api/v1.4/folders/appdata", "", readAll, 403, "FORBIDDEN", ""},
			{"children before 0.9", "GET", "/api/v0.8/children/" + docs.ID, "", f.tok, 404, "NOT_FOUND", "No such route"},
			{"folders before 0.9", "GET", "/api/v0.8/folders/" + docs.ID, "", f.tok, 404, "NOT_FOUND", "No such route"},
			{"path before 1.2", "GET", "/api/v1.1/folders/" + docs.ID + "/path", "", f.tok, 404, "NOT_FOUND", "No such route"},
			{"folder children before 1.2", "GET", "/api/v1.1/folders/" + docs.ID + "/children", "", f.tok, 404, "NOT_FOUND", "No such route"},
			{"create before 0.10", "POST", "/api/v0.9/folders", `{"parent": "root", "name": "x"}`, f.tok, 404, "NOT_FOUND", "No such route"},
			{"delete before 0.10", "DELETE", "/api/v0.9/files/" + docs.ID, "", f.tok, 404, "NOT_FOUND", "No such route"},
		}
		for _, tc := range tests {
			var h []string
			if tc.tok != "" {
				h = append(h, bearer(tc.tok))
			}
			a := f.call(t, tc.method, tc.path, tc.body, h...)
			if a.status != tc.status {
				t.Errorf("%s: %d %s; want %d", tc.name, a.status, a.body, tc.status)
				continue
			}
			if typ, msg := contentError(t, a); typ != tc.typ || !strings.Contains(msg, tc.msg) {
				t.Errorf("%s: %s %q; want %s with %q", tc.name, typ, msg, tc.typ, tc.msg)
			}
		}
		f.wantEvents(t)

		// What the restricted scopes permit.
		for _, tc := range []struct {
			name, method, path, body, tok string
			status                        int
		}{
			{"read the scope's folder", "GET", "/api/v1.4/folders/" + docs.ID, "", readDocs, 200},
			{"read below it", "GET", "/api/v1.4/folders/" + inner.ID + "/children", "", readDocs, 200},
			{"write below it", "POST", "/api/v1.4/files", `{"parent": "` + inner.ID + `", "name": "f"}`, writeDocs, 201},
			{"appdata", "GET", "/api/v1.4/folders/appdata", "", appdata, 200},
			{"write in appdata", "POST", "/api/v1.4/folders", `{"parent": "appdata", "name": "cache"}`, appdata, 201},
		} {
			if a := f.call(t, tc.method, tc.path, tc.body, bearer(tc.tok)); a.status != tc.status {
				t.Errorf("%s: %d %s; want %d", tc.name, a.status, a.body, tc.status)
			}
			if len(f.events(t)) != 1 {
				t.Errorf("%s: not one event", tc.name)
			}
		}
		a := f.call(t, "GET", "/api/v1.4/folders/appdata?fields=children", "", bearer(appdata))
		if got := decode[Folder](t, a); got.Name != AppDataName || len(got.Children.Folders) != 1 || strings.HasPrefix(got.ID, f.sid) {
			t.Errorf("appdata %s", a.body)
		}
		f.events(t)
	})
}

// TestFiles_Unavailable closes the tree's database: the file routes
// answer 503 INTERNAL_ERROR, with or without Endpoint-Consistency:
// strict, which is otherwise served as any request.
func TestFiles_Unavailable(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		db := b.New(t).Open(t)
		store, err := auth.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		files, err := tree.New(ctx, store, tree.Config{ServerUser: OrgAdminID})
		if err != nil {
			t.Fatal(err)
		}
		v := fakeVerifier{tokUser: {Email: aliceEmail, Scopes: scopes(t, "files.read,files.write"), Device: appDevice}}
		r := chi.NewRouter()
		httpapi.Mount(r, New(Config{Verifier: v, Files: files, Logger: testLogger(io.Discard)}).Routes(),
			func(httpapi.Access) []func(http.Handler) http.Handler { return nil })
		srv := httptest.NewServer(r)
		t.Cleanup(srv.Close)
		if a := call(t, srv, "GET", "/api/v1.4/children", "", bearer(tokUser), "Endpoint-Consistency: strict"); a.status != 200 {
			t.Fatalf("strict: %d %s", a.status, a.body)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		for _, h := range [][]string{{bearer(tokUser)}, {bearer(tokUser), "Endpoint-Consistency: strict"}} {
			for _, rq := range [][3]string{{"GET", "/api/v1.4/children", ""}, {"POST", "/api/v1.4/folders", `{"parent":"root","name":"x"}`}} {
				a := call(t, srv, rq[0], rq[1], rq[2], h...)
				if a.status != 503 {
					t.Errorf("%s %s %v: %d %s", rq[0], rq[1], h, a.status, a.body)
					continue
				}
				if typ, msg := contentError(t, a); typ != "INTERNAL_ERROR" || !strings.Contains(msg, "content store is unavailable") || a.header.Get("Retry-After") == "" {
					t.Errorf("%s %s: %s %q", rq[0], rq[1], typ, msg)
				}
			}
		}
	})
}

// auditedPrefixes are the paths (after the version) under which every
// call that succeeds reads or changes files, so must leave an event.
var auditedPrefixes = []string{"/children", "/folders", "/files"}

// walkBodies are the bodies TestRoutes_Audited sends, by route; a route
// not listed gets walkBody's.
var walkBodies = map[string]string{
	"POST " + Prefix + "/{version}/folders/{id}/copy": `{"parent": "root", "name": "walk copy"}`,
}

// walkBody is the default body: a new child of the folder for POST, a
// new name for PUT.
func walkBody(method, folder string) string {
	switch method {
	case "POST":
		return `{"parent": "` + folder + `", "name": "new ` + token.New() + `"}`
	case "PUT":
		return `{"name": "renamed ` + token.New() + `"}`
	}
	return ""
}

// TestRoutes_Audited walks the API's route table (so that a route added
// under auditedPrefixes is covered as it is added) and calls each such
// route as the owner of fresh objects: it must succeed, and leave an
// audit event. A route it cannot make succeed fails the test until its
// call is added to walkBodies.
func TestRoutes_Audited(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		n := 0
		for _, rt := range New(Config{Accounts: f.store, Files: f.files, Blobs: f.blobs, Uploads: f.uploads, Passwords: f.hasher, Logger: testLogger(io.Discard)}).Routes() {
			rest, ok := strings.CutPrefix(rt.Pattern, Prefix+"/{version}")
			if !ok || rt.Access != httpapi.Scoped || !hasAnyPrefix(rest, auditedPrefixes) {
				continue
			}
			n++
			objects := newTreeObjects(t, f.accountsEnv, aliceEmail, f.device)
			f.events(t)
			body, ok := walkBodies[rt.Method+" "+rt.Pattern]
			if !ok {
				body = walkBody(rt.Method, objects.folder)
			}
			a := f.do(t, rt.Method, fillPath(rt.Pattern, aliceEmail, objects), body)
			if a.status < 200 || a.status > 299 {
				t.Errorf("%s %s: %d %s: the walk cannot exercise it; add its call to walkBodies", rt.Method, rt.Pattern, a.status, a.body)
				continue
			}
			if len(f.events(t)) == 0 {
				t.Errorf("%s %s: %d and no audit event", rt.Method, rt.Pattern, a.status)
			}
		}
		if n < 16 {
			t.Errorf("walked %d routes of the file tree", n)
		}
	})
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

// FuzzObjectBody feeds the files and folders bodies through the API's
// decoding and checks: it never panics, and whatever it accepts is a
// name the tree takes and a parent it can resolve.
func FuzzObjectBody(f *testing.F) {
	for _, s := range []string{`{"parent":"root","name":"a.txt"}`, `{"parent":"3293523a4ca93cd5bcc17d4c4a009468","name":".."}`,
		`{"name":"a/b"}`, `{"parent":3}`, `{`, `null`, `{"name":"\u0000"}`, `{"parent":"appdata","name":"\ud800"}`} {
		f.Add([]byte(s))
	}
	a := New(Config{})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := &Request{Request: httptest.NewRequest("POST", "/", bytes.NewReader(body)), api: a}
		var b objectBody
		if err := r.Decode(&b); err != nil {
			return
		}
		if b.Parent != nil {
			if ref, err := bodyRef(*b.Parent); err == nil && ref.Alias == "" && len(ref.ID.String()) != 64 {
				t.Errorf("parent %q read as %+v", *b.Parent, ref)
			}
		}
		if b.Name != nil && tree.CheckName(*b.Name) == nil && (strings.Contains(*b.Name, "/") || *b.Name == "..") {
			t.Errorf("name %q accepted", *b.Name)
		}
	})
}
