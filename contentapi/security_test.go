package contentapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/contentapi/totp"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// securityEnv is the content API on a real account store, through the
// real router, with the outbox drained after every request: each event
// is recorded for the package's audit-trail check and kept for want.
type securityEnv struct {
	*accountsEnv
	keptEvents
}

func newSecurityEnv(t *testing.T, b metadbtest.Backend, sc SecurityConfig) *securityEnv {
	t.Helper()
	ctx := context.Background()
	store, err := auth.New(ctx, b.New(t).Open(t))
	if err != nil {
		t.Fatal(err)
	}
	e := &securityEnv{accountsEnv: &accountsEnv{store: store, hasher: password.New(cheapCost), logs: &bytes.Buffer{},
		// In the middle of a TOTP step.
		clock:   &testClock{t: time.Now().UTC().Truncate(totp.Period).Add(10 * time.Second)},
		secrets: []string{adminPW, alicePW, bobPW}}}
	for _, u := range []auth.NewUser{
		{Email: adminEmail, Level: auth.LevelAdmin, PasswordHash: e.hasher.Hash(adminPW)},
		{Email: aliceEmail, PasswordHash: e.hasher.Hash(alicePW)},
		{Email: bobEmail, PasswordHash: e.hasher.Hash(bobPW)},
	} {
		if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, u); err != nil {
			t.Fatal(err)
		}
	}
	e.accountsEnv.events(t) // the setup's
	a := New(Config{Accounts: store, Passwords: e.hasher, Now: e.clock.Now, Security: sc,
		Logger: testLogger(&lockedWriter{w: e.logs})})
	e.srv = serve(t, a.Routes(), drainAfter(e.store, e.keep))
	t.Cleanup(func() { e.checkNoSecrets(t); e.checkEventSecrets(t) })
	return e
}

// want checks the events since the last want, and that none holds a
// secret.
func (e *securityEnv) want(t *testing.T, what string, want ...event) {
	t.Helper()
	e.expect(t, what, e.secrets, want...)
}

func (e *securityEnv) checkEventSecrets(t *testing.T) {
	all, _ := json.Marshal(e.take())
	for _, s := range e.secrets {
		if s != "" && bytes.Contains(all, []byte(s)) {
			t.Errorf("an event holds a secret")
		}
	}
}

// token signs in with POST /auth (code optional) and returns the token
// and its app's device.
func (e *securityEnv) token(t *testing.T, email, pw, code string) (string, string) {
	t.Helper()
	body, _ := json.Marshal(TokenRequest{Username: email, Password: pw, Code: code})
	resp := answerAs[TokenResponse](t, "POST /auth as "+email, e.call(t, "POST", "/auth", string(body)), 200)
	e.secrets = append(e.secrets, resp.Token)
	tok, _, err := e.store.AccessToken(context.Background(), token.Hash(resp.Token))
	if err != nil {
		t.Fatal(err)
	}
	e.want(t, "sign-in of "+email, event{"topic": "USER", "event": "user.signin", "user": email, "authority": "Credential", "ip": localIP, "user_agent": testUA})
	return resp.Token, tok.Device
}

