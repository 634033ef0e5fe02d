package contentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// orgEnv is the content API with a real account store and the
// organization configured as org, through the real router. After each
// request it drains the outbox into the request's events, recorded for
// the package's audit-trail check (sign-ins aside: they are the
// sign-in routes' own).
type orgEnv struct {
	*accountsEnv
	mu  sync.Mutex
	got []event
	// wires are the wire forms of every event drained, which no secret
	// of the test may appear in.
	wires []string
}

func newOrgEnv(t *testing.T, b metadbtest.Backend, org OrgConfig) *orgEnv {
	t.Helper()
	ctx := context.Background()
	store, err := auth.New(ctx, b.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &accountsEnv{store: store, clock: &testClock{t: time.Now().UTC()}, hasher: password.New(cheapCost),
		logs: &bytes.Buffer{}, secrets: []string{adminPW, alicePW, bobPW}}
	for _, u := range []auth.NewUser{
		{Email: adminEmail, FirstName: "Ada", LastName: "Admin", Level: auth.LevelAdmin, PasswordHash: e.hasher.Hash(adminPW)},
		{Email: aliceEmail, FirstName: "Alice", LastName: "Liddell", PasswordHash: e.hasher.Hash(alicePW)},
		{Email: bobEmail, FirstName: "Bob", LastName: "Builder", PasswordHash: e.hasher.Hash(bobPW)},
	} {
		if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := store.DrainOutbox(ctx, func(*schema.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	env := &orgEnv{accountsEnv: e}
	a := New(Config{Accounts: store, Passwords: e.hasher, Now: e.clock.Now, Org: org,
		Logger: testLogger(&lockedWriter{w: e.logs})})
	e.srv = serve(t, a.Routes(), drainAfter(store, env.keep))
	t.Cleanup(func() {
		e.checkNoSecrets(t)
		env.mu.Lock()
		defer env.mu.Unlock()
		for _, w := range env.wires {
			for _, s := range e.secrets {
				if strings.Contains(w, s) {
					t.Errorf("an event holds a secret: %s", w)
				}
			}
		}
	})
	return env
}

// keep takes one of a request's events, and its wire form for the
// secrets check.
func (env *orgEnv) keep(ev *schema.Event) error {
	m, err := eventOf(ev)
	if err != nil {
		return err
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	env.wires = append(env.wires, string(ev.Wire()))
	env.got = append(env.got, m)
	return nil
}

// drain takes the outbox's events that a store method the test called
// wrote (no request: nothing is recorded as a route's).
func (env *orgEnv) drain(t *testing.T) []event {
	t.Helper()
	var got []event
	_, err := env.store.DrainOutbox(context.Background(), func(ev *schema.Event) error {
		m, err := eventOf(ev)
		if err != nil {
			return err
		}
		env.mu.Lock()
		env.wires = append(env.wires, string(ev.Wire()))
		env.mu.Unlock()
		got = append(got, m)
		return nil
	})
	if err != nil {
		t.Errorf("drain: %v", err)
	}
	return got
}

// want checks the events since the last check (sign-ins left out).
func (env *orgEnv) want(t *testing.T, want ...event) {
	t.Helper()
	env.mu.Lock()
	var got []event
	for _, e := range env.got {
		if e["event"] != "user.signin" {
			got = append(got, e)
		}
	}
	env.got = nil
	env.mu.Unlock()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// secret notes a code the test got: no log line or event may hold it.
func (env *orgEnv) secret(s string) { env.secrets = append(env.secrets, s) }

// reset forgets the events not checked yet.
func (env *orgEnv) reset() {
	env.mu.Lock()
	defer env.mu.Unlock()
	env.got = nil
}

// invite invites email_to as tok's user and returns the signup code.
func (env *orgEnv) invite(t *testing.T, tok, to string) string {
	t.Helper()
	a := env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"`+to+`"}`, bearer(tok))
	var inv Invitee
	if err := json.Unmarshal([]byte(a.body), &inv); a.status != 201 || err != nil || !token.Valid(inv.SignupCode) {
		t.Fatalf("invite %s: %d %s", to, a.status, a.body)
	}
	env.secret(inv.SignupCode)
	return inv.SignupCode
}

func wantBadArgs(t *testing.T, a answer, field, what string) {
	t.Helper()
	if typ, msg := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" || !strings.Contains(msg, field) {
		t.Errorf("%s: %d %s; want 400 naming %s", what, a.status, a.body, field)
	}
}

func wantStatus(t *testing.T, a answer, status int, what string) {
	t.Helper()
	if a.status != status {
		t.Errorf("%s: %d %s; want %d", what, a.status, a.body, status)
		return
	}
	if status >= 400 {
		if typ, _ := contentError(t, a); typ != httpapi.ContentType(status) {
			t.Errorf("%s: type %s", what, typ)
		}
	}
}

func orgInvite(inviter, invitee string) event {
	return event{"topic": "USER", "event": "user.org.invite", "inviter": inviter, "invitee": invitee, "organization": auth.OrgID}
}

func orgSignup(user, first, last string) event {
	return event{"topic": "USER", "event": "user.org.signup", "user": user, "first_name": first, "last_name": last,
		"organization": auth.OrgID, "is_admin": false}
}

const carolEmail = "carol@example.com"

func TestInvitees(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		alice, _ := env.signIn(t, aliceEmail, alicePW)
		bob, _ := env.signIn(t, bobEmail, bobPW)
		admin, _ := env.signIn(t, adminEmail, adminPW)

		a := env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"Carol@Example.com","email_from":"alice@example.com","x":1}`, bearer(alice),
			"Content-Type: application/octet-stream")
		var inv Invitee
		if err := json.Unmarshal([]byte(a.body), &inv); a.status != 201 || err != nil {
			t.Fatalf("POST /invitees: %d %s", a.status, a.body)
		}
		env.secret(inv.SignupCode)
		if inv.EmailTo != carolEmail || inv.EmailFrom != aliceEmail || !token.Valid(inv.SignupCode) ||
			a.header.Get("Location") != "/api/v1.3/invitees/carol@example.com" {
			t.Errorf("POST /invitees: %s %v", a.body, a.header)
		}
		env.want(t, orgInvite(aliceEmail, carolEmail))

		// The invitation mail, with the code, waits in the mail outbox.
		mails, err := env.store.ListMail(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(mails) != 1 || mails[0].To != carolEmail || mails[0].Subject != "You are invited to Vigil" ||
			!strings.Contains(mails[0].Body, inv.SignupCode) || !strings.Contains(mails[0].Body, aliceEmail) {
			t.Errorf("mail outbox after the invitation: %+v", mails)
		}

		// The inviter and an administrator see it, without the code.
		for _, tok := range []string{alice, admin} {
			if a := env.call(t, "GET", "/api/v1.3/invitees/carol%40example.com", "", bearer(tok)); a.status != 200 ||
				a.body != `{"email_to":"carol@example.com","email_from":"alice@example.com"}` {
				t.Errorf("GET /invitees/carol: %d %s", a.status, a.body)
			}
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.3/invitees/carol@example.com", "", bearer(bob)), 403, "bob GET carol's invitation")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/invitees/carol@example.com", "", bearer(bob)), 403, "bob DELETE carol's invitation")
		wantStatus(t, env.call(t, "GET", "/api/v1.3/invitees/nobody@example.com", "", bearer(admin)), 404, "GET an unknown invitee")
		wantStatus(t, env.call(t, "GET", "/api/v1.2/invitees/carol@example.com", "", bearer(admin)), 404, "GET /invitees at 1.2")

		// A user of the organization is not invited; only an
		// administrator invites on another's behalf.
		wantStatus(t, env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"bob@example.com"}`, bearer(alice)), 409, "invite a user")
		wantStatus(t, env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"d@example.com","email_from":"bob@example.com"}`, bearer(alice)),
			403, "invite on bob's behalf")
		if a := env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"d@example.com","email_from":"bob@example.com"}`, bearer(admin)); a.status != 201 {
			t.Errorf("admin invites on bob's behalf: %d %s", a.status, a.body)
		} else {
			var inv Invitee
			_ = json.Unmarshal([]byte(a.body), &inv)
			env.secret(inv.SignupCode)
		}
		env.want(t, orgInvite(bobEmail, "d@example.com"))
		for body, field := range map[string]string{
			`{}`:                   "email_to",
			`{"email_to":5}`:       "email_to",
			`{"email_to":"no-at"}`: "email_to",
			`{"email_to":"e@x.com","email_from":"bad"}`: "email_from",
			`{"email_to":"e@x.com","email_from":[]}`:    "email_from",
			`[1]`:                                       "body",
		} {
			wantBadArgs(t, env.call(t, "POST", "/api/v1.3/invitees", body, bearer(admin)), field, body)
		}
		env.want(t)

		// Inviting again gives a new code; the old one stops working.
		again := env.invite(t, alice, carolEmail)
		env.want(t, orgInvite(aliceEmail, carolEmail))
		wantBadArgs(t, env.call(t, "POST", "/auth/signup", `{"signup_code":"`+inv.SignupCode+`","password":"pw-1","first_name":"C","last_name":"S"}`),
			"signup_code", "the replaced code")

		// Withdrawn, the invitation is gone and its code too.
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/invitees/carol@example.com", "", bearer(alice)), 204, "DELETE the invitation")
		wantStatus(t, env.call(t, "GET", "/api/v1.3/invitees/carol@example.com", "", bearer(alice)), 404, "GET a withdrawn invitation")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/invitees/carol@example.com", "", bearer(alice)), 404, "DELETE it again")
		wantBadArgs(t, env.call(t, "POST", "/auth/signup", `{"signup_code":"`+again+`","password":"pw-1","first_name":"C","last_name":"S"}`),
			"signup_code", "a withdrawn code")
		env.want(t)
	})
}

func TestSignUp_WithCode(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		alice, _ := env.signIn(t, aliceEmail, alicePW)
		code := env.invite(t, alice, carolEmail)
		env.want(t, orgInvite(aliceEmail, carolEmail))
		const carolPW = "carol-pw-Qx55ttL"
		env.secret(carolPW)

		for body, field := range map[string]string{
			`{"signup_code":"` + code + `","first_name":"Carol","last_name":"Singer"}`:                     "password",
			`{"signup_code":"` + code + `","password":"` + carolPW + `","last_name":"Singer"}`:             "first_name",
			`{"signup_code":"` + code + `","password":"` + carolPW + `","first_name":"Carol"}`:             "last_name",
			`{"signup_code":"` + code + `","password":"` + carolPW + `","first_name":1,"last_name":"S"}`:   "first_name",
			`{"signup_code":"xyz","password":"` + carolPW + `","first_name":"Carol","last_name":"Singer"}`: "signup_code",
			`{"signup_code":7,"password":"` + carolPW + `"}`:                                               "signup_code",
			`{"signup_code":"` + code + `","password":"` + strings.Repeat("p", 1025) + `"}`:                "password",
		} {
			a := env.call(t, "POST", "/auth/signup", body)
			if typ, msg := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" || !strings.Contains(msg, field) || strings.Contains(msg, carolPW) {
				t.Errorf("signup body naming %s: %d %s", field, a.status, a.body)
			}
		}
		env.want(t)

		a := env.call(t, "POST", "/auth/signup", `{"signup_code":"`+strings.ToUpper(code)+`","password":"`+carolPW+`","first_name":"Carol","last_name":"Singer"}`)
		if a.status != 201 || a.body != `{"email":"carol@example.com","first_name":"Carol","last_name":"Singer","is_admin":false}` {
			t.Fatalf("POST /auth/signup: %d %s", a.status, a.body)
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control %q", cc)
		}
		env.want(t, orgSignup(carolEmail, "Carol", "Singer"))
		env.signIn(t, carolEmail, carolPW)

		// The code is used up.
		wantBadArgs(t, env.call(t, "POST", "/auth/signup", `{"signup_code":"`+code+`","password":"x","first_name":"C","last_name":"S"}`),
			"signup_code", "a used code")
		// Without a code, sign-up is by invitation only.
		wantStatus(t, env.call(t, "POST", "/auth/signup", `{"email":"e@example.com","password":"x","first_name":"E","last_name":"F"}`),
			403, "open sign-up when it is off")
		env.want(t)
	})
}

func TestSignUp_Open(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{OpenSignup: true})
		const pw = "erin-pw-Lm20bbX"
		env.secret(pw)
		a := env.call(t, "POST", "/auth/signup", `{"email":"Erin@Example.com","password":"`+pw+`","first_name":"Erin","last_name":"Hale"}`)
		if a.status != 201 || a.body != `{"email":"erin@example.com","first_name":"Erin","last_name":"Hale","is_admin":false}` {
			t.Fatalf("open sign-up: %d %s", a.status, a.body)
		}
		env.want(t, event{"topic": "USER", "event": "user.account.request", "email": "erin@example.com"},
			orgSignup("erin@example.com", "Erin", "Hale"))
		env.signIn(t, "erin@example.com", pw)
		wantStatus(t, env.call(t, "POST", "/auth/signup", `{"email":"alice@example.com","password":"x","first_name":"A","last_name":"L"}`),
			409, "open sign-up of a user")
		wantBadArgs(t, env.call(t, "POST", "/auth/signup", `{"password":"x","first_name":"A","last_name":"L"}`), "email", "no email")
		env.want(t)
	})
}

func TestOrg_RemoveAndAccept(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		ctx := context.Background()
		admin, _ := env.signIn(t, adminEmail, adminPW)
		bob, _ := env.signIn(t, bobEmail, bobPW)

		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", bearer(admin)), 204, "remove bob")
		env.want(t, event{"topic": "USER", "event": "user.org.remove", "admin_user": adminEmail, "target_user": bobEmail})
		wantStatus(t, env.call(t, "GET", "/api/v1.1/users/bob@example.com", "", bearer(bob)), 401, "bob's token after removal")
		wantStatus(t, env.call(t, "POST", "/auth", `{"username":"bob@example.com","password":"`+bobPW+`"}`), 401, "bob signs in after removal")
		env.reset() // the refused sign-in's user.password.error
		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", bearer(admin)), 404, "remove bob again")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/nobody@example.com", "", bearer(admin)), 404, "remove nobody")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/3/users/alice@example.com", "", bearer(admin)), 404, "another organization")
		wantBadArgs(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/admin@example.com", "", bearer(admin)), "email", "remove oneself")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/organizations/2/users/alice@example.com", "", bearer(admin)), 404, "remove at 1.3")
		if a := env.call(t, "GET", "/api/v1.4/stats/users", "", bearer(admin)); a.body != `{"count":2}` {
			t.Errorf("users after the removal: %s", a.body)
		}
		env.want(t)

		// Invited again, bob accepts, with a new password.
		code := env.invite(t, admin, bobEmail)
		env.want(t, orgInvite(adminEmail, bobEmail))
		const newPW = "bob-new-pw-Tt61"
		env.secret(newPW)
		a := env.call(t, "POST", "/auth/signup", `{"signup_code":"`+code+`","password":"`+newPW+`","first_name":"Robert","last_name":"Builder"}`)
		if a.status != 201 || a.body != `{"email":"bob@example.com","first_name":"Robert","last_name":"Builder","is_admin":false}` {
			t.Fatalf("bob accepts: %d %s", a.status, a.body)
		}
		env.want(t, event{"topic": "USER", "event": "user.org.accept", "user": bobEmail, "previous_org": auth.PrivateOrgID, "new_org": auth.OrgID})
		env.signIn(t, bobEmail, newPW)

		// An administrator removed is demoted too.
		if _, err := env.store.SetLevel(ctx, auth.Actor{Email: auth.LocalCaller}, aliceEmail, auth.LevelAdmin); err != nil {
			t.Fatal(err)
		}
		env.drain(t)
		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/alice@example.com", "", bearer(admin)), 204, "remove alice, an admin")
		env.want(t, event{"topic": "USER", "event": "user.org.remove", "admin_user": adminEmail, "target_user": aliceEmail},
			event{"topic": "USER", "event": "user.org.authorization", "admin_user": adminEmail, "target_user": aliceEmail, "new_level": "USER"})
	})
}

func TestGroups(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		admin, _ := env.signIn(t, adminEmail, adminPW)
		alice, _ := env.signIn(t, aliceEmail, alicePW)

		var ids []string
		for _, name := range []string{"Engineering", "Sales", "Legal"} {
			a := env.call(t, "POST", "/api/v1.3/groups", `{"name":"`+name+`"}`, bearer(admin))
			var g Group
			if err := json.Unmarshal([]byte(a.body), &g); a.status != 201 || err != nil || g.Name != name || len(g.ID) != 32 ||
				!strings.Contains(a.body, `"members":[]`) || a.header.Get("Location") != "/api/v1.3/groups/"+g.ID {
				t.Fatalf("POST /groups: %d %s", a.status, a.body)
			}
			ids = append(ids, g.ID)
			env.clock.Add(time.Millisecond)
		}
		eng := ids[0]
		for body, field := range map[string]string{`{}`: "name", `{"name":" "}`: "name", `{"name":5}`: "name",
			`{"name":"` + strings.Repeat("n", 201) + `"}`: "name", `{"name":"a\u0000b"}`: "name"} {
			wantBadArgs(t, env.call(t, "POST", "/api/v1.3/groups", body, bearer(admin)), field, body)
		}
		wantStatus(t, env.call(t, "POST", "/api/v1.3/groups", `{"name":"X"}`, bearer(alice)), 403, "a user creates a group")

		names := func(q string) []string {
			t.Helper()
			a := env.call(t, "GET", "/api/v1.3/groups"+q, "", bearer(alice))
			var gs []Group
			if err := json.Unmarshal([]byte(a.body), &gs); a.status != 200 || err != nil {
				t.Fatalf("GET /groups%s: %d %s", q, a.status, a.body)
			}
			var out []string
			for _, g := range gs {
				out = append(out, g.Name)
			}
			return out
		}
		for q, want := range map[string][]string{
			"":                    {"Engineering", "Sales", "Legal"},
			"?results=2":          {"Engineering", "Sales"},
			"?offset=2&results=2": {"Legal"},
			"?offset=1":           {"Sales", "Legal"},
			"?offset=5":           nil,
		} {
			if got := names(q); !cmp.Equal(want, got) {
				t.Errorf("GET /groups%s = %v, want %v", q, got, want)
			}
		}
		wantBadArgs(t, env.call(t, "GET", "/api/v1.3/groups?results=0", "", bearer(alice)), "results", "results=0")
		wantBadArgs(t, env.call(t, "GET", "/api/v1.3/groups?offset=-1", "", bearer(alice)), "offset", "offset=-1")
		wantStatus(t, env.call(t, "GET", "/api/v1.2/groups", "", bearer(alice)), 404, "GET /groups at 1.2")

		// Members.
		members := "/api/v1.3/groups/" + eng + "/members"
		a := env.call(t, "POST", members, `{"email":"Alice@Example.com"}`, bearer(admin))
		if a.status != 201 || a.body != `{"email":"alice@example.com","first_name":"Alice","last_name":"Liddell"}` ||
			a.header.Get("Location") != members+"/alice@example.com" {
			t.Errorf("POST members: %d %s %v", a.status, a.body, a.header)
		}
		wantStatus(t, env.call(t, "POST", members, `{"email":"bob@example.com"}`, bearer(admin)), 201, "add bob")
		wantStatus(t, env.call(t, "POST", members, `{"email":"alice@example.com"}`, bearer(admin)), 409, "add alice again")
		wantStatus(t, env.call(t, "POST", members, `{"email":"nobody@example.com"}`, bearer(admin)), 404, "add an unknown user")
		wantStatus(t, env.call(t, "POST", "/api/v1.3/groups/"+ids[2]+"0/members", `{"email":"bob@example.com"}`, bearer(admin)), 404, "add to an unknown group")
		wantBadArgs(t, env.call(t, "POST", members, `{"email":1}`, bearer(admin)), "email", "member email of the wrong type")
		wantBadArgs(t, env.call(t, "POST", members, `{}`, bearer(admin)), "email", "no member email")
		wantStatus(t, env.call(t, "POST", members, `{"email":"bob@example.com"}`, bearer(alice)), 403, "a user adds a member")

		wantGroup := `{"id":"` + eng + `","name":"Engineering","members":[{"email":"alice@example.com","first_name":"Alice","last_name":"Liddell"},` +
			`{"email":"bob@example.com","first_name":"Bob","last_name":"Builder"}]}`
		if a := env.call(t, "GET", "/api/v1.3/groups/"+strings.ToUpper(eng), "", bearer(alice)); a.status != 200 || a.body != wantGroup {
			t.Errorf("GET group: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", members, "", bearer(alice)); a.status != 200 || !strings.HasPrefix(a.body, `[{"email":"alice@example.com"`) {
			t.Errorf("GET members: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", members+"/bob%40example.com", "", bearer(alice)); a.status != 200 ||
			a.body != `{"email":"bob@example.com","first_name":"Bob","last_name":"Builder"}` {
			t.Errorf("GET member: %d %s", a.status, a.body)
		}
		wantStatus(t, env.call(t, "GET", members+"/admin@example.com", "", bearer(alice)), 404, "GET a non-member")
		if a := env.call(t, "GET", "/api/v1.3/users/alice@example.com/groups", "", bearer(alice)); a.status != 200 || a.body != "["+wantGroup+"]" {
			t.Errorf("GET alice's groups: %d %s", a.status, a.body)
		}
		if a := env.call(t, "GET", "/api/v1.3/users/admin@example.com/groups", "", bearer(alice)); a.status != 200 || a.body != "[]" {
			t.Errorf("GET admin's groups: %d %s", a.status, a.body)
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.3/users/nobody@example.com/groups", "", bearer(alice)), 404, "an unknown user's groups")

		wantStatus(t, env.call(t, "DELETE", members+"/bob@example.com", "", bearer(alice)), 403, "a user removes a member")
		wantStatus(t, env.call(t, "DELETE", members+"/bob@example.com", "", bearer(admin)), 204, "remove bob")
		wantStatus(t, env.call(t, "DELETE", members+"/bob@example.com", "", bearer(admin)), 404, "remove bob again")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/groups/"+eng, "", bearer(admin)), 204, "delete the group")
		wantStatus(t, env.call(t, "GET", "/api/v1.3/groups/"+eng, "", bearer(alice)), 404, "GET a deleted group")
		wantStatus(t, env.call(t, "GET", members, "", bearer(alice)), 404, "members of a deleted group")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.3/groups/"+eng, "", bearer(admin)), 404, "delete it again")
		wantStatus(t, env.call(t, "GET", "/api/v1.3/groups/not-an-id", "", bearer(alice)), 404, "a malformed id")
		if a := env.call(t, "GET", "/api/v1.3/users/alice@example.com/groups", "", bearer(alice)); a.body != "[]" {
			t.Errorf("alice's groups after the delete: %s", a.body)
		}
		env.want(t) // the catalog has no group events
	})
}

func TestOrganization_StatsAndQuota(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		const quota = 1000
		env := newOrgEnv(t, b, OrgConfig{Name: "Acme", Quota: quota})
		ctx := context.Background()
		admin, _ := env.signIn(t, adminEmail, adminPW)
		alice, _ := env.signIn(t, aliceEmail, alicePW)

		for _, tok := range []string{alice, admin} {
			if a := env.call(t, "GET", "/api/v1.2/organizations/2", "", bearer(tok)); a.status != 200 || a.body != `{"id":"2","name":"Acme","quota":1000}` {
				t.Errorf("GET /organizations/2: %d %s", a.status, a.body)
			}
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.2/organizations/3", "", bearer(alice)), 404, "another organization")
		wantStatus(t, env.call(t, "GET", "/api/v1.1/organizations/2", "", bearer(alice)), 404, "at 1.1")

		if _, _, err := env.store.AddDevice(ctx, auth.LocalCaller, aliceEmail, "laptop"); err != nil {
			t.Fatal(err)
		}
		env.drain(t)
		env.call(t, "POST", "/api/v1.3/groups", `{"name":"G"}`, bearer(admin))
		for what, want := range map[string]string{"users": `{"count":3}`, "devices": `{"count":1}`, "groups": `{"count":1}`, "shares": `{"count":0}`} {
			if a := env.call(t, "GET", "/api/v1.4/stats/"+what, "", bearer(admin)); a.status != 200 || a.body != want {
				t.Errorf("GET /stats/%s: %d %s, want %s", what, a.status, a.body, want)
			}
			wantStatus(t, env.call(t, "GET", "/api/v1.4/stats/"+what, "", bearer(alice)), 403, "a user's stats")
			wantStatus(t, env.call(t, "GET", "/api/v1.3/stats/"+what, "", bearer(admin)), 404, "stats at 1.3")
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.4/stats/files", "", bearer(admin)), 404, "an unknown statistic")

		quotaOf := func(tok, email string) string {
			t.Helper()
			a := env.call(t, "GET", "/api/v1.2/users/"+email+"/quota", "", bearer(tok))
			if a.status != 200 {
				t.Errorf("GET quota of %s: %d %s", email, a.status, a.body)
			}
			return a.body
		}
		if got := quotaOf(alice, aliceEmail); got != `{"bytes_used":0,"bytes_allowed":1000}` {
			t.Errorf("alice's quota: %s", got)
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.2/users/bob@example.com/quota", "", bearer(alice)), 403, "bob's quota as alice")
		wantStatus(t, env.call(t, "GET", "/api/v1.2/users/nobody@example.com/quota", "", bearer(admin)), 404, "an unknown user's quota")

		// The warning is written once, when the use crosses 80%, and
		// again after it went back under.
		warnings := 0
		for _, tt := range []struct {
			used int64
			warn bool
		}{{700, false}, {799, false}, {800, true}, {950, false}, {400, false}, {810, true}} {
			warned, err := env.store.RecordUsage(ctx, aliceEmail, tt.used, quota)
			if err != nil {
				t.Fatal(err)
			}
			var want []event
			if tt.warn {
				recordEmitted(recordUsage, "user.quota.warning")
				warnings++
				want = []event{{"topic": "USER", "event": "user.quota.warning", "user": aliceEmail, "bytes_used": float64(tt.used), "bytes_allowed": float64(quota)}}
			}
			if got := env.drain(t); warned != tt.warn || !cmp.Equal(want, got) {
				t.Errorf("RecordUsage(%d) = %v, events %v; want %v", tt.used, warned, got, want)
			}
		}
		if got := quotaOf(alice, aliceEmail); got != `{"bytes_used":810,"bytes_allowed":1000}` {
			t.Errorf("alice's quota: %s", got)
		}
		if got := quotaOf(admin, aliceEmail); got != `{"bytes_used":810,"bytes_allowed":1000}` {
			t.Errorf("alice's quota as the admin: %s", got)
		}
		// Without a quota, none is shown and none warns.
		env2 := newOrgEnv(t, b, OrgConfig{})
		tok, _ := env2.signIn(t, aliceEmail, alicePW)
		if warned, err := env2.store.RecordUsage(ctx, aliceEmail, 1<<40, 0); err != nil || warned {
			t.Errorf("RecordUsage without a quota: %v, %v", warned, err)
		}
		if a := env2.call(t, "GET", "/api/v1.2/users/alice@example.com/quota", "", bearer(tok)); a.body != `{"bytes_used":1099511627776}` {
			t.Errorf("quota without one: %s", a.body)
		}
		if a := env2.call(t, "GET", "/api/v1.2/organizations/2", "", bearer(tok)); a.body != `{"id":"2","name":"Vigil"}` {
			t.Errorf("the default organization: %s", a.body)
		}
		env.want(t)
		env2.want(t)
	})
}

// recordUsage is the store method that writes user.quota.warning, which
// the files API calls; the emitters table lists it as a route.
const recordUsage = "(*auth.Store).RecordUsage"

// TestOrg_Credentials tries every organization route with every kind of
// credential.
func TestOrg_Credentials(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		ctx := context.Background()
		user, _ := env.signIn(t, aliceEmail, alicePW)
		admin, _ := env.signIn(t, adminEmail, adminPW)
		env.clock.Add(-25 * time.Hour)
		expired, _ := env.signIn(t, bobEmail, bobPW)
		env.clock.Add(25 * time.Hour)
		narrow := token.New() // files.read only: no organization route takes it
		env.secret(narrow)
		now := time.Now()
		if err := env.store.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: token.Hash(narrow), Email: adminEmail,
			Scopes: "files.read", Device: token.New(), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		g, err := env.store.CreateGroup(ctx, "G")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := env.store.AddGroupMember(ctx, g.ID, bobEmail); err != nil {
			t.Fatal(err)
		}
		env.drain(t)

		type route struct {
			method, path, body string
			// asUser is the status for the plain user: 2xx, or 403 for an
			// administrator's route.
			asUser int
		}
		grp := "/api/v1.3/groups/" + g.ID
		routes := []route{
			{"POST", "/api/v1.3/invitees", `{"email_to":"x1@example.com"}`, 201},
			{"GET", "/api/v1.3/invitees/x1@example.com", "", 200},
			{"DELETE", "/api/v1.3/invitees/x1@example.com", "", 204},
			{"GET", "/api/v1.3/groups", "", 200},
			{"GET", grp, "", 200},
			{"GET", grp + "/members", "", 200},
			{"GET", grp + "/members/bob@example.com", "", 200},
			{"GET", "/api/v1.3/users/bob@example.com/groups", "", 200},
			{"GET", "/api/v1.2/organizations/2", "", 200},
			{"GET", "/api/v1.2/users/alice@example.com/quota", "", 200},
			{"POST", "/api/v1.3/groups", `{"name":"H"}`, 403},
			{"POST", grp + "/members", `{"email":"alice@example.com"}`, 403},
			{"DELETE", grp + "/members/bob@example.com", "", 403},
			{"DELETE", grp, "", 403},
			{"GET", "/api/v1.4/stats/users", "", 403},
			{"DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", 403},
		}
		for _, rt := range routes {
			for name, want := range map[string]struct {
				header string
				status int
			}{
				"none":       {"", 401},
				"expired":    {bearer(expired), 401},
				"unknown":    {bearer(token.New()), 401},
				"wrongscope": {bearer(narrow), 403},
				"user":       {bearer(user), rt.asUser},
			} {
				var h []string
				if want.header != "" {
					h = append(h, want.header)
				}
				a := env.call(t, rt.method, rt.path, rt.body, h...)
				wantStatus(t, a, want.status, rt.method+" "+rt.path+" with "+name)
				if want.status == 401 && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s with %s: no challenge", rt.method, rt.path, name)
				}
			}
		}
		// The administrator may call each (the user's invitation was
		// withdrawn: the admin's is made again first).
		env.invite(t, admin, "x1@example.com")
		for _, rt := range routes {
			if rt.path == "/api/v1.3/invitees" {
				continue
			}
			if a := env.call(t, rt.method, rt.path, rt.body, bearer(admin)); a.status/100 != 2 {
				t.Errorf("%s %s as the admin: %d %s", rt.method, rt.path, a.status, a.body)
			}
		}
		env.reset()
	})
}

// TestOrg_SessionsAndDemoted: the organization routes with cookie
// sessions (a user's and an administrator's; changes need the CSRF
// token) and with the token of an administrator since demoted.
func TestOrg_SessionsAndDemoted(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		env := newOrgEnv(t, b, OrgConfig{})
		ctx := context.Background()
		const davePW = "dave-pw-Hh30qqW"
		env.secret(davePW)
		if _, err := env.store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: "dave@example.com",
			Level: auth.LevelAdmin, PasswordHash: env.hasher.Hash(davePW)}); err != nil {
			t.Fatal(err)
		}
		env.drain(t)
		demoted, _ := env.signIn(t, "dave@example.com", davePW)
		if _, err := env.store.SetLevel(ctx, auth.Actor{Email: auth.LocalCaller}, "dave@example.com", auth.LevelUser); err != nil {
			t.Fatal(err)
		}
		env.drain(t)
		userCookie, userCSRF := env.cookieSignIn(t, aliceEmail, alicePW)
		adminCookie, adminCSRF := env.cookieSignIn(t, adminEmail, adminPW)

		reads := []string{"/api/v1.3/groups", "/api/v1.3/users/alice@example.com/groups", "/api/v1.2/organizations/2",
			"/api/v1.2/users/alice@example.com/quota"}
		for _, path := range reads {
			wantStatus(t, env.call(t, "GET", path, "", userCookie), 200, "GET "+path+" with a user's session")
			wantStatus(t, env.call(t, "GET", path, "", adminCookie), 200, "GET "+path+" with an admin's session")
		}
		wantStatus(t, env.call(t, "GET", "/api/v1.4/stats/users", "", userCookie), 403, "stats with a user's session")
		wantStatus(t, env.call(t, "GET", "/api/v1.4/stats/users", "", adminCookie), 200, "stats with an admin's session")
		for _, tok := range []string{demoted} {
			wantStatus(t, env.call(t, "GET", "/api/v1.4/stats/users", "", bearer(tok)), 403, "stats with a demoted admin's token")
			wantStatus(t, env.call(t, "POST", "/api/v1.3/groups", `{"name":"D"}`, bearer(tok)), 403, "a group by a demoted admin")
			wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", bearer(tok)), 403, "a removal by a demoted admin")
			wantStatus(t, env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"x@example.com","email_from":"bob@example.com"}`, bearer(tok)),
				403, "an invitation on bob's behalf by a demoted admin")
		}

		// Changes by cookie need the session's CSRF token.
		wantStatus(t, env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"x@example.com"}`, userCookie), 403, "invite by cookie without CSRF")
		wantStatus(t, env.call(t, "POST", "/api/v1.3/groups", `{"name":"S"}`, adminCookie), 403, "a group by cookie without CSRF")
		env.want(t)
		a := env.call(t, "POST", "/api/v1.3/invitees", `{"email_to":"x@example.com"}`, userCookie, userCSRF)
		var inv Invitee
		if err := json.Unmarshal([]byte(a.body), &inv); a.status != 201 || err != nil {
			t.Fatalf("invite by cookie: %d %s", a.status, a.body)
		}
		env.secret(inv.SignupCode)
		env.want(t, orgInvite(aliceEmail, "x@example.com"))
		wantStatus(t, env.call(t, "POST", "/api/v1.3/groups", `{"name":"S"}`, adminCookie, adminCSRF), 201, "a group by an admin's cookie")
		wantStatus(t, env.call(t, "POST", "/api/v1.3/groups", `{"name":"S"}`, userCookie, userCSRF), 403, "a group by a user's cookie")
		wantStatus(t, env.call(t, "DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", adminCookie, adminCSRF), 204, "a removal by an admin's cookie")
		env.want(t, event{"topic": "USER", "event": "user.org.remove", "admin_user": adminEmail, "target_user": bobEmail})
	})
}

// TestOrg_EventNotWritten: an invitation or sign-up whose event cannot
// be written fails, and does not happen.
func TestOrg_EventNotWritten(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		code := token.New()
		srv, store, admin := withoutOutbox(t, b, Config{Org: OrgConfig{OpenSignup: true}}, func(store *auth.Store) {
			if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: bobEmail}); err != nil {
				t.Fatal(err)
			}
			if _, err := store.Invite(ctx, adminEmail, carolEmail, token.Hash(code), auth.Mail{Subject: "invited"}); err != nil {
				t.Fatal(err)
			}
		})
		if a := call(t, srv, "POST", "/api/v1.3/invitees", `{"email_to":"dan@example.com"}`, bearer(admin)); a.status != 500 {
			t.Errorf("POST /invitees without an outbox: %d %s", a.status, a.body)
		}
		if _, err := store.Invitation(ctx, "dan@example.com"); err == nil {
			t.Error("the invitation was made without its event")
		}
		if a := call(t, srv, "POST", "/auth/signup", `{"signup_code":"`+code+`","password":"pw","first_name":"C","last_name":"S"}`); a.status != 500 {
			t.Errorf("sign-up without an outbox: %d %s", a.status, a.body)
		}
		if a := call(t, srv, "POST", "/auth/signup", `{"email":"erin@example.com","password":"pw","first_name":"E","last_name":"H"}`); a.status != 500 {
			t.Errorf("open sign-up without an outbox: %d %s", a.status, a.body)
		}
		if a := call(t, srv, "DELETE", "/api/v1.4/organizations/2/users/bob@example.com", "", bearer(admin)); a.status != 500 {
			t.Errorf("removal without an outbox: %d %s", a.status, a.body)
		}
		for _, email := range []string{carolEmail, "erin@example.com"} {
			if _, err := store.User(ctx, email); err == nil {
				t.Errorf("%s signed up without the event", email)
			}
		}
		if st, err := store.Stats(ctx); err != nil || st.Users != 2 {
			t.Errorf("users after the failed removal: %+v, %v", st, err)
		}
		if _, err := store.Invitation(ctx, carolEmail); err != nil {
			t.Errorf("the invitation was used up without the sign-up: %v", err)
		}
		if _, err := store.RecordUsage(ctx, bobEmail, 90, 100); err == nil {
			t.Error("a quota warning was lost without an error")
		}
	})
}

func FuzzInviteeBody(f *testing.F) {
	fuzzBody[Invitee](f, `{"email_to":"a@b.c","email_from":"d@e.f"}`, `{"email_to":1}`, `{"signup_code":{}}`)
}

func FuzzGroupBody(f *testing.F) { fuzzBody[groupBody](f, `{"name":"Sales"}`, `{"name":[]}`) }

func FuzzGroupMemberBody(f *testing.F) {
	fuzzBody[memberBody](f, `{"email":"a@b.c"}`, `{"email":null}`)
}

func FuzzSignUpRequest(f *testing.F) {
	for _, s := range []string{`{"signup_code":"00000000000000000000000000000000","password":"secret-x","first_name":"A","last_name":"B"}`,
		`{"email":"a@b.c","password":1}`, `[]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req SignUpRequest
		if err := fuzzDecode(body, &req); err != nil && len(req.Password) > 3 && strings.Contains(err.Error(), req.Password) {
			t.Errorf("error %q quotes the password", err)
		}
	})
}
