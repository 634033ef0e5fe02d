package contentapi

import (
	"context"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/ratelimit"
	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// oauthEnv is the content API on a real account store with an app's
// callback server, through the real router; after each request the
// outbox is drained into the request's events, recorded for the
// package's audit-trail check.
type oauthEnv struct {
	*accountsEnv
	app *httptest.Server
	// keptEvents are the requests' events; callbacks (under mu) the
	// queries the app's redirect URI received.
	keptEvents
	mu        sync.Mutex
	callbacks []url.Values
}

func newOAuthEnv(t *testing.T, b metadbtest.Backend, cfg OAuthConfig) *oauthEnv {
	t.Helper()
	e := &oauthEnv{accountsEnv: newAccountsEnv(t, b)}
	e.srv.Close()
	a := New(Config{Accounts: e.store, Passwords: e.hasher, Now: e.clock.Now, OAuth: cfg,
		Logger: testLogger(&lockedWriter{w: e.logs})})
	e.srv = serve(t, a.Routes(), drainAfter(e.store, e.keep))
	e.app = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.callbacks = append(e.callbacks, r.URL.Query())
		e.mu.Unlock()
		_, _ = io.WriteString(w, "app")
	}))
	t.Cleanup(e.app.Close)
	return e
}

// expect checks the events since the last expect, and that none holds
// a secret.
func (e *oauthEnv) expect(t *testing.T, what string, want ...event) {
	t.Helper()
	e.keptEvents.expect(t, what, e.secrets, want...)
}

func (e *oauthEnv) lastCallback(t *testing.T) url.Values {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.callbacks) == 0 {
		t.Fatal("the app's redirect URI was not called")
	}
	q := e.callbacks[len(e.callbacks)-1]
	e.callbacks = nil
	return q
}

// register registers an app as the admin and returns its registration.
func (e *oauthEnv) register(t *testing.T, adminTok, name string, public bool) AppRegistration {
	t.Helper()
	body, _ := json.Marshal(appBody{Name: name, RedirectURI: e.app.URL + "/cb?x=1", Public: public})
	a := e.call(t, "POST", "/api/v1.4/apps", string(body), bearer(adminTok))
	if a.status != 201 {
		t.Fatalf("POST /apps: %d %s", a.status, a.body)
	}
	var reg AppRegistration
	if err := json.Unmarshal([]byte(a.body), &reg); err != nil {
		t.Fatal(err)
	}
	if reg.ClientSecret != "" {
		e.secrets = append(e.secrets, reg.ClientSecret)
	}
	e.expect(t, "register", event{"topic": "AUDIT", "event": "audit.app.add", "caller": callerOf(adminEmail, e.adminDevice(t, adminTok), true),
		"client_id": reg.ClientID, "name": name, "redirect_uri": e.app.URL + "/cb?x=1", "public": public, "ip": localIP})
	return reg
}

// signInToken gets a token from POST /auth and forgets its user.signin.
func (e *oauthEnv) signInToken(t *testing.T, email, pw string) (string, string) {
	t.Helper()
	tok, dev := e.signIn(t, email, pw)
	e.expect(t, "sign-in", event{"topic": "USER", "event": "user.signin", "user": email, "authority": "Credential", "ip": localIP, "user_agent": testUA})
	return tok, dev
}

func (e *oauthEnv) adminDevice(t *testing.T, tok string) string {
	t.Helper()
	at, _, err := e.store.AccessToken(context.Background(), token.Hash(tok))
	if err != nil {
		t.Fatal(err)
	}
	return at.Device
}

// browser signs in as email with a cookie jar that follows redirects.
func (e *oauthEnv) browser(t *testing.T, email, pw string) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err := c.Post(e.srv.URL+"/auth/signin", "application/json", strings.NewReader(`{"email":"`+email+`","password":"`+pw+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	u, _ := url.Parse(e.srv.URL)
	for _, ck := range jar.Cookies(u) {
		e.secrets = append(e.secrets, ck.Value)
	}
	e.expect(t, "sign-in", event{"topic": "USER", "event": "user.signin", "user": email, "authority": "Credential", "ip": localIP, "user_agent": testUA})
	return c
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// authorize opens the authorize page with q and answers decision; it
// returns the status of the page and what the app's redirect URI got.
func (e *oauthEnv) authorize(t *testing.T, c *http.Client, q url.Values, decision string) (int, url.Values) {
	t.Helper()
	resp, err := c.Get(e.srv.URL + "/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.Request.URL.Host != strings.TrimPrefix(e.srv.URL, "http://") {
		return resp.StatusCode, e.lastCallback(t) // an error went back to the app
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil
	}
	form := url.Values{"decision": {decision}}
	for _, m := range hiddenField.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], html.UnescapeString(m[2]))
	}
	if form.Get("csrf_token") == "" {
		t.Fatalf("the page has no CSRF token: %s", page)
	}
	resp, err = c.PostForm(e.srv.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 || resp.Request.URL.Host == strings.TrimPrefix(e.srv.URL, "http://") {
		return resp.StatusCode, nil
	}
	return resp.StatusCode, e.lastCallback(t)
}