// mails returns the mail outbox.
func (e *securityEnv) mails(t *testing.T) []auth.Mail {
	t.Helper()
	ms, err := e.store.ListMail(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

var resetTokenRE = regexp.MustCompile(`(?m)^  ([0-9a-f]{32})$`)

func TestPasswordChange(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{})
		alice, _ := e.token(t, aliceEmail, alicePW, "")
		const newPW = "changed-pw-Hh5"
		e.secrets = append(e.secrets, newPW)

		a := e.call(t, "POST", "/auth/password", `{"current_password":"wrong","password":"`+newPW+`"}`, bearer(alice))
		if typ, _ := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" {
			t.Fatalf("wrong current password: %d %s", a.status, a.body)
		}
		e.want(t, "wrong current password", event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA})
		for _, body := range []string{`{"password":"x"}`, `{"current_password":"` + alicePW + `"}`, `{"current_password":1,"password":"x"}`, `[]`} {
			a := e.call(t, "POST", "/auth/password", body, bearer(alice))
			if typ, _ := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" {
				t.Errorf("body %s: %d %s", body, a.status, a.body)
			}
		}
		if a := e.call(t, "POST", "/auth/password", `{"current_password":"`+alicePW+`","password":"`+newPW+`"}`); a.status != 401 {
			t.Errorf("no credential: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/auth/password", `{"current_password":"`+alicePW+`","password":"`+newPW+`"}`, bearer(alice)); a.status != 204 {
			t.Fatalf("change: %d %s", a.status, a.body)
		}
		e.want(t, "change", event{"topic": "USER", "event": "user.password.change", "user": aliceEmail})
		// Her token still works; the new password signs in, the old not.
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(alice)); a.status != 200 {
			t.Errorf("token after change: %d", a.status)
		}
		e.token(t, aliceEmail, newPW, "")
		if a := e.call(t, "POST", "/auth", `{"username":"alice@example.com","password":"`+alicePW+`"}`); a.status != 401 {
			t.Errorf("old password: %d", a.status)
		}
		e.want(t, "old password", event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA})
	})
}

func TestPasswordReset(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{ResetURL: "https://files.example.com/reset"})
		alice, _ := e.token(t, aliceEmail, alicePW, "")

		// An unknown user gets the same answer, and no mail.
		if a := e.call(t, "POST", "/auth/password/reset/request", `{"email":"nobody@example.com"}`); a.status != 202 || a.body != "" {
			t.Fatalf("unknown user: %d %q", a.status, a.body)
		}
		e.want(t, "unknown user")
		if ms := e.mails(t); len(ms) != 0 {
			t.Fatalf("mail for an unknown user: %v", ms)
		}
		for _, body := range []string{`{}`, `{"email":"not-an-email"}`, `{"email":1}`} {
			if a := e.call(t, "POST", "/auth/password/reset/request", body); a.status != 400 {
				t.Errorf("body %s: %d %s", body, a.status, a.body)
			}
		}

		if a := e.call(t, "POST", "/auth/password/reset/request", `{"email":"Alice@Example.com"}`); a.status != 202 {
			t.Fatalf("request: %d %s", a.status, a.body)
		}
		e.want(t, "request", event{"topic": "USER", "event": "user.password.reset.request", "user": aliceEmail,
			"caller": map[string]any{"email": aliceEmail}})
		ms := e.mails(t)
		if len(ms) != 1 || ms[0].To != aliceEmail || ms[0].Subject != "Reset your password" || ms[0].SentAt != nil {
			t.Fatalf("mail outbox: %+v", ms)
		}
		m := resetTokenRE.FindStringSubmatch(ms[0].Body)
		if m == nil || !strings.Contains(ms[0].Body, "https://files.example.com/reset?token="+m[1]) {
			t.Fatalf("no token or link in the mail: %s", ms[0].Body)
		}
		tok := m[1]
		e.secrets = append(e.secrets, tok)

		const newPW = "reset-pw-Tt9"
		e.secrets = append(e.secrets, newPW)
		for _, body := range []string{`{"token":"` + tok + `"}`, `{"password":"x"}`, `{"token":"` + strings.Repeat("0", 32) + `","password":"x"}`, `{"token":"zz","password":"x"}`} {
			a := e.call(t, "POST", "/auth/password/reset", body)
			if typ, _ := contentError(t, a); a.status != 400 || typ != "BAD_ARGS" {
				t.Errorf("body %s: %d %s", body, a.status, a.body)
			}
		}
		if a := e.call(t, "POST", "/auth/password/reset", `{"token":"`+tok+`","password":"`+newPW+`"}`); a.status != 204 {
			t.Fatalf("reset: %d %s", a.status, a.body)
		}
		e.want(t, "reset", event{"topic": "USER", "event": "user.password.reset", "user": aliceEmail})
		// Her tokens ended; the new password signs in; the token works once.
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(alice)); a.status != 401 {
			t.Errorf("token after reset: %d", a.status)
		}
		e.token(t, aliceEmail, newPW, "")
		if a := e.call(t, "POST", "/auth/password/reset", `{"token":"`+tok+`","password":"again"}`); a.status != 400 {
			t.Errorf("token used twice: %d %s", a.status, a.body)
		}
		e.want(t, "reuse")

		// A token expires after an hour.
		if a := e.call(t, "POST", "/auth/password/reset/request", `{"email":"alice@example.com"}`); a.status != 202 {
			t.Fatalf("second request: %d", a.status)
		}
		e.want(t, "second request", event{"topic": "USER", "event": "user.password.reset.request", "user": aliceEmail,
			"caller": map[string]any{"email": aliceEmail}})
		ms = e.mails(t)
		tok2 := resetTokenRE.FindStringSubmatch(ms[len(ms)-1].Body)[1]
		e.secrets = append(e.secrets, tok2)
		e.clock.Add(ResetTokenLifetime + time.Second)
		if a := e.call(t, "POST", "/auth/password/reset", `{"token":"`+tok2+`","password":"late"}`); a.status != 400 {
			t.Errorf("expired token: %d %s", a.status, a.body)
		}
		e.want(t, "expired")

		// Requests are limited per user: 3 an hour by default.
		for i := range 4 {
			a := e.call(t, "POST", "/auth/password/reset/request", `{"email":"bob@example.com"}`)
			if i < 3 && a.status != 202 || i == 3 && (a.status != 429 || a.header.Get("Retry-After") == "") {
				t.Errorf("request %d: %d %s", i, a.status, a.body)
			}
		}
		for _, m := range e.mails(t) {
			if m := resetTokenRE.FindStringSubmatch(m.Body); m != nil {
				e.secrets = append(e.secrets, m[1])
			}
		}
		bobReq := event{"topic": "USER", "event": "user.password.reset.request", "user": bobEmail, "caller": map[string]any{"email": bobEmail}}
		e.want(t, "limited", bobReq, bobReq, bobReq)
	})
}

