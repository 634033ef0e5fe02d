package tree

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestRevisions_BlobLifetime: a revision keeps its blob stored after
// the file moved on; the blob goes when the bound drops the revision,
// and a file's delete releases its revisions' blobs. Copies share the
// blobs and keep them too.
func TestRevisions_BlobLifetime(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		disk, err := diskblob.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		a, err := auth.New(ctx, b.New(t).Open(t))
		if err != nil {
			t.Fatal(err)
		}
		s, err := New(ctx, a, Config{ServerUser: ":2", Blobs: disk, Revisions: 1})
		if err != nil {
			t.Fatal(err)
		}
		me := Actor{User: alice, Device: app}
		f, err := s.Create(ctx, me, File, Ref{Alias: AliasRoot}, "f", nil)
		if err != nil {
			t.Fatal(err)
		}
		stored := func(key string) bool {
			r, err := disk.Open(ctx, key)
			if err != nil {
				return false
			}
			r.Close()
			return true
		}
		set := func(body string) string {
			info, err := disk.Put(ctx, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.SetContent(ctx, me, Ref{ID: f.ID}, Content{Key: info.Key, Size: info.Size, ETag: info.Key, Verify: verify(disk, info.Key)}, nil); err != nil {
				t.Fatal(err)
			}
			return info.Key
		}
		k1 := set("one")
		k2 := set("two")
		if !stored(k1) {
			t.Fatal("revision 1's blob went while the revision is kept")
		}
		k3 := set("three") // the bound (1) drops revision 1
		if stored(k1) || !stored(k2) || !stored(k3) {
			t.Fatalf("after the bound: one %v two %v three %v", stored(k1), stored(k2), stored(k3))
		}
		if _, err := s.RestoreRevision(ctx, me, Ref{ID: f.ID}, 1, nil); !errors.Is(err, ErrNoRevision) {
			t.Fatalf("restore a dropped revision: %v", err)
		}
		cp, err := s.Copy(ctx, me, File, Ref{ID: f.ID}, CopyTo{Parent: Ref{Alias: AliasRoot}, Name: ptr("copy")}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, me, File, Ref{ID: f.ID}, nil); err != nil {
			t.Fatal(err)
		}
		if stored(k2) || !stored(k3) {
			t.Fatalf("after the delete: two %v three %v (the copy's)", stored(k2), stored(k3))
		}
		if err := s.Delete(ctx, me, File, Ref{ID: cp.ID}, nil); err != nil {
			t.Fatal(err)
		}
		if stored(k3) {
			t.Fatal("the copy's blob stayed after its delete")
		}
	})
}

func ptr[T any](v T) *T { return &v }