// tokenCall posts a token request; basic gives the client's credentials
// as HTTP Basic.
func (e *oauthEnv) tokenCall(t *testing.T, form url.Values, basic ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.srv.URL+"/auth/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"access_token", "refresh_token"} {
		if s, ok := m[k].(string); ok {
			e.secrets = append(e.secrets, s)
		}
	}
	return resp.StatusCode, m
}

func authzQuery(reg AppRegistration, redirectURI, scope, state string) url.Values {
	return url.Values{"client_id": {reg.ClientID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {scope}, "state": {state}}
}

func TestOAuth_Flow(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newOAuthEnv(t, b, OAuthConfig{Hostname: "vigil.example.com"})
		adminTok, _ := e.signInToken(t, adminEmail, adminPW)
		reg := e.register(t, adminTok, "My First App", false)
		if reg.Hostname != "vigil.example.com" || !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(reg.ClientID) ||
			!token.Valid(reg.ClientSecret) || reg.Public {
			t.Errorf("registration %+v", reg)
		}
		redirectURI := e.app.URL + "/cb?x=1"

		// Not signed in: the sign-in page, which comes back to the
		// authorize page.
		c := jarClient()
		authzURI := "/authorize?" + authzQuery(reg, redirectURI, "files.read", "s").Encode()
		page := readPage(t)(c.Get(e.srv.URL + authzURI))
		if page.status != 200 || page.url.Path != "/signin" || page.fields.Get("return_to") != authzURI {
			t.Fatalf("authorize without a session: %d %s %v", page.status, page.url, page.fields)
		}
		e.secrets = append(e.secrets, page.fields.Get("csrf_token"))
		if a := e.call(t, "POST", "/authorize", url.Values{"client_id": {reg.ClientID}}.Encode(),
			"Content-Type: application/x-www-form-urlencoded"); a.status != 401 || !strings.Contains(a.body, "Sign in") {
			t.Errorf("approve without a session: %d %s", a.status, a.body)
		}
		approval := postSignin(t, c, e.srv.URL, page, aliceEmail, alicePW)
		if approval.status != 200 || approval.url.RequestURI() != authzURI || approval.fields.Get("csrf_token") == "" {
			t.Fatalf("sign in from the authorize page: %d %s %s", approval.status, approval.url, approval.body)
		}
		for _, ck := range c.Jar.Cookies(approval.url) {
			e.secrets = append(e.secrets, ck.Value)
		}
		e.expect(t, "sign-in", event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})

		status, cb := e.authorize(t, c, authzQuery(reg, redirectURI, "user.read,files.read:"+strings.Repeat("ab", 16), "xyz"), "approve")
		if status != 200 || cb.Get("state") != "xyz" || cb.Get("x") != "1" || !token.Valid(cb.Get("code")) {
			t.Fatalf("approve: %d %v", status, cb)
		}
		code := cb.Get("code")
		e.secrets = append(e.secrets, code)
		approved := e.take() // its device is known once the code is exchanged

		// The exchange, with the secret in HTTP Basic.
		st, tok := e.tokenCall(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI}},
			reg.ClientID, reg.ClientSecret)
		if st != 200 || tok["token_type"] != "bearer" || tok["expires_in"] != 0.0 || tok["scope"] != "files.read:"+strings.Repeat("ab", 16)+",user.read" {
			t.Fatalf("exchange: %d %v", st, tok)
		}
		access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)
		at, _, err := e.store.AccessToken(context.Background(), token.Hash(access))
		if err != nil {
			t.Fatal(err)
		}
		did := at.Device
		if diff := cmp.Diff([]event{approveEvent(aliceEmail, reg.ClientID, did, "files.read:"+strings.Repeat("ab", 16)+",user.read")}, approved); diff != "" {
			t.Errorf("approve: events (-want +got):\n%s", diff)
		}
		e.expect(t, "exchange", event{"topic": "DEVICE", "event": "device.certify", "user": aliceEmail, "device_type": "API Client",
			"device_id": did, "device_name": "My First App", "caller": map[string]any{"email": aliceEmail, "device": did}, "ip": localIP})

		// The token works on an API route, within its scopes.
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(access)); a.status != 200 {
			t.Errorf("GET user with the app's token: %d %s", a.status, a.body)
		}
		if a := e.call(t, "DELETE", "/api/v1.4/users/alice@example.com/apps/"+reg.ClientID, "", bearer(access)); a.status != 403 ||
			!strings.Contains(a.body, "Token lacks required scope") {
			t.Errorf("revoke without user.write: %d %s", a.status, a.body)
		}
		a := e.call(t, "GET", "/api/v1.4/users/alice@example.com/apps", "", bearer(access))
		var apps []AuthorizedApp
		if err := json.Unmarshal([]byte(a.body), &apps); err != nil || a.status != 200 || len(apps) != 1 || apps[0].ClientID != reg.ClientID || apps[0].Device != did {
			t.Errorf("GET apps: %d %s", a.status, a.body)
		}

		// Introspection with the token itself.
		if a := e.call(t, "GET", "/auth/tokeninfo", "", bearer(access)); a.status != 200 ||
			!strings.Contains(a.body, `"user":"alice@example.com","client_id":"`+reg.ClientID+`","device":"`+did+`"`) {
			t.Errorf("tokeninfo: %d %s", a.status, a.body)
		}

		// Refresh, to a narrower scope; the refresh token rotates.
		st, tok2 := e.tokenCall(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "scope": {"user.read"},
			"client_id": {reg.ClientID}, "client_secret": {reg.ClientSecret}, "expires_in": {"3600"}})
		if st != 200 || tok2["scope"] != "user.read" || tok2["expires_in"] != 3600.0 || tok2["refresh_token"] == refresh {
			t.Fatalf("refresh: %d %v", st, tok2)
		}
		access2 := tok2["access_token"].(string)
		if st, m := e.tokenCall(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok2["refresh_token"].(string)}, "scope": {"files.write"},
			"client_id": {reg.ClientID}, "client_secret": {reg.ClientSecret}}); st != 400 || m["error"] != "invalid_scope" {
			t.Errorf("refresh to a wider scope: %d %v", st, m)
		}
		e.expect(t, "refresh", event{"topic": "AUDIT", "event": "audit.oauth.refresh", "caller": map[string]any{"email": aliceEmail, "device": did},
			"user": aliceEmail, "client_id": reg.ClientID, "device": did, "scope": "user.read", "ip": localIP})

		// Revoking one token.
		if a := e.call(t, "DELETE", "/auth/token/"+access2, ""); a.status != 204 {
			t.Errorf("DELETE /auth/token: %d %s", a.status, a.body)
		}
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(access2)); a.status != 401 {
			t.Errorf("revoked token: %d", a.status)
		}
		revoked := func(kind string) event {
			return event{"topic": "AUDIT", "event": "audit.oauth.revoke", "caller": map[string]any{"email": aliceEmail, "device": did},
				"user": aliceEmail, "device": did, "kind": kind, "client_id": reg.ClientID, "ip": localIP}
		}
		e.expect(t, "revoke a token", revoked("access"))
		// The refresh token too; an unknown one (or one revoked already)
		// is answered alike and changes nothing.
		refresh2 := tok2["refresh_token"].(string)
		for _, tk := range []string{refresh2, refresh2, token.New()} {
			if a := e.call(t, "DELETE", "/auth/token/"+tk, ""); a.status != 204 {
				t.Errorf("DELETE /auth/token: %d %s", a.status, a.body)
			}
		}
		e.expect(t, "revoke a refresh token", revoked("refresh"))

		// The code again: refused, and the tokens it gave stop working.
		st, m := e.tokenCall(t, url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
			"client_id": {reg.ClientID}, "client_secret": {reg.ClientSecret}})
		if st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("code reuse: %d %v", st, m)
		}
		if a := e.call(t, "GET", "/api/v1.1/users/alice@example.com", "", bearer(access)); a.status != 401 {
			t.Errorf("token of a reused code: %d", a.status)
		}
		e.expect(t, "code reuse", event{"topic": "DEVICE", "event": "device.unlink", "admin_user": ":oauth", "device": did, "owner": aliceEmail, "ip": localIP},
			tokenError(reg.ClientID, "invalid_grant", false))

		// A second authorization, revoked by its user.
		_, cb = e.authorize(t, c, authzQuery(reg, redirectURI, "files.read", ""), "approve")
		e.secrets = append(e.secrets, cb.Get("code"))
		if st, _ := e.tokenCall(t, url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "client_id": {reg.ClientID},
			"client_secret": {reg.ClientSecret}}); st != 200 {
			t.Fatalf("second exchange: %d", st)
		}
		auths, _ := e.store.UserAuthorizations(context.Background(), aliceEmail)
		if len(auths) != 1 {
			t.Fatalf("authorizations %v", auths)
		}
		e.expect(t, "second exchange", approveEvent(aliceEmail, reg.ClientID, auths[0].Device, "files.read"), event{"topic": "DEVICE", "event": "device.certify", "user": aliceEmail, "device_type": "API Client",
			"device_id": auths[0].Device, "device_name": "My First App", "caller": map[string]any{"email": aliceEmail, "device": auths[0].Device}, "ip": localIP})
		aliceTok, aliceDev := e.signInToken(t, aliceEmail, alicePW)
		if a := e.call(t, "DELETE", "/api/v1.4/users/alice@example.com/apps/"+reg.ClientID, "", bearer(aliceTok)); a.status != 204 {
			t.Errorf("revoke the app: %d %s", a.status, a.body)
		}
		e.expect(t, "revoke", event{"topic": "DEVICE", "event": "device.unlink", "admin_user": aliceEmail, "device": auths[0].Device,
			"owner": aliceEmail, "caller": callerOf(aliceEmail, aliceDev, false), "ip": localIP})
		if a := e.call(t, "DELETE", "/api/v1.4/users/alice@example.com/apps/"+reg.ClientID, "", bearer(aliceTok)); a.status != 404 {
			t.Errorf("revoke again: %d %s", a.status, a.body)
		}

		// Admin: list, get, remove.
		if a := e.call(t, "GET", "/api/v1.4/apps", "", bearer(aliceTok)); a.status != 403 {
			t.Errorf("GET /apps as a user: %d", a.status)
		}
		if a := e.call(t, "GET", "/api/v1.4/apps/"+reg.ClientID, "", bearer(adminTok)); a.status != 200 || strings.Contains(a.body, "secret") ||
			!strings.Contains(a.body, `"name":"My First App"`) {
			t.Errorf("GET app: %d %s", a.status, a.body)
		}
		if a := e.call(t, "GET", "/api/v1.4/apps", "", bearer(adminTok)); a.status != 200 || !strings.Contains(a.body, reg.ClientID) {
			t.Errorf("GET apps: %d %s", a.status, a.body)
		}
		if a := e.call(t, "DELETE", "/api/v1.4/apps/"+reg.ClientID, "", bearer(adminTok)); a.status != 204 {
			t.Errorf("DELETE app: %d %s", a.status, a.body)
		}
		e.expect(t, "remove", event{"topic": "AUDIT", "event": "audit.app.remove", "caller": callerOf(adminEmail, e.adminDevice(t, adminTok), true),
			"client_id": reg.ClientID, "name": "My First App", "ip": localIP})
		if a := e.call(t, "GET", "/api/v1.4/apps/"+reg.ClientID, "", bearer(adminTok)); a.status != 404 {
			t.Errorf("GET removed app: %d", a.status)
		}
	})
}