// enableTwoFactor sets up and verifies 2FA for tok's user and returns
// the secret and the backup codes.
func (e *securityEnv) enableTwoFactor(t *testing.T, email, tok string) ([]byte, []string) {
	t.Helper()
	a := e.call(t, "POST", "/api/v1.4/users/"+email+"/two_factor", "", bearer(tok))
	if a.status != 201 {
		t.Fatalf("set up two-factor: %d %s", a.status, a.body)
	}
	var setup TwoFactorSetup
	if err := json.Unmarshal([]byte(a.body), &setup); err != nil {
		t.Fatal(err)
	}
	secret, err := totp.DecodeSecret(setup.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(setup.URI, "otpauth://totp/Vigil:") || !strings.Contains(setup.URI, "secret="+setup.Secret) || len(setup.BackupCodes) != totp.BackupCount {
		t.Fatalf("setup %+v", setup)
	}
	e.secrets = append(e.secrets, setup.Secret)
	e.secrets = append(e.secrets, setup.BackupCodes...)
	e.want(t, "setup")
	code := totp.Code(secret, totp.Step(e.clock.Now()))
	if a := e.call(t, "POST", "/api/v1.4/users/"+email+"/two_factor/verify", `{"code":"`+code+`"}`, bearer(tok)); a.status != 200 {
		t.Fatalf("verify: %d %s", a.status, a.body)
	}
	e.want(t, "verify", event{"topic": "USER", "event": "user.2fa.enable", "user": email})
	return secret, setup.BackupCodes
}

func TestTwoFactor_SignIn(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{})
		alice, aliceDev := e.token(t, aliceEmail, alicePW, "")
		if a := e.call(t, "GET", "/api/v1.3/users/alice@example.com/two_factor", "", bearer(alice)); a.status != 200 ||
			a.body != `{"enforce":false,"level":"OPT_IN","backup_codes":0}` {
			t.Fatalf("status before: %d %s", a.status, a.body)
		}
		// A wrong first code does not enable it.
		if a := e.call(t, "POST", "/api/v1.4/users/alice@example.com/two_factor", "", bearer(alice)); a.status != 201 {
			t.Fatalf("setup: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/api/v1.4/users/alice@example.com/two_factor/verify", `{"code":"000000x"}`, bearer(alice)); a.status != 400 {
			t.Errorf("wrong first code: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/api/v1.4/users/bob@example.com/two_factor", "", bearer(alice)); a.status != 403 {
			t.Errorf("setting up bob's: %d %s", a.status, a.body)
		}
		e.want(t, "wrong first code")
		secret, backups := e.enableTwoFactor(t, aliceEmail, alice)
		if a := e.call(t, "GET", "/api/v1.3/users/alice@example.com/two_factor", "", bearer(alice)); a.body != `{"enforce":true,"level":"OPT_IN","backup_codes":10}` {
			t.Errorf("status after: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/api/v1.4/users/alice@example.com/two_factor", "", bearer(alice)); a.status != 409 {
			t.Errorf("setup when enabled: %d %s", a.status, a.body)
		}

		// No code: 401 asking for one, and no event (the password was right).
		a := e.call(t, "POST", "/auth", `{"username":"alice@example.com","password":"`+alicePW+`"}`)
		if a.status != 401 || a.body != `{"type":"UNAUTHORIZED","message":"Two-factor code required","two_factor_required":true}` || a.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("no code: %d %s", a.status, a.body)
		}
		e.want(t, "no code")
		// The code that enabled it is of this step: a replay is refused.
		step := totp.Step(e.clock.Now())
		body := func(code string) string {
			return `{"username":"alice@example.com","password":"` + alicePW + `","code":"` + code + `"}`
		}
		refused := event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA, "two_factor": true}
		if a := e.call(t, "POST", "/auth", body(totp.Code(secret, step))); a.status != 401 || !strings.Contains(a.body, `"two_factor_required":true`) {
			t.Errorf("replayed step: %d %s", a.status, a.body)
		}
		e.want(t, "replayed step", refused)
		// The next step's code signs in, once.
		e.clock.Add(totp.Period)
		next := totp.Code(secret, step+1)
		e.token(t, aliceEmail, alicePW, next)
		if a := e.call(t, "POST", "/auth", body(next)); a.status != 401 {
			t.Errorf("code used twice: %d %s", a.status, a.body)
		}
		e.want(t, "code used twice", refused)
		// A wrong password with a right code is a plain failure.
		if a := e.call(t, "POST", "/auth", `{"username":"alice@example.com","password":"nope","code":"123456"}`); a.status != 401 || strings.Contains(a.body, "two_factor") {
			t.Errorf("wrong password: %d %s", a.status, a.body)
		}
		e.want(t, "wrong password", event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA})

		// A backup code works once, typed in any case.
		e.token(t, aliceEmail, alicePW, strings.ToUpper(backups[0]))
		if a := e.call(t, "POST", "/auth", body(backups[0])); a.status != 401 {
			t.Errorf("backup code used twice: %d %s", a.status, a.body)
		}
		e.want(t, "backup code twice", refused)
		if a := e.call(t, "GET", "/api/v1.3/users/alice@example.com/two_factor", "", bearer(alice)); !strings.Contains(a.body, `"backup_codes":9`) {
			t.Errorf("backup codes left: %s", a.body)
		}

		// The cookie sign-in asks for the code too.
		if a := e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"`+alicePW+`"}`); a.status != 401 || !strings.Contains(a.body, `"two_factor_required":true`) {
			t.Errorf("cookie sign-in without code: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"`+alicePW+`","code":"999999"}`); a.status != 401 {
			t.Errorf("cookie sign-in with a wrong code: %d %s", a.status, a.body)
		}
		e.want(t, "cookie sign-in wrong code", refused)
		e.clock.Add(totp.Period)
		a = e.call(t, "POST", "/auth/signin", `{"email":"alice@example.com","password":"`+alicePW+`","code":"`+totp.Code(secret, step+2)+`"}`)
		if a.status != 200 {
			t.Fatalf("cookie sign-in with code: %d %s", a.status, a.body)
		}
		for _, c := range (&http.Response{Header: a.header}).Cookies() {
			e.secrets = append(e.secrets, c.Value)
		}
		e.want(t, "cookie sign-in", event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})

		// Bob may not turn hers off; she may.
		bob, _ := e.token(t, bobEmail, bobPW, "")
		if a := e.call(t, "DELETE", "/api/v1.3/users/alice@example.com/two_factor", "", bearer(bob)); a.status != 403 {
			t.Errorf("bob disables alice's: %d", a.status)
		}
		if a := e.call(t, "DELETE", "/api/v1.3/users/bob@example.com/two_factor", "", bearer(bob)); a.status != 404 {
			t.Errorf("bob disables his own, never enabled: %d", a.status)
		}
		if a := e.call(t, "DELETE", "/api/v1.3/users/alice@example.com/two_factor", "", bearer(alice)); a.status != 204 {
			t.Fatalf("disable: %d %s", a.status, a.body)
		}
		e.want(t, "disable", event{"topic": "USER", "event": "user.2fa.disable", "user": aliceEmail, "caller": callerOf(aliceEmail, aliceDev, false)})
		e.token(t, aliceEmail, alicePW, "")
	})
}

