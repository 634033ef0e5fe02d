package contentapi

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestFiles_Copy copies files and folders through the real router: the
// copy's answer, its one CREATE event, its content (the same blob, alive
// after the original's delete), and the refusals (400, 403, 404, 409),
// none of which records anything.
func TestFiles_Copy(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		src := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "src"}`))
		sub := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "`+src.ID+`", "name": "sub"}`))
		a := decode[File](t, f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+src.ID+`", "name": "a.txt"}`))
		want(t, "upload", f.do(t, "PUT", "/api/v1.4/files/"+a.ID+"/content", "hello"), 204)
		f.events(t)

		// A file, renamed: the same content, a new id.
		ans := f.do(t, "POST", "/api/v1.4/files/"+a.ID+"/copy", `{"parent": "root", "name": "a copy.txt"}`)
		want(t, "copy file", ans, 201)
		cp := decode[File](t, ans)
		if cp.ID == a.ID || cp.Name != "a copy.txt" || cp.Size != 5 || cp.ETag != sha("hello") || cp.Parent != f.sid+strings.Repeat("0", 32) {
			t.Errorf("copy %+v", cp)
		}
		if loc := ans.header.Get("Location"); loc != "/api/v1.4/files/"+cp.ID {
			t.Errorf("Location %q", loc)
		}
		f.wantEvents(t, f.wrote("CREATE", cp.ID, "a copy.txt"))

		// Its own name by default; a second copy of that name clashes.
		want(t, "copy keeping the name", f.do(t, "POST", "/api/v1.4/files/"+a.ID+"/copy", `{"parent": "`+sub.ID+`"}`), 201)
		f.events(t)
		want(t, "clash", f.do(t, "POST", "/api/v1.4/files/"+a.ID+"/copy", `{"parent": "`+sub.ID+`"}`), 409)
		f.wantEvents(t)

		// A folder: its whole subtree, one event.
		ans = f.do(t, "POST", "/api/v1.4/folders/"+src.ID+"/copy", `{"parent": "root", "name": "dst"}`)
		want(t, "copy folder", ans, 201)
		dst := decode[Folder](t, ans)
		f.wantEvents(t, f.wrote("CREATE", dst.ID, "dst"))
		kids := decode[Children](t, f.do(t, "GET", "/api/v1.4/folders/"+dst.ID+"/children", ""))
		f.events(t)
		var names []string
		for _, d := range kids.Folders {
			names = append(names, d.Name)
			inner := decode[Children](t, f.do(t, "GET", "/api/v1.4/folders/"+d.ID+"/children", ""))
			f.events(t)
			for _, c := range inner.Files {
				names = append(names, d.Name+"/"+c.Name)
			}
		}
		for _, c := range kids.Files {
			names = append(names, c.Name)
			if c.ID == a.ID || c.ETag != sha("hello") {
				t.Errorf("copied file %+v", c)
			}
		}
		if diff := cmp.Diff([]string{"sub", "sub/a.txt", "a.txt"}, names); diff != "" {
			t.Errorf("copied tree (-want +got):\n%s", diff)
		}

		// The blob outlives the original.
		want(t, "delete original", f.do(t, "DELETE", "/api/v1.4/files/"+a.ID, ""), 204)
		f.events(t)
		if got := f.do(t, "GET", "/api/v1.4/files/"+cp.ID+"/content", ""); got.status != 200 || got.body != "hello" {
			t.Errorf("copy's content after the delete: %d %q", got.status, got.body)
		}
		f.events(t)

		for _, tt := range []struct {
			name, path, body string
			status           int
		}{
			{"no parent", "/api/v1.4/files/" + cp.ID + "/copy", `{"name": "x"}`, 400},
			{"bad name", "/api/v1.4/files/" + cp.ID + "/copy", `{"parent": "root", "name": "a/b"}`, 400},
			{"bad parent", "/api/v1.4/files/" + cp.ID + "/copy", `{"parent": "nope"}`, 400},
			{"bad body", "/api/v1.4/files/" + cp.ID + "/copy", `{`, 400},
			{"into itself", "/api/v1.4/folders/" + src.ID + "/copy", `{"parent": "` + sub.ID + `"}`, 400},
			{"the root", "/api/v1.4/folders/root/copy", `{"parent": "` + sub.ID + `"}`, 403},
			{"gone", "/api/v1.4/files/" + a.ID + "/copy", `{"parent": "root"}`, 404},
			{"folder as file", "/api/v1.4/files/" + src.ID + "/copy", `{"parent": "root", "name": "y"}`, 404},
			{"parent a file", "/api/v1.4/files/" + cp.ID + "/copy", `{"parent": "` + cp.ID + `", "name": "y"}`, 404},
			{"before 1.4", "/api/v1.3/files/" + cp.ID + "/copy", `{"parent": "root", "name": "y"}`, 404},
		} {
			want(t, tt.name, f.do(t, "POST", tt.path, tt.body), tt.status)
			f.wantEvents(t)
		}

		// Scopes: reading the source is enough, writing the parent is not.
		ro := f.scoped(t, "files.read")
		want(t, "read-only token", f.call(t, "POST", "/api/v1.4/files/"+cp.ID+"/copy", `{"parent": "root", "name": "z"}`, bearer(ro)), 403)
		f.wantEvents(t)
	})
}

// TestFiles_CopyQuota: a copy's bytes count toward the quota although
// they share a blob; one over it is 507 and changes nothing; crossing
// 80% warns.
func TestFiles_CopyQuota(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := &filesEnv{accountsEnv: newAccountsEnv(t, b, func(c *Config) { c.Org.Quota = 100 })}
		f.server = f.files.ServerDevice()
		f.tok, f.device = f.signIn(t, aliceEmail, alicePW)
		id := f.newFile(t, "q.bin")
		want(t, "upload", f.do(t, "PUT", "/api/v1.4/files/"+id+"/content", strings.Repeat("x", 30)), 204)
		f.events(t)
		names := func() string {
			var out []string
			for _, e := range f.events(t) {
				out = append(out, e["event"].(string))
			}
			return strings.Join(out, " ")
		}
		want(t, "60%", f.do(t, "POST", "/api/v1.4/files/"+id+"/copy", `{"parent": "root", "name": "c1"}`), 201)
		if got := names(); got != "file.notification" {
			t.Errorf("at 60%%: %s", got)
		}
		want(t, "90%", f.do(t, "POST", "/api/v1.4/files/"+id+"/copy", `{"parent": "root", "name": "c2"}`), 201)
		if got := names(); got != "file.notification user.quota.warning" {
			t.Errorf("at 90%%: %s", got)
		}
		a := f.do(t, "POST", "/api/v1.4/files/"+id+"/copy", `{"parent": "root", "name": "c3"}`)
		want(t, "over", a, 507)
		if typ, _ := contentError(t, a); typ != "INSUFFICIENT_STORAGE" {
			t.Errorf("507: %s", a.body)
		}
		f.wantEvents(t)
		if u, err := f.store.Usage(context.Background(), aliceEmail); err != nil || u != 90 {
			t.Errorf("usage %d, %v", u, err)
		}
	})
}
