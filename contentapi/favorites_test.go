package contentapi

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestFavorites marks, lists and unmarks favorites through the real
// router, with their exact events: a new mark 201 and
// audit.favorite.add, a repeated one 200 and nothing, a listing one
// META_REQUEST per favorite, an unmark 204 and audit.favorite.remove; a
// deleted object leaves the list; the refusals record nothing.
func TestFavorites(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		f := newFilesEnv(t, b)
		docs := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "docs"}`))
		a := decode[File](t, f.do(t, "POST", "/api/v1.4/files", `{"parent": "`+docs.ID+`", "name": "a.txt"}`))
		f.events(t)
		mark := func(id, path string) event {
			return event{"topic": "AUDIT", "event": "audit.favorite.add", "caller": map[string]any{"email": aliceEmail, "device": f.device},
				"soid": map[string]any{"sid": id[:32], "oid": id[32:]}, "path": map[string]any{"sid": id[:32], "relative_path": path}}
		}

		ans := f.do(t, "PUT", "/api/v1.4/favorites/"+a.ID, "")
		want(t, "mark file", ans, 201)
		if got := decode[File](t, ans); got.ID != a.ID || got.Name != "a.txt" {
			t.Errorf("marked %+v", got)
		}
		f.wantEvents(t, mark(a.ID, "docs/a.txt"))
		want(t, "mark again", f.do(t, "PUT", "/api/v1.4/favorites/"+a.ID, ""), 200)
		f.wantEvents(t)
		f.clock.Add(time.Millisecond) // the listing's order is the marks'
		want(t, "mark folder", f.do(t, "PUT", "/api/v1.4/favorites/"+docs.ID, ""), 201)
		f.wantEvents(t, mark(docs.ID, "docs"))

		got := decode[Favorites](t, f.do(t, "GET", "/api/v1.4/favorites", ""))
		if diff := cmp.Diff([]string{docs.ID}, ids(got.Folders, func(d Folder) string { return d.ID })); diff != "" {
			t.Errorf("folders (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{a.ID}, ids(got.Files, func(d File) string { return d.ID })); diff != "" {
			t.Errorf("files (-want +got):\n%s", diff)
		}
		f.wantEvents(t, f.read(a.ID, "docs/a.txt"), f.read(docs.ID, "docs"))

		// A token restricted to another object sees none of them.
		other := decode[Folder](t, f.do(t, "POST", "/api/v1.4/folders", `{"parent": "root", "name": "other"}`))
		f.events(t)
		narrow := f.scoped(t, "files.read:"+other.ID)
		ans = f.call(t, "GET", "/api/v1.4/favorites", "", bearer(narrow))
		want(t, "narrow list", ans, 200)
		if ans.body != `{"folders":[],"files":[]}` {
			t.Errorf("narrow list: %s", ans.body)
		}
		f.wantEvents(t)

		// Unmark; then it is no favorite (404).
		want(t, "unmark", f.do(t, "DELETE", "/api/v1.4/favorites/"+a.ID, ""), 204)
		un := mark(a.ID, "docs/a.txt")
		un["event"] = "audit.favorite.remove"
		f.wantEvents(t, un)
		want(t, "unmark again", f.do(t, "DELETE", "/api/v1.4/favorites/"+a.ID, ""), 404)
		f.wantEvents(t)

		// A deleted folder leaves the favorites.
		want(t, "delete", f.do(t, "DELETE", "/api/v1.4/folders/"+docs.ID, ""), 204)
		f.events(t)
		if ans := f.do(t, "GET", "/api/v1.4/favorites", ""); ans.status != 200 || ans.body != `{"folders":[],"files":[]}` {
			t.Errorf("after the delete: %d %s", ans.status, ans.body)
		}
		f.wantEvents(t)

		for _, tt := range []struct {
			name, method, path string
			status             int
		}{
			{"bad id", "PUT", "/api/v1.4/favorites/nope", 400},
			{"gone", "PUT", "/api/v1.4/favorites/" + a.ID, 404},
			{"before 1.4", "PUT", "/api/v1.3/favorites/" + other.ID, 404},
			{"mark another", "PUT", "/api/v1.4/favorites/" + other.ID, 201},
		} {
			want(t, tt.name, f.do(t, tt.method, tt.path, ""), tt.status)
			if tt.status < 300 {
				f.events(t)
				continue
			}
			f.wantEvents(t)
		}
		restricted := f.scoped(t, "files.read:"+a.ID)
		want(t, "restricted token", f.call(t, "PUT", "/api/v1.4/favorites/"+other.ID, "", bearer(restricted)), 403)
		f.wantEvents(t)
	})
}

func ids[T any](xs []T, id func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, id(x))
	}
	return out
}