func TestTwoFactor_CodeLimit(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{})
		alice, _ := e.token(t, aliceEmail, alicePW, "")
		secret, _ := e.enableTwoFactor(t, aliceEmail, alice)
		body := func(code string) string {
			return `{"username":"alice@example.com","password":"` + alicePW + `","code":"` + code + `"}`
		}
		refused := event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA, "two_factor": true}
		for range 5 {
			if a := e.call(t, "POST", "/auth", body("000000")); a.status != 401 {
				t.Fatalf("wrong code: %d %s", a.status, a.body)
			}
		}
		e.want(t, "wrong codes", refused, refused, refused, refused, refused)
		e.clock.Add(totp.Period)
		a := e.call(t, "POST", "/auth", body(totp.Code(secret, totp.Step(e.clock.Now()))))
		if typ, _ := contentError(t, a); a.status != 429 || typ != "TOO_MANY_REQUESTS" || a.header.Get("Retry-After") == "" {
			t.Fatalf("over the limit: %d %s", a.status, a.body)
		}
		limited := event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA, "two_factor": true, "rate_limited": true}
		e.want(t, "limited", limited)
		e.clock.Add(5 * time.Minute)
		e.token(t, aliceEmail, alicePW, totp.Code(secret, totp.Step(e.clock.Now())))
	})
}