func TestOAuth_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newOAuthEnv(t, b, OAuthConfig{MaxExpiresIn: time.Hour})
		adminTok, _ := e.signInToken(t, adminEmail, adminPW)
		reg := e.register(t, adminTok, "Confidential", false)
		pub := e.register(t, adminTok, "Public", true)
		other := e.register(t, adminTok, "Other", false)
		redirectURI := e.app.URL + "/cb?x=1"
		c := e.browser(t, aliceEmail, alicePW)
		secret := []string{reg.ClientID, reg.ClientSecret}

		// A wrong redirect URI or an unknown client: an error page, never
		// a redirect.
		for name, q := range map[string]url.Values{
			"wrong redirect": authzQuery(reg, e.app.URL+"/other", "files.read", "s"),
			"unknown client": authzQuery(AppRegistration{ClientID: "00000000-0000-4000-8000-000000000000"}, redirectURI, "", "s"),
		} {
			if st, cb := e.authorize(t, c, q, "approve"); st != 400 || cb != nil {
				t.Errorf("%s: %d %v", name, st, cb)
			}
		}
		// Errors the app hears of, with its state.
		for name, tt := range map[string]struct {
			q    url.Values
			want string
		}{
			"bad scope":   {authzQuery(reg, redirectURI, "files.everything", "s"), "invalid_scope"},
			"admin scope": {authzQuery(reg, redirectURI, "organization.admin", "s"), "invalid_scope"},
			"response type": {func() url.Values {
				q := authzQuery(reg, redirectURI, "", "s")
				q.Set("response_type", "token")
				return q
			}(), "unsupported_response_type"},
			"public no pkce": {authzQuery(pub, redirectURI, "", "s"), "invalid_request"},
		} {
			if _, cb := e.authorize(t, c, tt.q, "approve"); cb.Get("error") != tt.want || cb.Get("state") != "s" {
				t.Errorf("%s: %v", name, cb)
			}
		}
		if _, cb := e.authorize(t, c, authzQuery(reg, redirectURI, "files.read", "d"), "deny"); cb.Get("error") != "access_denied" || cb.Get("state") != "d" || cb.Has("code") {
			t.Errorf("deny: %v", cb)
		}

		code := func(app AppRegistration, q url.Values) string {
			t.Helper()
			_, cb := e.authorize(t, c, q, "approve")
			if !token.Valid(cb.Get("code")) {
				t.Fatalf("no code: %v", cb)
			}
			e.secrets = append(e.secrets, cb.Get("code"))
			return cb.Get("code")
		}
		exchange := func(form url.Values, basic ...string) (int, map[string]any) {
			form.Set("grant_type", "authorization_code")
			return e.tokenCall(t, form, basic...)
		}
		// A wrong redirect URI at the exchange; the code stays unused.
		k := code(reg, authzQuery(reg, redirectURI, "files.read", ""))
		// The code is never exchanged: its device id is the event's.
		got := e.take()
		confDevice := ""
		if len(got) > 0 {
			confDevice, _ = got[len(got)-1]["device"].(string)
		}
		if diff := cmp.Diff([]event{
			{"topic": "AUDIT", "event": "audit.oauth.deny", "caller": map[string]any{"email": aliceEmail}, "user": aliceEmail,
				"client_id": reg.ClientID, "scope": "files.read", "ip": localIP},
			approveEvent(aliceEmail, reg.ClientID, confDevice, "files.read"),
		}, got); diff != "" || !token.Valid(confDevice) {
			t.Errorf("deny, then approve: events (-want +got):\n%s", diff)
		}
		if st, m := exchange(url.Values{"code": {k}, "redirect_uri": {e.app.URL + "/other"}}, secret...); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("wrong redirect at exchange: %d %v", st, m)
		}
		// The code is bound to its client: another client's own good
		// credentials do not redeem it.
		if st, m := exchange(url.Values{"code": {k}, "redirect_uri": {redirectURI}}, other.ClientID, other.ClientSecret); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("another client's exchange: %d %v", st, m)
		}
		// Bad client credentials: 401.
		if st, m := exchange(url.Values{"code": {k}}, reg.ClientID, "00000000000000000000000000000000"); st != 401 || m["error"] != "invalid_client" {
			t.Errorf("wrong secret: %d %v", st, m)
		}
		if st, m := exchange(url.Values{"code": {k}, "client_id": {reg.ClientID}}); st != 401 || m["error"] != "invalid_client" {
			t.Errorf("no secret: %d %v", st, m)
		}
		// An expired code.
		e.clock.Add(CodeLifetime + time.Second)
		if st, m := exchange(url.Values{"code": {k}}, secret...); st != 400 || m["error"] != "invalid_grant" || m["error_description"] != "the authorization code is invalid" {
			t.Errorf("expired code: %d %v", st, m)
		}
		// Grant types and forms.
		if st, m := e.tokenCall(t, url.Values{"grant_type": {"password"}, "client_id": {reg.ClientID}}); st != 400 || m["error"] != "unsupported_grant_type" {
			t.Errorf("password grant: %d %v", st, m)
		}
		if st, m := e.tokenCall(t, url.Values{"grant_type": {"authorization_code"}, "client_id": {reg.ClientID}}); st != 400 || m["error"] != "invalid_request" {
			t.Errorf("no code: %d %v", st, m)
		}

		// A public client: PKCE required, no secret.
		verifier := strings.Repeat("v", 50)
		q := authzQuery(pub, redirectURI, "user.read", "")
		q.Set("code_challenge", s256(verifier))
		q.Set("code_challenge_method", "S256")
		k = code(pub, q)
		if st, m := exchange(url.Values{"code": {k}, "client_id": {pub.ClientID}}); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("no verifier: %d %v", st, m)
		}
		if st, m := exchange(url.Values{"code": {k}, "client_id": {pub.ClientID}, "code_verifier": {strings.Repeat("w", 50)}}); st != 400 || m["error"] != "invalid_grant" {
			t.Errorf("wrong verifier: %d %v", st, m)
		}
		st, m := exchange(url.Values{"code": {k}, "client_id": {pub.ClientID}, "code_verifier": {verifier}, "expires_in": {"0"}})
		if st != 200 || m["expires_in"] != 3600.0 {
			t.Errorf("public exchange: %d %v", st, m)
		}
		pubDevice := e.adminDevice(t, m["access_token"].(string))
		e.expect(t, "refusals",
			tokenError(reg.ClientID, "invalid_grant", false),   // the wrong redirect URI
			tokenError(other.ClientID, "invalid_grant", false), // another client
			tokenError(reg.ClientID, "invalid_client", false), tokenError(reg.ClientID, "invalid_client", false),
			tokenError(reg.ClientID, "invalid_grant", false), // expired
			approveEvent(aliceEmail, pub.ClientID, pubDevice, "user.read"),
			tokenError(pub.ClientID, "invalid_grant", false), tokenError(pub.ClientID, "invalid_grant", false), // no or a wrong verifier
			event{"topic": "DEVICE", "event": "device.certify", "user": aliceEmail, "device_type": "API Client",
				"device_id": e.adminDevice(t, m["access_token"].(string)), "device_name": "Public",
				"caller": map[string]any{"email": aliceEmail, "device": e.adminDevice(t, m["access_token"].(string))}, "ip": localIP})
		// A reused refresh token ends its authorization.
		rt := m["refresh_token"].(string)
		if st, _ := e.tokenCall(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {pub.ClientID}}); st != 200 {
			t.Errorf("refresh: %d", st)
		}
		if st, m2 := e.tokenCall(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {pub.ClientID}}); st != 400 || m2["error"] != "invalid_grant" {
			t.Errorf("refresh reuse: %d %v", st, m2)
		}
		if a := e.call(t, "GET", "/auth/tokeninfo?access_token="+m["access_token"].(string), ""); a.status != 401 {
			t.Errorf("tokeninfo after reuse: %d %s", a.status, a.body)
		}
		e.expect(t, "refresh reuse",
			event{"topic": "AUDIT", "event": "audit.oauth.refresh", "caller": map[string]any{"email": aliceEmail, "device": pubDevice},
				"user": aliceEmail, "client_id": pub.ClientID, "device": pubDevice, "scope": "user.read", "ip": localIP},
			event{"topic": "DEVICE", "event": "device.unlink", "admin_user": ":oauth", "device": pubDevice, "owner": aliceEmail, "ip": localIP},
			tokenError(pub.ClientID, "invalid_grant", false))
	})
}

