package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

func TestSetUserRole(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		local := Actor{Email: LocalCaller}
		for _, nu := range []NewUser{
			{Email: "root@example.com", Level: LevelAdmin},
			{Email: "carol@example.com"},
			{Email: "dave@example.com"},
		} {
			if _, err := s.CreateUser(ctx, local, nu); err != nil {
				t.Fatal(err)
			}
		}
		drainAll(t, s)

		steps := []struct {
			name, email string
			role        Role
			wantRole    Role // the user's Role after the step
			wantErr     error
			wantField   string // the FieldError's field, for refusals
		}{
			{name: "GiveAuditor", email: "Carol@Example.com", role: RoleAuditor, wantRole: RoleAuditor},
			{name: "AgainWritesNothing", email: "carol@example.com", role: RoleAuditor, wantRole: RoleAuditor},
			{name: "AdminIsALevel", email: "dave@example.com", role: RoleAdmin, wantField: "role"},
			{name: "UnknownRole", email: "dave@example.com", role: "reader", wantField: "role"},
			{name: "Empty", email: "dave@example.com", role: "", wantField: "role"},
			{name: "UnknownUser", email: "eve@example.com", role: RoleAuditor, wantErr: ErrNotFound},
			{name: "TakeAway", email: "carol@example.com", role: NoRole, wantRole: ""},
			{name: "NoneAgainWritesNothing", email: "carol@example.com", role: NoRole, wantRole: ""},
			{name: "AuditorAdmin", email: "root@example.com", role: RoleAuditor, wantRole: RoleAuditor},
		}
		for _, st := range steps {
			u, err := s.SetUserRole(ctx, "root@example.com", st.email, st.role)
			var fe *FieldError
			switch {
			case st.wantField != "":
				if !errors.As(err, &fe) || fe.Field != st.wantField {
					t.Errorf("%s: err = %v, want a FieldError on %s", st.name, err, st.wantField)
				}
				continue
			case st.wantErr != nil:
				if !errors.Is(err, st.wantErr) {
					t.Errorf("%s: err = %v, want %v", st.name, err, st.wantErr)
				}
				continue
			case err != nil:
				t.Fatalf("%s: %v", st.name, err)
			}
			if u.Role != st.wantRole {
				t.Errorf("%s: Role = %q, want %q", st.name, u.Role, st.wantRole)
			}
			got, err := s.User(ctx, st.email)
			if err != nil {
				t.Fatal(err)
			}
			if got.Role != st.wantRole {
				t.Errorf("%s: stored Role = %q, want %q", st.name, got.Role, st.wantRole)
			}
		}
		want := []summary{
			{Event: "audit.user.role", Fields: map[string]string{"caller": `{"email":"root@example.com"}`, "user": `"carol@example.com"`, "role": `"auditor"`, "old_role": `"none"`}},
			{Event: "audit.user.role", Fields: map[string]string{"caller": `{"email":"root@example.com"}`, "user": `"carol@example.com"`, "role": `"none"`, "old_role": `"auditor"`}},
			{Event: "audit.user.role", Fields: map[string]string{"caller": `{"email":"root@example.com"}`, "user": `"root@example.com"`, "role": `"auditor"`, "old_role": `"none"`}},
		}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestConsoleRole(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		local := Actor{Email: LocalCaller}
		for _, nu := range []NewUser{
			{Email: "root@example.com", Level: LevelAdmin},
			{Email: "carol@example.com"},
			{Email: "dave@example.com"},
		} {
			if _, err := s.CreateUser(ctx, local, nu); err != nil {
				t.Fatal(err)
			}
		}
		for _, email := range []string{"root@example.com", "carol@example.com"} {
			if _, err := s.SetUserRole(ctx, LocalCaller, email, RoleAuditor); err != nil {
				t.Fatal(err)
			}
		}
		roles := func() map[string]Role {
			got := map[string]Role{}
			for _, email := range []string{"root@example.com", "carol@example.com", "dave@example.com"} {
				r, err := s.ConsoleRole(ctx, email)
				if errors.Is(err, ErrNotFound) {
					got[email] = "(no user)"
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				got[email] = r
			}
			return got
		}
		// An administrator acts as admin, whatever role they were given.
		if diff := cmp.Diff(map[string]Role{"root@example.com": RoleAdmin, "carol@example.com": RoleAuditor, "dave@example.com": ""}, roles()); diff != "" {
			t.Errorf("roles (-want +got):\n%s", diff)
		}
		// A demoted administrator keeps the role they were given; a
		// user removed from the organization loses theirs.
		if _, err := s.SetLevel(ctx, local, "root@example.com", LevelUser); err != nil {
			t.Fatal(err)
		}
		if err := s.RemoveFromOrg(ctx, Actor{Email: "root@example.com"}, "carol@example.com"); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]Role{"root@example.com": RoleAuditor, "carol@example.com": "", "dave@example.com": ""}, roles()); diff != "" {
			t.Errorf("roles after demotion and removal (-want +got):\n%s", diff)
		}
		if _, err := s.SetUserRole(ctx, LocalCaller, "carol@example.com", RoleAuditor); !errors.Is(err, ErrNotFound) {
			t.Errorf("role for a removed user: err = %v, want ErrNotFound", err)
		}
		// A deleted user's role goes with the account: the same address
		// signed up again has none.
		if err := s.DeleteUser(ctx, local, "root@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateUser(ctx, local, NewUser{Email: "root@example.com"}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]Role{"root@example.com": "", "carol@example.com": "", "dave@example.com": ""}, roles()); diff != "" {
			t.Errorf("roles after deletion (-want +got):\n%s", diff)
		}
	})
}