func TestTwoFactor_Enforcement(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{})
		admin, adminDev := e.token(t, adminEmail, adminPW, "")
		bob, _ := e.token(t, bobEmail, bobPW, "")
		adminCaller := callerOf(adminEmail, adminDev, true)
		level := func(l string) string { return `{"level":"` + l + `"}` }

		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("MANDATORY"), bearer(bob)); a.status != 403 {
			t.Errorf("bob sets the level: %d", a.status)
		}
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("SOMETIMES"), bearer(admin)); a.status != 400 {
			t.Errorf("unknown level: %d %s", a.status, a.body)
		}
		if a := e.call(t, "PUT", "/api/v1.3/organization/two_factor", level("OPT_IN"), bearer(admin)); a.status != 404 {
			t.Errorf("at 1.3: %d", a.status)
		}
		// MANDATORY only once the admin has it.
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("MANDATORY"), bearer(admin)); a.status != 409 {
			t.Errorf("mandatory without the admin's own: %d %s", a.status, a.body)
		}
		e.want(t, "refused levels")
		secret, _ := e.enableTwoFactor(t, adminEmail, admin)
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("mandatory"), bearer(admin)); a.status != 200 || a.body != level("MANDATORY") {
			t.Fatalf("mandatory: %d %s", a.status, a.body)
		}
		e.want(t, "mandatory", event{"topic": "ORG", "event": "org.2fa.level", "org": OrgAdminID, "caller": adminCaller, "old_level": "OPT_IN", "new_level": "MANDATORY"})
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("MANDATORY"), bearer(admin)); a.status != 200 {
			t.Errorf("same level: %d", a.status)
		}
		e.want(t, "same level")
		if a := e.call(t, "GET", "/api/v1.4/organization/two_factor", "", bearer(admin)); a.body != level("MANDATORY") {
			t.Errorf("get level: %s", a.body)
		}
		// Bob has none: refused; the admin needs a code; nobody turns
		// theirs off but an admin.
		if a := e.call(t, "POST", "/auth", `{"username":"bob@example.com","password":"`+bobPW+`"}`); a.status != 403 {
			t.Errorf("bob under MANDATORY: %d %s", a.status, a.body)
		}
		if a := e.call(t, "POST", "/auth", `{"username":"admin@example.com","password":"`+adminPW+`"}`); a.status != 401 {
			t.Errorf("admin without code: %d %s", a.status, a.body)
		}
		if a := e.call(t, "GET", "/api/v1.3/users/bob@example.com/two_factor", "", bearer(bob)); a.body != `{"enforce":false,"level":"MANDATORY","backup_codes":0}` {
			t.Errorf("bob's status: %s", a.body)
		}
		e.want(t, "mandatory sign-ins")

		// DISALLOWED: no code asked, no setup.
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("DISALLOWED"), bearer(admin)); a.status != 200 {
			t.Fatalf("disallowed: %d %s", a.status, a.body)
		}
		e.want(t, "disallowed", event{"topic": "ORG", "event": "org.2fa.level", "org": OrgAdminID, "caller": adminCaller, "old_level": "MANDATORY", "new_level": "DISALLOWED"})
		e.token(t, adminEmail, adminPW, "")
		if a := e.call(t, "POST", "/api/v1.4/users/bob@example.com/two_factor", "", bearer(bob)); a.status != 403 {
			t.Errorf("setup under DISALLOWED: %d %s", a.status, a.body)
		}
		if a := e.call(t, "GET", "/api/v1.3/users/admin@example.com/two_factor", "", bearer(admin)); a.body != `{"enforce":false,"level":"DISALLOWED","backup_codes":10}` {
			t.Errorf("admin's status: %s", a.body)
		}
		// Back to OPT_IN: the admin's code is asked again.
		if a := e.call(t, "PUT", "/api/v1.4/organization/two_factor", level("OPT_IN"), bearer(admin)); a.status != 200 {
			t.Fatalf("opt-in: %d", a.status)
		}
		e.want(t, "opt-in", event{"topic": "ORG", "event": "org.2fa.level", "org": OrgAdminID, "caller": adminCaller, "old_level": "DISALLOWED", "new_level": "OPT_IN"})
		e.clock.Add(totp.Period)
		e.token(t, adminEmail, adminPW, totp.Code(secret, totp.Step(e.clock.Now())))
	})
}