func FuzzTokenForm(f *testing.F) {
	for _, s := range []string{"grant_type=authorization_code&code=abc&client_id=x&client_secret=s3cret-value",
		"grant_type=refresh_token&refresh_token=r&scope=files.read:zz", "expires_in=-1&grant_type=refresh_token", "%zz"} {
		f.Add(s, "id", "secret-basic", false)
	}
	f.Fuzz(func(t *testing.T, body, id, secret string, basic bool) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		p, oe := parseTokenForm(form, id, secret, basic)
		if oe != nil {
			for _, s := range []string{form.Get("client_secret"), secret, form.Get("code"), form.Get("refresh_token")} {
				if len(s) > 3 && strings.Contains(oe.Description, s) {
					t.Errorf("error %q quotes a secret", oe.Description)
				}
			}
			return
		}
		if p.ClientID == "" || p.GrantType != "authorization_code" && p.GrantType != "refresh_token" || p.ExpiresIn < 0 {
			t.Errorf("accepted %+v", p)
		}
	})
}

func FuzzAppBody(f *testing.F) {
	fuzzBody[appBody](f, `{"name":"My App","redirect_uri":"http://blackhole"}`, `{"name":1}`, `{"public":"yes"}`, `[]`)
}

func FuzzAuthorizeQuery(f *testing.F) {
	for _, s := range []string{"client_id=a&response_type=code&scope=files.read&state=x",
		"client_id=a&response_type=code&code_challenge=" + strings.Repeat("a", 43) + "&code_challenge_method=S256", "response_type=token", "%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := parseAuthorizeQuery(q)
		if err != nil || p.Err != nil {
			return
		}
		if p.ClientID == "" || q.Get("response_type") != "code" || p.Challenge != "" && len(p.Challenge) != 43 {
			t.Errorf("accepted %+v", p)
		}
	})
}

