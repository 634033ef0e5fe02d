package contentapi

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/ldapauth"
	"github.com/vigilaudit/vigil/contentapi/ldapauth/ldaptest"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// provisionEnv is the sign-in routes with a directory or an OpenID
// issuer, on a real account store, through the real router; after each
// request it drains the outbox into the request's events, recorded for
// the package's audit-trail check.
type provisionEnv struct {
	accountsEnv
	mu     sync.Mutex
	events []emittedEvent
}

func newProvisionEnv(t *testing.T, b metadbtest.Backend, cfg Config) *provisionEnv {
	t.Helper()
	ctx := context.Background()
	store, err := auth.New(ctx, b.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &provisionEnv{accountsEnv: accountsEnv{store: store, clock: &testClock{t: time.Now().UTC()},
		hasher: password.New(cheapCost), logs: &bytes.Buffer{}, secrets: []string{alicePW}}}
	if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller},
		auth.NewUser{Email: aliceEmail, FirstName: "Alice", LastName: "Liddell", PasswordHash: e.hasher.Hash(alicePW)}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.DrainOutbox(ctx, func(*schema.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	cfg.Accounts, cfg.Passwords, cfg.Now = store, e.hasher, e.clock.Now
	cfg.Logger = testLogger(&lockedWriter{w: e.logs})
	a := New(cfg)
	e.srv = serve(t, a.Routes(), drainAfter(e.store, e.keep))
	t.Cleanup(func() { e.checkNoSecrets(t) })
	return e
}

// keep takes one of a request's events.
func (e *provisionEnv) keep(ev *schema.Event) error {
	e.mu.Lock()
	e.events = append(e.events, summarize(ev))
	e.mu.Unlock()
	return nil
}

// expect checks the events emitted since the last expect, and that none
// holds a secret.
func (e *provisionEnv) expect(t *testing.T, what string, want ...emittedEvent) {
	t.Helper()
	e.mu.Lock()
	got := e.events
	e.events = nil
	e.mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: events (-want +got):\n%s", what, diff)
	}
	for _, ev := range got {
		for _, f := range ev.Fields {
			for _, s := range e.secrets {
				if s != "" && bytes.Contains([]byte(f), []byte(s)) {
					t.Errorf("%s: event %s holds a secret", what, ev.Event)
				}
			}
		}
	}
}

func ev(name string, kv ...string) emittedEvent {
	e := emittedEvent{Event: name, Fields: map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Fields[kv[i]] = kv[i+1]
	}
	return e
}

func signinEvent(email, authority string) emittedEvent {
	return ev("user.signin", "user", `"`+email+`"`, "authority", `"`+authority+`"`, "ip", `"`+localIP+`"`, "user_agent", `"`+testUA+`"`)
}

func provisionEvent(email, authority string) emittedEvent {
	return ev("user.org.provision", "user", `"`+email+`"`, "authority", `"`+authority+`"`)
}

var (
	ldapCarol = ldaptest.User{UID: "carol", Email: "carol@example.com", Password: "carol-ldap-Pw55", GivenName: "Carol", Surname: "Danvers"}
	ldapRoot  = ldaptest.User{UID: "root", Email: "root@example.com", Password: "root-ldap-Pw66", GivenName: "Ro", Surname: "Ot", Admin: true}
	// The directory's alice has her own password and names: the local
	// account stays as it is.
	ldapAlice = ldaptest.User{UID: "alice", Email: aliceEmail, Password: "alice-ldap-Pw77", GivenName: "Ally", Surname: "Other"}
)

func TestLDAPSignIn(t *testing.T) {
	srv := ldaptest.Start(t, ldapCarol, ldapRoot, ldapAlice)
	cfg := ldapauth.Config{URL: srv.URL, BindDN: ldaptest.ServiceDN, BindPassword: ldaptest.ServicePassword,
		BaseDN: ldaptest.BaseDN, AdminGroup: ldaptest.AdminGroup, StartTLS: true, CAFile: srv.CAFile}
	cfg.SetDefaults()
	dir, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newProvisionEnv(t, b, Config{Directory: dir})
		e.secrets = append(e.secrets, ldaptest.ServicePassword, ldapCarol.Password, ldapRoot.Password, ldapAlice.Password)

		// First sign-in: provisioned from the directory, then signed in.
		tok, _ := e.signIn(t, "Carol@Example.com", ldapCarol.Password)
		e.expect(t, "first LDAP sign-in", provisionEvent("carol@example.com", "LDAP"), signinEvent("carol@example.com", "LDAP"))
		if a := e.call(t, "GET", "/api/v1.1/users/carol@example.com", "", bearer(tok)); a.status != 200 ||
			a.body != `{"email":"carol@example.com","first_name":"Carol","last_name":"Danvers","is_admin":false}` {
			t.Errorf("provisioned user: %d %s", a.status, a.body)
		}
		e.expect(t, "GET")
		// Again, and by cookie: no second provisioning.
		e.signIn(t, "carol@example.com", ldapCarol.Password)
		e.expect(t, "second LDAP sign-in", signinEvent("carol@example.com", "LDAP"))
		e.cookieSignIn(t, "carol@example.com", ldapCarol.Password)
		e.expect(t, "LDAP cookie sign-in", signinEvent("carol@example.com", "LDAP"))

		// A member of the admin group is provisioned as an administrator.
		a := e.call(t, "POST", "/auth/signin", `{"email":"root@example.com","password":"`+ldapRoot.Password+`"}`)
		if a.status != 200 || !bytes.Contains([]byte(a.body), []byte(`"user":{"email":"root@example.com","is_admin":true}`)) {
			t.Errorf("admin's first sign-in: %d %s", a.status, a.body)
		}
		e.expect(t, "admin's first sign-in", provisionEvent("root@example.com", "LDAP"),
			ev("user.org.authorization", "admin_user", `":ldap"`, "target_user", `"root@example.com"`, "new_level", `"ADMIN"`),
			signinEvent("root@example.com", "LDAP"))

		// A local user: her local password first, then the directory's;
		// the directory changes nothing of her account.
		e.signIn(t, aliceEmail, alicePW)
		e.expect(t, "local password", signinEvent(aliceEmail, "Credential"))
		tok, _ = e.signIn(t, aliceEmail, ldapAlice.Password)
		e.expect(t, "local user, directory password", signinEvent(aliceEmail, "LDAP"))
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(tok)); a.status != 200 ||
			a.body != `{"email":"alice@example.com","first_name":"Alice","last_name":"Liddell","is_admin":false}` {
			t.Errorf("local user after a directory sign-in: %d %s", a.status, a.body)
		}
		if _, hash, err := e.store.PasswordHash(context.Background(), aliceEmail); err != nil || hash == "" {
			t.Errorf("alice's local password: %q, %v", hash, err)
		}
		e.expect(t, "GET")

		// Refusals: one user.password.error each, nobody provisioned.
		for _, c := range []struct{ email, pw string }{
			{"carol@example.com", "wrong-pw"},
			{"nobody@example.com", ldapCarol.Password},
			{"alice@example.com", ldapCarol.Password},
		} {
			a := e.call(t, "POST", "/auth", `{"username":"`+c.email+`","password":"`+c.pw+`"}`)
			if typ, _ := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" {
				t.Errorf("%s with a wrong password: %d %s", c.email, a.status, a.body)
			}
			e.expect(t, "refused "+c.email, ev("user.password.error", "user", `"`+c.email+`"`, "ip", `"`+localIP+`"`, "user_agent", `"`+testUA+`"`))
		}
		if _, err := e.store.User(context.Background(), "nobody@example.com"); err == nil {
			t.Error("a refused sign-in provisioned its user")
		}
	})
}

func TestLDAPSignIn_DirectoryDown(t *testing.T) {
	cfg := ldapauth.Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=example,dc=com"}
	cfg.SetDefaults()
	dir, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newProvisionEnv(t, b, Config{Directory: dir})
		// The local password still works.
		e.signIn(t, aliceEmail, alicePW)
		e.expect(t, "local sign-in", signinEvent(aliceEmail, "Credential"))
		a := e.call(t, "POST", "/auth", `{"username":"carol@example.com","password":"some-Pw"}`)
		if typ, _ := contentError(t, a); a.status != 503 || typ != "INTERNAL_ERROR" || a.header.Get("Retry-After") == "" {
			t.Errorf("directory down: %d %s %v", a.status, a.body, a.header)
		}
		e.expect(t, "directory down")
	})
}