func FuzzChangePasswordBody(f *testing.F) {
	fuzzBody[ChangePasswordRequest](f, `{"current_password":"a","password":"b"}`, `{"password":1}`)
}
func FuzzResetRequestBody(f *testing.F) {
	fuzzBody[ResetRequest](f, `{"email":"a@b.c"}`, `{"email":[]}`)
}
func FuzzResetPasswordBody(f *testing.F) {
	fuzzBody[ResetPasswordRequest](f, `{"token":"00","password":"x"}`, `{"token":null}`)
}
func FuzzCodeBody(f *testing.F) { fuzzBody[CodeRequest](f, `{"code":"123456"}`, `{"code":123456}`) }
func FuzzTwoFactorLevelBody(f *testing.F) {
	fuzzBody[TwoFactorLevel](f, `{"level":"OPT_IN"}`, `{"level":true}`)
}

// TestSecurity_EventNotWritten: without the outbox, a reset request
// queues no mail and a level change does not happen.
func TestSecurity_EventNotWritten(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		srv, store, admin := withoutOutbox(t, b, Config{}, nil)
		if a := call(t, srv, "POST", "/auth/password/reset/request", `{"email":"admin@example.com"}`); a.status != 500 {
			t.Errorf("reset request without an outbox: %d %s", a.status, a.body)
		}
		if ms, err := store.ListMail(ctx); err != nil || len(ms) != 0 {
			t.Errorf("mail queued without its event: %v %v", ms, err)
		}
		if a := call(t, srv, "PUT", "/api/v1.4/organization/two_factor", `{"level":"DISALLOWED"}`, bearer(admin)); a.status != 500 {
			t.Errorf("level change without an outbox: %d %s", a.status, a.body)
		}
		if l, err := store.TwoFactorLevel(ctx); err != nil || l != auth.TwoFactorOptIn {
			t.Errorf("level %q %v", l, err)
		}
	})
}

