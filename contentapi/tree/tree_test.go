package tree

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

const (
	alice = "alice@example.com"
	bob   = "bob@example.com"
	app   = "40f9cddab98a432b9c60d734f5f63e7e"
)

// deletedBlobs is a BlobDeleter that remembers what it was asked.
type deletedBlobs struct {
	mu   sync.Mutex
	keys []string
}

func (d *deletedBlobs) Delete(_ context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.keys = append(d.keys, key)
	return nil
}

func newTree(t *testing.T, b metadbtest.Backend, blobs BlobDeleter) (*Store, *auth.Store) {
	t.Helper()
	a, err := auth.New(context.Background(), b.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), a, Config{ServerUser: ":2", Blobs: blobs})
	if err != nil {
		t.Fatal(err)
	}
	return s, a
}

// names drains the outbox: each event's name and operation.
func names(t *testing.T, a *auth.Store) []string {
	t.Helper()
	var out []string
	if _, err := a.DrainOutbox(context.Background(), func(e *schema.Event) error {
		out = append(out, e.Name()+" "+string(e.Value("operations")))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTree_Lifecycle(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		blobs := &deletedBlobs{}
		s, a := newTree(t, b, blobs)
		ctx := context.Background()
		me := Actor{User: alice, Device: app}
		root, err := s.Get(ctx, me, Ref{Alias: AliasRoot}, Query{Children: true})
		if err != nil {
			t.Fatal(err)
		}
		if !root.ID.IsRoot() || len(root.Children) != 0 {
			t.Fatalf("root %+v", root)
		}
		again, err := s.Get(ctx, me, Ref{ID: ID{SID: root.ID.SID, OID: RootOID}}, Query{})
		if err != nil || again.ID != root.ID {
			t.Fatalf("root by sid: %v %+v", err, again)
		}
		docs, err := s.Create(ctx, me, Folder, Ref{Alias: AliasRoot}, "docs", nil)
		if err != nil {
			t.Fatal(err)
		}
		sub, err := s.Create(ctx, me, Folder, Ref{ID: docs.ID}, "sub", nil)
		if err != nil {
			t.Fatal(err)
		}
		f, err := s.Create(ctx, me, File, Ref{ID: sub.ID}, "a.txt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path() != "docs/sub/a.txt" || f.ContentETag != emptyETag {
			t.Errorf("file %q %q", f.Path(), f.ContentETag)
		}
		if _, err := s.Create(ctx, me, File, Ref{ID: sub.ID}, "a.txt", nil); !errors.Is(err, ErrConflict) {
			t.Errorf("same name: %v", err)
		}
		if _, err := s.Create(ctx, me, File, Ref{ID: f.ID}, "b", nil); !errors.Is(err, ErrNoParent) {
			t.Errorf("file as parent: %v", err)
		}
		docsRef := Ref{ID: docs.ID}
		if _, err := s.Move(ctx, me, Folder, docsRef, Move{Parent: &Ref{ID: sub.ID}}, nil, nil); !errors.Is(err, ErrIntoItself) {
			t.Errorf("into itself: %v", err)
		}
		if _, err := s.Move(ctx, me, Folder, Ref{Alias: AliasRoot}, Move{Name: new(string)}, nil, nil); err == nil {
			t.Error("renamed the root")
		}
		name := "b.txt"
		moved, err := s.Move(ctx, me, File, Ref{ID: f.ID}, Move{Parent: &docsRef, Name: &name}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if moved.Path() != "docs/b.txt" || moved.Version != 2 || moved.ETag() == f.ETag() {
			t.Errorf("moved %q v%d", moved.Path(), moved.Version)
		}
		// Bob sees nothing of Alice's.
		if _, err := s.Get(ctx, Actor{User: bob, Device: app}, Ref{ID: docs.ID}, Query{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("bob reads alice's folder: %v", err)
		}
		// Two files share one blob: it goes with the last.
		key := "aa" + emptyETag[2:]
		if _, err := s.SetContent(ctx, me, Ref{ID: moved.ID}, Content{Key: key, Size: 3, ETag: key}, nil); err != nil {
			t.Fatal(err)
		}
		g, err := s.Create(ctx, me, File, Ref{ID: sub.ID}, "copy", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetContent(ctx, me, Ref{ID: g.ID}, Content{Key: key, Size: 3, ETag: key}, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, me, File, Ref{ID: moved.ID}, nil); err != nil {
			t.Fatal(err)
		}
		if len(blobs.keys) != 0 {
			t.Errorf("deleted %v while a file refers to it", blobs.keys)
		}
		if err := s.Delete(ctx, me, Folder, docsRef, nil); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(blobs.keys, []string{key}) {
			t.Errorf("deleted blobs %v", blobs.keys)
		}
		if _, err := s.Get(ctx, me, Ref{ID: sub.ID}, Query{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("subtree survived: %v", err)
		}
		want := []string{
			`file.transfer ["META_REQUEST"]`, `file.transfer ["META_REQUEST"]`,
			`file.notification ["CREATE"]`, `file.notification ["CREATE"]`, `file.notification ["CREATE"]`,
			`file.notification ["MOVE"]`, `file.notification ["MODIFY"]`, `file.notification ["CREATE"]`,
			`file.notification ["MODIFY"]`, `file.notification ["DELETE"]`, `file.notification ["DELETE"]`,
		}
		if diff := cmp.Diff(want, names(t, a)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestTree_AppDataAndServerDevice(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s, a := newTree(t, b, nil)
		ctx := context.Background()
		one, err := s.Get(ctx, Actor{User: alice, Device: app}, Ref{Alias: AliasAppData}, Query{})
		if err != nil {
			t.Fatal(err)
		}
		other, err := s.Get(ctx, Actor{User: alice, Device: "ffffffffffffffffffffffffffffffff"}, Ref{Alias: AliasAppData}, Query{})
		if err != nil {
			t.Fatal(err)
		}
		root, err := s.Get(ctx, Actor{User: alice, Device: app}, Ref{Alias: AliasRoot}, Query{})
		if err != nil {
			t.Fatal(err)
		}
		if !one.AppData || one.ID == other.ID || one.ID.SID == root.ID.SID || root.AppData {
			t.Errorf("appdata %v %v root %v", one.ID, other.ID, root.ID)
		}
		// A second store on the same database keeps the server's device.
		s2, err := New(ctx, a, Config{ServerUser: ":2"})
		if err != nil {
			t.Fatal(err)
		}
		if s2.ServerDevice() != s.ServerDevice() || len(s.ServerDevice()) != 32 {
			t.Errorf("server device %q then %q", s.ServerDevice(), s2.ServerDevice())
		}
	})
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a.txt", true}, {"Ünïcødé ✓", true}, {"..a", true}, {string(make([]byte, 255)), false},
		{"", false}, {".", false}, {"..", false}, {"a/b", false}, {"a\x00b", false}, {"\xff", false},
		{string(slices.Repeat([]byte("x"), 255)), true}, {string(slices.Repeat([]byte("x"), 256)), false},
	} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v; want ok %v", tc.name, err, tc.ok)
		}
	}
}

func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"a.txt", "", ".", "..", "a/b", "a\x00", "\xff\xfe", "名前"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if CheckName(s) != nil {
			return
		}
		if s == "." || s == ".." || len(s) > MaxNameBytes || slices.Contains([]byte(s), '/') || slices.Contains([]byte(s), 0) {
			t.Errorf("accepted %q", s)
		}
	})
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"root", "APPDATA", "3293523a4ca93cd5bcc17d4c4a009468", "3293523A4CA93CD5BCC17D4C4A009468d1e675b41e8d4c309fc9796a899ee405", "x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			return
		}
		if r.Alias != "" {
			return
		}
		again, err := ParseRef(r.ID.String())
		if err != nil || again != r || len(r.ID.SID) != 32 || len(r.ID.OID) != 32 {
			t.Errorf("%q read as %+v, which reads back as %+v, %v", s, r, again, err)
		}
	})
}
