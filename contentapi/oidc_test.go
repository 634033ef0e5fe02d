package contentapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// issuer is an OpenID Connect issuer the test runs: discovery, a JWKS
// with a real RSA key, /authorize (which approves at once) and /token,
// which checks the client, the redirect URI and the PKCE verifier and
// signs a real ID token. claims edits the next ID token's claims; sign
// signs it with another key.
type issuer struct {
	srv               *httptest.Server
	key, otherKey     *rsa.PrivateKey
	clientID, secret  string
	mu                sync.Mutex
	codes             map[string]url.Values // code -> the /authorize query
	claims            func(map[string]any)
	wrongKey, denying bool
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{clientID: "vigil-client", secret: "oidc-client-secret-Xy12", codes: map[string]url.Values{}}
	var err error
	if is.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if is.otherKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		u := is.srv.URL
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize",
			"token_endpoint": u + "/token", "jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
			"id_token_signing_alg_values_supported": []string{"RS256"}, "subject_types_supported": []string{"public"}})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &is.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("client_id") != is.clientID || q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
			q.Get("nonce") == "" || !strings.Contains(q.Get("scope"), "openid") {
			http.Error(w, "bad authorize request", 400)
			return
		}
		back, _ := url.Parse(q.Get("redirect_uri"))
		v := url.Values{"state": {q.Get("state")}}
		is.mu.Lock()
		if is.denying {
			v.Set("error", "access_denied")
		} else {
			code := random43()
			is.codes[code] = q
			v.Set("code", code)
		}
		is.mu.Unlock()
		back.RawQuery = v.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok {
			id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
		}
		is.mu.Lock()
		q, known := is.codes[r.PostFormValue("code")]
		delete(is.codes, r.PostFormValue("code"))
		edit, wrongKey := is.claims, is.wrongKey
		is.mu.Unlock()
		sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
		switch {
		case id != is.clientID || secret != is.secret:
			w.WriteHeader(401)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		case !known || r.PostFormValue("redirect_uri") != q.Get("redirect_uri") ||
			base64.RawURLEncoding.EncodeToString(sum[:]) != q.Get("code_challenge"):
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":"invalid_grant"}`)
			return
		}
		now := time.Now()
		claims := map[string]any{"iss": is.srv.URL, "sub": "sub-dana", "aud": is.clientID, "iat": now.Unix(),
			"exp": now.Add(5 * time.Minute).Unix(), "nonce": q.Get("nonce"),
			"email": "Dana@Example.com", "email_verified": true, "given_name": "Dana", "family_name": "Scully"}
		if edit != nil {
			edit(claims)
		}
		key := is.key
		if wrongKey {
			key = is.otherKey
		}
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		payload, _ := json.Marshal(claims)
		jws, err := signer.Sign(payload)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		raw, _ := jws.CompactSerialize()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": random43(), "token_type": "Bearer", "expires_in": 300, "id_token": raw})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// set changes how the issuer answers the next sign-ins.
func (is *issuer) set(edit func(map[string]any), wrongKey, denying bool) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.claims, is.wrongKey, is.denying = edit, wrongKey, denying
}

func newOIDCEnv(t *testing.T, b metadbtest.Backend) (*provisionEnv, *issuer) {
	t.Helper()
	is := newIssuer(t)
	cfg := OIDCConfig{Issuer: is.srv.URL, ClientID: is.clientID, ClientSecret: is.secret}
	cfg.SetDefaults()
	o := NewOIDC(cfg, nil)
	e := newProvisionEnv(t, b, Config{OIDC: o})
	o.cfg.RedirectURL = e.srv.URL + "/auth/oidc/callback"
	if err := o.cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	e.secrets = append(e.secrets, is.secret)
	return e, is
}

// browser is a client with a cookie jar that follows redirects.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 10 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) answer {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, header: resp.Header, body: strings.TrimSpace(string(body))}
}

func TestOIDCSignIn(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e, _ := newOIDCEnv(t, b)
		c := browser(t)
		a := get(t, c, e.srv.URL+"/auth/oidc/login")
		if a.status != 200 {
			t.Fatalf("sign-in flow: %d %s", a.status, a.body)
		}
		var resp SignInResponse
		if err := json.Unmarshal([]byte(a.body), &resp); err != nil || resp.User != (SignedInAs{Email: "dana@example.com"}) || resp.CSRFToken == "" {
			t.Errorf("callback answer %s", a.body)
		}
		e.secrets = append(e.secrets, resp.CSRFToken)
		e.expect(t, "first OpenID sign-in", provisionEvent("dana@example.com", "OpenID"), signinEvent("dana@example.com", "OpenID"))
		// The session cookie works.
		if a := get(t, c, e.srv.URL+"/api/v1.1/users/dana@example.com"); a.status != 200 ||
			a.body != `{"email":"dana@example.com","first_name":"Dana","last_name":"Scully","is_admin":false}` {
			t.Errorf("provisioned user by cookie: %d %s", a.status, a.body)
		}
		e.expect(t, "GET")
		// Again, from another browser: no second provisioning.
		if a := get(t, browser(t), e.srv.URL+"/auth/oidc/login"); a.status != 200 {
			t.Errorf("second sign-in: %d %s", a.status, a.body)
		}
		e.expect(t, "second OpenID sign-in", signinEvent("dana@example.com", "OpenID"))
		// The attempt's cookie is used up: replaying the callback fails.
		if a := get(t, c, e.srv.URL+"/auth/oidc/callback?code=x&state=y"); a.status != 400 {
			t.Errorf("callback without a sign-in in progress: %d %s", a.status, a.body)
		}
		e.expect(t, "replayed callback", oidcRefusal("No sign-in in progress: start again at /auth/oidc/login", ""))
	})
}