// TestPassword_ExternalAccounts: a user LDAP or OpenID Connect
// provisioned gets no local password, by an administrator's PUT
// /users/{email}/password (403 FORBIDDEN) or by a reset: the request
// answers as always and stores no token and mails nothing, so there is
// no token to reset with (the store refuses a reset of such a user
// anyway). Nothing is audited.
func TestPassword_ExternalAccounts(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newAccountsEnv(t, b)
		ctx := context.Background()
		const dana, newPW = "dana@example.com", "new-pw-Jh3kk2L"
		e.secrets = append(e.secrets, newPW)
		if _, _, err := e.store.Provision(ctx, auth.Vouched{Authority: auth.AuthorityOpenID, Subject: "sub-1", Email: dana}); err != nil {
			t.Fatal(err)
		}
		admin, _ := e.signIn(t, adminEmail, adminPW)
		e.events(t)
		mails, err := e.store.ListMail(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"v1.1", "v1.4"} {
			a := e.call(t, "PUT", "/api/"+v+"/users/"+dana+"/password", `"`+newPW+`"`, bearer(admin))
			if typ, msg := contentError(t, a); a.status != 403 || typ != "FORBIDDEN" ||
				msg != "The user signs in through LDAP or OpenID Connect: their password cannot be set here" {
				t.Errorf("PUT %s password: %d %s", v, a.status, a.body)
			}
		}
		if a := e.call(t, "POST", "/auth/password/reset/request", `{"email":"`+dana+`"}`); a.status != 202 {
			t.Errorf("reset request for dana: %d %s", a.status, a.body)
		}
		if after, err := e.store.ListMail(ctx); err != nil || len(after) != len(mails) {
			t.Errorf("a reset request for a provisioned user mailed %d (%v)", len(after)-len(mails), err)
		}
		if err := e.store.RequestPasswordReset(ctx, auth.Actor{Email: dana}, dana, token.Hash(token.New()), time.Now().Add(time.Hour),
			auth.Mail{Subject: "reset", Body: "-"}); !errors.Is(err, auth.ErrExternalAccount) {
			t.Errorf("reset token for dana: %v, want ErrExternalAccount", err)
		}
		if _, hash, _ := e.store.PasswordHash(ctx, dana); hash != "" {
			t.Error("dana got a password")
		}
		e.wantEvents(t)
		// A local user still may.
		if a := e.call(t, "PUT", "/api/v1.4/users/"+bobEmail+"/password", `"`+newPW+`"`, bearer(admin)); a.status != 204 {
			t.Errorf("a local user's password: %d %s", a.status, a.body)
		}
	})
}
