package link

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// TestStore_Reach checks who may manage a link and what a folder link
// reaches, on both databases.
func TestStore_Reach(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		a, err := auth.New(ctx, b.New(t).Open(t))
		if err != nil {
			t.Fatal(err)
		}
		files, err := tree.New(ctx, a, tree.Config{ServerUser: ":2a3f"})
		if err != nil {
			t.Fatal(err)
		}
		links, err := New(ctx, a, nil)
		if err != nil {
			t.Fatal(err)
		}
		alice := tree.Actor{User: "alice@example.com", Device: "0123456789abcdef0123456789abcdef"}
		root := tree.Ref{Alias: tree.AliasRoot}
		mk := func(kind tree.Kind, parent tree.Ref, name string) tree.ID {
			v, err := files.Create(ctx, alice, kind, parent, name, nil)
			if err != nil {
				t.Fatal(err)
			}
			return v.ID
		}
		docs := mk(tree.Folder, root, "docs")
		inner := mk(tree.File, tree.Ref{ID: docs}, "inner.txt")
		outside := mk(tree.File, root, "outside.txt")
		caller := json.RawMessage(`{"email":"alice@example.com"}`)
		owner := Actor{User: alice.User, Caller: caller, IP: "192.0.2.1"}
		bob := Actor{User: "bob@example.com", Caller: json.RawMessage(`{"email":"bob@example.com"}`), IP: "192.0.2.2"}
		admin := Actor{User: "admin@example.com", Admin: true, Caller: json.RawMessage(`{"email":"admin@example.com"}`), IP: "192.0.2.3"}

		if _, err := links.Create(ctx, bob, docs, Settings{}); !errors.Is(err, ErrNoObject) {
			t.Errorf("Bob links Alice's folder: %v", err)
		}
		l, err := links.Create(ctx, owner, docs, Settings{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := links.Get(ctx, bob, l.Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Bob reads Alice's link: %v", err)
		}
		if _, err := links.Get(ctx, admin, l.Key); err != nil {
			t.Errorf("the admin reads Alice's link: %v", err)
		}
		for _, tc := range []struct {
			name   string
			target tree.ID
			want   error
		}{
			{"the folder", tree.ID{}, nil},
			{"inside", inner, nil},
			{"outside", outside, ErrNotFound},
			{"the root", tree.ID{SID: docs.SID, OID: tree.RootOID}, ErrNotFound},
		} {
			v, err := links.Access(ctx, l, Use{Target: tc.target, IP: "192.0.2.9"})
			if !errors.Is(err, tc.want) {
				t.Errorf("%s: %v; want %v", tc.name, err, tc.want)
			}
			if err == nil && len(v.Ancestors) > 0 && v.Ancestors[0].ID != docs {
				t.Errorf("%s: ancestors above the link: %v", tc.name, v.Ancestors)
			}
		}
		if _, err := links.Access(ctx, l, Use{Download: true}); !errors.Is(err, ErrNotFile) {
			t.Errorf("download of a folder: %v", err)
		}
		exp := time.Now().Add(time.Hour)
		if got, err := links.Change(ctx, owner, l.Key, Settings{Expires: &exp}, EventSetExpiry); err != nil || got.Expires.IsZero() || got.Expired(time.Now()) || !got.Expired(exp) {
			t.Errorf("set expiry: %+v, %v", got, err)
		}
		if err := links.Delete(ctx, bob, l.Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Bob deletes Alice's link: %v", err)
		}
		if err := links.Delete(ctx, owner, l.Key); err != nil {
			t.Fatal(err)
		}
		if _, err := links.Find(ctx, l.Key); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted link found: %v", err)
		}
		var names []string
		if _, err := a.DrainOutbox(ctx, func(ev *schema.Event) error {
			if ev.Topic() == schema.TopicLink {
				names = append(names, ev.Name())
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want := []string{"link.create", "link.access", "link.access", "link.set_expiry", "link.delete"}
		if diff := cmp.Diff(want, names); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}
