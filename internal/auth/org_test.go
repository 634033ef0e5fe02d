package auth

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// TestOrg_DeletedAccountLeavesNothing: an account deleted and made again
// with the same email starts afresh in the organization: not removed, in
// no group, with no measured use and no warning given.
func TestOrg_DeletedAccountLeavesNothing(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		ctx := context.Background()
		s, clk := openStore(t, backend)
		local := Actor{Email: LocalCaller}
		for _, email := range []string{"admin@example.com", "bob@example.com"} {
			if _, err := s.CreateUser(ctx, local, NewUser{Email: email}); err != nil {
				t.Fatal(err)
			}
		}
		g, err := s.CreateGroup(ctx, "G")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddGroupMember(ctx, g.ID, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		if warned, err := s.RecordUsage(ctx, "bob@example.com", 90, 100); err != nil || !warned {
			t.Fatalf("RecordUsage: %v, %v", warned, err)
		}
		if err := s.RemoveFromOrg(ctx, Actor{Email: "admin@example.com"}, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveFromOrg(ctx, Actor{Email: "admin@example.com"}, "bob@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("remove again: %v, want ErrNotFound", err)
		}
		if _, err := s.RecordUsage(ctx, "bob@example.com", 1, 100); !errors.Is(err, ErrNotFound) {
			t.Errorf("RecordUsage of a removed user: %v, want ErrNotFound", err)
		}
		if err := s.DeleteUser(ctx, local, "bob@example.com"); err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
		if _, err := s.CreateUser(ctx, local, NewUser{Email: "bob@example.com"}); err != nil {
			t.Fatal(err)
		}
		if st, err := s.Stats(ctx); err != nil || st != (OrgStats{Users: 2, Groups: 1}) {
			t.Errorf("Stats = %+v, %v", st, err)
		}
		if gs, err := s.UserGroups(ctx, "bob@example.com"); err != nil || len(gs) != 0 {
			t.Errorf("UserGroups = %v, %v", gs, err)
		}
		if used, err := s.Usage(ctx, "bob@example.com"); err != nil || used != 0 {
			t.Errorf("Usage = %d, %v", used, err)
		}
		if _, err := s.DrainOutbox(ctx, func(*schema.Event) error { return nil }); err != nil {
			t.Fatal(err)
		}
		if warned, err := s.RecordUsage(ctx, "bob@example.com", 85, 100); err != nil || !warned {
			t.Errorf("RecordUsage of the new account: %v, %v; want a warning", warned, err)
		}
		if _, err := s.AddGroupMember(ctx, g.ID, "bob@example.com"); err != nil {
			t.Errorf("add the new account to the group: %v", err)
		}
		if err := s.RemoveFromOrg(ctx, Actor{Email: "admin@example.com"}, "bob@example.com"); err != nil {
			t.Errorf("remove the new account: %v", err)
		}
	})
}
