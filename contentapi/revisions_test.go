package contentapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestRevisions: each content change keeps the previous content (up to
// the bound, 3 in these tests); a revision lists, downloads (ranges
// too) and restores through the real router, with exact events.
func TestRevisions(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		id := f.newFile(t, "r.txt")
		base := "/api/v1.4/files/" + id
		put := func(body string) {
			t.Helper()
			want(t, "upload "+body, f.do(t, "PUT", base+"/content", body), 204)
			f.events(t)
		}
		list := func() []string {
			t.Helper()
			a := f.do(t, "GET", base+"/revisions", "")
			want(t, "list", a, 200)
			f.wantEvents(t, f.read(id, "r.txt"))
			var out []string
			for _, r := range decode[Revisions](t, a).Revisions {
				out = append(out, r.ETag)
			}
			return out
		}
		if got := list(); len(got) != 0 {
			t.Errorf("a new file's revisions: %v", got)
		}
		put("one")
		put("two")
		put("three")
		if diff := cmp.Diff([]string{sha("two"), sha("one")}, list()); diff != "" {
			t.Errorf("revisions (-want +got):\n%s", diff)
		}

		// Download revision 1, whole and a range.
		a := f.do(t, "GET", base+"/revisions/1/content", "")
		if a.status != 200 || a.body != "one" || a.header.Get("Etag") != `"`+sha("one")+`"` {
			t.Errorf("revision 1: %d %q ETag %s", a.status, a.body, a.header.Get("Etag"))
		}
		f.wantEvents(t, f.content("CONTENT_REQUEST", id, "r.txt"), f.completed(id, "r.txt", 3))
		a = f.do(t, "GET", base+"/revisions/2/content", "", "Range: bytes=1-")
		if a.status != 206 || a.body != "wo" || a.header.Get("Content-Range") != "bytes 1-2/3" {
			t.Errorf("revision 2 range: %d %q %s", a.status, a.body, a.header.Get("Content-Range"))
		}
		f.events(t)

		// Restore revision 1: If-Match on the current content.
		want(t, "stale", f.do(t, "POST", base+"/revisions/1/restore", "", `If-Match: "`+sha("two")+`"`), 412)
		f.wantEvents(t)
		a = f.do(t, "POST", base+"/revisions/1/restore", "", `If-Match: "`+sha("three")+`"`)
		want(t, "restore", a, 200)
		if got := decode[File](t, a); got.ETag != sha("one") || got.Size != 3 || a.header.Get("Etag") != `"`+sha("one")+`"` {
			t.Errorf("restored %+v, ETag %s", got, a.header.Get("Etag"))
		}
		f.wantEvents(t, f.wrote("MODIFY", id, "r.txt"))
		if a := f.do(t, "GET", base+"/content", ""); a.body != "one" {
			t.Errorf("content after the restore: %q", a.body)
		}
		f.events(t)
		if diff := cmp.Diff([]string{sha("three"), sha("two"), sha("one")}, list()); diff != "" {
			t.Errorf("revisions after the restore (-want +got):\n%s", diff)
		}
		// The bound drops the oldest.
		put("four")
		if diff := cmp.Diff([]string{sha("one"), sha("three"), sha("two")}, list()); diff != "" {
			t.Errorf("revisions at the bound (-want +got):\n%s", diff)
		}

		for _, tt := range []struct {
			name, method, path string
			status             int
		}{
			{"dropped", "GET", base + "/revisions/1/content", 404},
			{"unknown", "POST", base + "/revisions/99/restore", 404},
			{"zero", "GET", base + "/revisions/0/content", 400},
			{"not a number", "POST", base + "/revisions/x/restore", 400},
			{"a folder", "GET", "/api/v1.4/files/root/revisions", 404},
			{"before 1.4", "GET", "/api/v1.3/files/" + id + "/revisions", 404},
		} {
			want(t, tt.name, f.do(t, tt.method, tt.path, ""), tt.status)
			f.wantEvents(t)
		}
		ro := f.scoped(t, "files.read")
		want(t, "read-only restore", f.call(t, "POST", base+"/revisions/2/restore", "", bearer(ro)), 403)
		f.wantEvents(t)
	})
}
