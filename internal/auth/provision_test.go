package auth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

func TestProvision(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		v := Vouched{Authority: AuthorityLDAP, Subject: "uid=carol,ou=people,dc=example,dc=com",
			Email: "Carol@Example.com", FirstName: "Carol\n", LastName: strings.Repeat("é", 80)}
		u, created, err := s.Provision(ctx, v)
		if err != nil || !created {
			t.Fatalf("Provision = %v, %v", created, err)
		}
		if u.Email != "carol@example.com" || u.FirstName != "Carol" || len(u.LastName) != 100 || u.HasPassword || u.Level != LevelUser {
			t.Errorf("provisioned %+v", u)
		}
		want := []summary{{Event: "user.org.provision", Fields: map[string]string{"user": `"carol@example.com"`, "authority": `"LDAP"`}}}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
		if a, sub, err := s.ProvisionedBy(ctx, "carol@example.com"); err != nil || a != AuthorityLDAP || sub != v.Subject {
			t.Errorf("ProvisionedBy = %q, %q, %v", a, sub, err)
		}

		// Again: the account as it is, nothing written.
		v.FirstName = "Other"
		if u2, created, err := s.Provision(ctx, v); err != nil || created || u2 != u {
			t.Errorf("second Provision = %+v, %v, %v", u2, created, err)
		}
		// A local user is left as they are, and was not provisioned.
		if _, err := s.CreateUser(ctx, Actor{Email: LocalCaller}, NewUser{Email: "dave@example.com", FirstName: "Dave", PasswordHash: "$argon2id$x"}); err != nil {
			t.Fatal(err)
		}
		drainSummaries(t, s)
		u, created, err = s.Provision(ctx, Vouched{Authority: AuthorityOpenID, Subject: "sub-1", Email: "dave@example.com", FirstName: "D", Admin: true})
		if err != nil || created || u.FirstName != "Dave" || !u.HasPassword || u.Level != LevelUser {
			t.Errorf("Provision of a local user = %+v, %v, %v", u, created, err)
		}
		if _, _, err := s.ProvisionedBy(ctx, "dave@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ProvisionedBy(local) = %v", err)
		}
		if got := drainSummaries(t, s); len(got) != 0 {
			t.Errorf("events for an existing user: %v", got)
		}

		// An administrator, by the authority's pseudo-user.
		if u, _, err := s.Provision(ctx, Vouched{Authority: AuthorityOpenID, Subject: "sub-2", Email: "erin@example.com", Admin: true}); err != nil || u.Level != LevelAdmin {
			t.Fatalf("Provision(admin) = %+v, %v", u, err)
		}
		want = []summary{
			{Event: "user.org.provision", Fields: map[string]string{"user": `"erin@example.com"`, "authority": `"OpenID"`}},
			{Event: "user.org.authorization", Fields: map[string]string{"admin_user": `":openid"`, "target_user": `"erin@example.com"`, "new_level": `"ADMIN"`}},
		}
		if diff := cmp.Diff(want, drainSummaries(t, s)); diff != "" {
			t.Errorf("admin events (-want +got):\n%s", diff)
		}
		// Deleting a provisioned user deletes its provisioning.
		if err := s.DeleteUser(ctx, Actor{Email: LocalCaller}, "erin@example.com"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ProvisionedBy(ctx, "erin@example.com"); !errors.Is(err, ErrNotFound) {
			t.Errorf("ProvisionedBy(deleted) = %v", err)
		}

		for _, bad := range []Vouched{
			{Authority: "Credential", Subject: "x", Email: "f@example.com"},
			{Authority: AuthorityLDAP, Subject: "", Email: "f@example.com"},
			{Authority: AuthorityLDAP, Subject: "x", Email: "not-an-email"},
		} {
			var fe *FieldError
			if _, _, err := s.Provision(ctx, bad); !errors.As(err, &fe) {
				t.Errorf("Provision(%+v) = %v; want a FieldError", bad, err)
			}
		}
	})
}