// approveEvent is the audit.oauth.approve of user approving client for
// scope, the authorization's device being device.
func approveEvent(user, client, device, scope string) event {
	return event{"topic": "AUDIT", "event": "audit.oauth.approve", "caller": map[string]any{"email": user}, "user": user,
		"client_id": client, "device": device, "scope": scope, "ip": localIP}
}

// tokenError is the audit.oauth.token.error of the token endpoint
// refusing client with code.
func tokenError(client, code string, limited bool) event {
	ev := event{"topic": "AUDIT", "event": "audit.oauth.token.error", "client_id": client, "error": code, "ip": localIP}
	if limited {
		ev["rate_limited"] = true
	}
	return ev
}

func TestOAuth_TokenRateLimit(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newOAuthEnv(t, b, OAuthConfig{PerClient: ratelimit.Config{Limit: 2, Window: time.Minute},
			PerIP: ratelimit.Config{Limit: 3, Window: time.Minute}})
		adminTok, _ := e.signInToken(t, adminEmail, adminPW)
		reg := e.register(t, adminTok, "Limited", false)
		other := e.register(t, adminTok, "Other", false)
		wrong := "00000000000000000000000000000000"
		post := func(clientID, secret, code string) answer {
			t.Helper()
			form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {clientID}, "client_secret": {secret}}
			return e.call(t, "POST", "/auth/token", form.Encode(), "Content-Type: application/x-www-form-urlencoded")
		}
		limited := func(what string, a answer) {
			t.Helper()
			var m map[string]string
			if err := json.Unmarshal([]byte(a.body), &m); a.status != 429 || err != nil || a.header.Get("Retry-After") == "" ||
				m["error"] != "too_many_requests" || m["error_description"] == "" || len(m) != 2 {
				t.Errorf("%s: %d %v %s; want 429 with Retry-After and an OAuth error", what, a.status, a.header, a.body)
			}
		}
		// Two wrong secrets for the client, then its limit.
		for i := range 2 {
			if a := post(reg.ClientID, wrong, token.New()); a.status != 401 {
				t.Errorf("wrong secret %d: %d %s", i, a.status, a.body)
			}
		}
		limited("third wrong secret", post(reg.ClientID, wrong, token.New()))
		// Even with the right secret: the limiter answers first.
		limited("right secret while limited", post(reg.ClientID, reg.ClientSecret, token.New()))
		e.expect(t, "per client", tokenError(reg.ClientID, "invalid_client", false), tokenError(reg.ClientID, "invalid_client", false),
			tokenError(reg.ClientID, "too_many_requests", true), tokenError(reg.ClientID, "too_many_requests", true))
		// Another client from the same address: an invalid grant is its
		// address's third failure, then the address is limited.
		if a := post(other.ClientID, other.ClientSecret, token.New()); a.status != 400 || !strings.Contains(a.body, "invalid_grant") {
			t.Errorf("unknown code: %d %s", a.status, a.body)
		}
		limited("per address", post(other.ClientID, other.ClientSecret, token.New()))
		e.expect(t, "per address", tokenError(other.ClientID, "invalid_grant", false), tokenError(other.ClientID, "too_many_requests", true))
		// The window slides past.
		e.clock.Add(time.Minute + time.Second)
		if a := post(reg.ClientID, wrong, token.New()); a.status != 401 {
			t.Errorf("after the window: %d %s", a.status, a.body)
		}
		e.expect(t, "after the window", tokenError(reg.ClientID, "invalid_client", false))
	})
}