func TestOIDCSignIn_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e, is := newOIDCEnv(t, b)
		for _, c := range []struct {
			name     string
			edit     func(map[string]any)
			wrongKey bool
			denying  bool
			// reason and user are the audit.oidc.refuse's.
			reason, user string
		}{
			{name: "bad signature", wrongKey: true, reason: "Invalid ID token"},
			{name: "wrong audience", edit: func(m map[string]any) { m["aud"] = "another-client" }, reason: "Invalid ID token"},
			{name: "wrong issuer", edit: func(m map[string]any) { m["iss"] = "https://evil.example.com" }, reason: "Invalid ID token"},
			{name: "expired", edit: func(m map[string]any) {
				m["iat"], m["exp"] = time.Now().Add(-2*time.Hour).Unix(), time.Now().Add(-time.Hour).Unix()
			}, reason: "Invalid ID token"},
			{name: "wrong nonce", edit: func(m map[string]any) { m["nonce"] = random43() }, reason: "Invalid ID token"},
			{name: "no nonce", edit: func(m map[string]any) { delete(m, "nonce") }, reason: "Invalid ID token"},
			{name: "unverified email", edit: func(m map[string]any) { m["email_verified"] = false },
				reason: "The identity provider has not verified the email address", user: "dana@example.com"},
			{name: "no email_verified", edit: func(m map[string]any) { delete(m, "email_verified") },
				reason: "The identity provider has not verified the email address", user: "dana@example.com"},
			{name: "no email", edit: func(m map[string]any) { delete(m, "email") }, reason: "The identity provider gave no valid email address"},
			{name: "denied", denying: true, reason: "The identity provider refused the sign-in"},
		} {
			is.set(c.edit, c.wrongKey, c.denying)
			a := get(t, browser(t), e.srv.URL+"/auth/oidc/login")
			if typ, _ := contentError(t, a); a.status != 401 || typ != "UNAUTHORIZED" {
				t.Errorf("%s: %d %s", c.name, a.status, a.body)
			}
			if strings.Contains(a.header.Get("Set-Cookie"), "vigil_session") {
				t.Errorf("%s: a session cookie", c.name)
			}
			e.expect(t, c.name, oidcRefusal(c.reason, c.user))
		}
		if _, err := e.store.User(context.Background(), "dana@example.com"); err == nil {
			t.Error("a refused sign-in provisioned its user")
		}
		// A forged state: the callback with this browser's cookie but
		// another state.
		is.set(nil, false, false)
		c := browser(t)
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		a := get(t, c, e.srv.URL+"/auth/oidc/login")
		if a.status != 302 {
			t.Fatalf("login: %d %s", a.status, a.body)
		}
		if a := get(t, c, e.srv.URL+"/auth/oidc/callback?code=abc&state="+random43()); a.status != 400 {
			t.Errorf("forged state: %d %s", a.status, a.body)
		}
		e.expect(t, "forged state", oidcRefusal("Invalid state: not the sign-in this browser started", ""))
	})
}

func TestOIDCConfig_Validate(t *testing.T) {
	c := OIDCConfig{Issuer: "ftp://x", Scopes: []string{"a b"}}
	err := c.Validate()
	for _, k := range []string{"issuer", "client_id", "redirect_url", "scopes[0]"} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("Validate: %v; want it to name %s", err, k)
		}
	}
}

func FuzzParseOIDCAttempt(f *testing.F) {
	at := oidcAttempt{State: random43(), Nonce: random43(), Verifier: random43(), Started: time.Unix(1700000000, 0)}
	f.Add(at.String())
	f.Add("a.b.c.d")
	f.Add("...")
	f.Fuzz(func(t *testing.T, v string) {
		got, ok := parseOIDCAttempt(v)
		if ok && got.String() != v {
			t.Fatalf("%q parses as %+v, which writes %q", v, got, got.String())
		}
	})
}

// oidcRefusal is the audit.oidc.refuse of a callback refused for
// reason, naming user if not empty.
func oidcRefusal(reason, user string) emittedEvent {
	ev := emittedEvent{Event: "audit.oidc.refuse", Fields: map[string]string{"reason": str(reason), "ip": clientIP}}
	if user != "" {
		ev.Fields["user"] = str(user)
	}
	return ev
}
