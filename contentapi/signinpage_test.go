package contentapi

import (
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/totp"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// signinPage is the sign-in page a client got: its status, final URL,
// body and hidden fields.
type signinPage struct {
	status int
	url    *url.URL
	body   string
	fields url.Values
}

func readPage(t *testing.T) func(*http.Response, error) signinPage {
	return func(resp *http.Response, err error) signinPage { return readPageOf(t, resp, err) }
}

func readPageOf(t *testing.T, resp *http.Response, err error) signinPage {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	p := signinPage{status: resp.StatusCode, url: resp.Request.URL, body: string(b), fields: url.Values{}}
	for _, m := range hiddenField.FindAllStringSubmatch(p.body, -1) {
		p.fields.Set(m[1], html.UnescapeString(m[2]))
	}
	return p
}

// jarClient is a browser: a cookie jar, following redirects.
func jarClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

// postSignin posts the sign-in form of page with email and pw.
func postSignin(t *testing.T, c *http.Client, base string, page signinPage, email, pw string, extra ...string) signinPage {
	t.Helper()
	form := url.Values{"email": {email}, "password": {pw}}
	for k, vs := range page.fields {
		form[k] = vs
	}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return readPage(t)(c.PostForm(base+"/signin", form))
}

func TestSigninPage(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newOAuthEnv(t, b, OAuthConfig{})
		c := jarClient()

		// The page renders, with its CSRF token and a valid return_to.
		page := readPage(t)(c.Get(e.srv.URL + "/signin?return_to=" + url.QueryEscape("/api/v1.4/users/"+aliceEmail)))
		if page.status != 200 || !strings.Contains(page.body, `name="password"`) || strings.Contains(page.body, `name="code"`) ||
			page.fields.Get("return_to") != "/api/v1.4/users/"+aliceEmail || len(page.fields.Get("csrf_token")) != 32 {
			t.Fatalf("page: %d %v %s", page.status, page.fields, page.body)
		}
		e.secrets = append(e.secrets, page.fields.Get("csrf_token"))

		// A wrong password: the page again with the error, and its event.
		bad := postSignin(t, c, e.srv.URL, page, aliceEmail, "wrong-Pw-12345")
		if bad.status != 401 || !strings.Contains(bad.body, "Invalid email or password") || bad.fields.Get("return_to") == "" {
			t.Errorf("bad password: %d %s", bad.status, bad.body)
		}
		e.expect(t, "bad password", event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA})

		// The right one: the session cookie, and back to return_to, where
		// the cookie works.
		good := postSignin(t, c, e.srv.URL, page, aliceEmail, alicePW)
		if good.status != 200 || good.url.Path != "/api/v1.4/users/"+aliceEmail || !strings.Contains(good.body, `"email":"`+aliceEmail+`"`) {
			t.Errorf("sign in: %d %s %s", good.status, good.url, good.body)
		}
		u, _ := url.Parse(e.srv.URL)
		for _, ck := range c.Jar.Cookies(u) {
			e.secrets = append(e.secrets, ck.Value)
		}
		e.expect(t, "sign in", event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})

		// Signed in, the page says so.
		if p := readPage(t)(c.Get(e.srv.URL + "/signin")); p.status != 200 || !strings.Contains(p.body, "signed in as <strong>"+aliceEmail) {
			t.Errorf("signed-in page: %d %s", p.status, p.body)
		}
	})
}

func TestSigninPage_Refused(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newOAuthEnv(t, b, OAuthConfig{})

		// An off-site return_to is ignored: the form has none and the
		// sign-in lands on the signed-in page.
		c := jarClient()
		page := readPage(t)(c.Get(e.srv.URL + "/signin?return_to=" + url.QueryEscape("//evil.example.com/x")))
		if page.fields.Has("return_to") {
			t.Errorf("off-site return_to kept: %v", page.fields)
		}
		page.fields.Set("return_to", "https://evil.example.com/")
		e.secrets = append(e.secrets, page.fields.Get("csrf_token"))
		p := postSignin(t, c, e.srv.URL, page, bobEmail, bobPW)
		if p.status != 200 || p.url.Host != u(e).Host || p.url.Path != "/signin" || !strings.Contains(p.body, "signed in as <strong>"+bobEmail) {
			t.Errorf("off-site return_to: %d %s %s", p.status, p.url, p.body)
		}
		for _, ck := range c.Jar.Cookies(u(e)) {
			e.secrets = append(e.secrets, ck.Value)
		}
		e.expect(t, "sign in", event{"topic": "USER", "event": "user.signin", "user": bobEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})

		// A post without the form's CSRF token, or a cross-site one
		// without the pre-session cookie, is refused before any check.
		c = jarClient()
		page = readPage(t)(c.Get(e.srv.URL + "/signin"))
		e.secrets = append(e.secrets, page.fields.Get("csrf_token"))
		token := page.fields.Get("csrf_token")
		page.fields.Del("csrf_token")
		if p := postSignin(t, c, e.srv.URL, page, aliceEmail, alicePW); p.status != 403 || !strings.Contains(p.body, "CSRF") {
			t.Errorf("no CSRF token: %d %s", p.status, p.body)
		}
		page.fields.Set("csrf_token", token)
		if p := postSignin(t, jarClient(), e.srv.URL, page, aliceEmail, alicePW); p.status != 403 {
			t.Errorf("no pre-session cookie: %d %s", p.status, p.body)
		}
		e.expect(t, "refused posts")

	})
}

func TestSigninPage_TwoFactor(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		e := newSecurityEnv(t, b, SecurityConfig{})
		alice, _ := e.token(t, aliceEmail, alicePW, "")
		secret, _ := e.enableTwoFactor(t, aliceEmail, alice)
		c := jarClient()
		page := readPage(t)(c.Get(e.srv.URL + "/signin?return_to=/signin%3Fdone"))
		e.secrets = append(e.secrets, page.fields.Get("csrf_token"))
		p := postSignin(t, c, e.srv.URL, page, aliceEmail, alicePW)
		if p.status != 401 || !strings.Contains(p.body, `name="code"`) || p.fields.Get("return_to") != "/signin?done" {
			t.Fatalf("without a code: %d %s", p.status, p.body)
		}
		e.want(t, "without a code")
		p = postSignin(t, c, e.srv.URL, p, aliceEmail, alicePW, "code", "999999")
		if p.status != 401 || !strings.Contains(p.body, "Invalid two-factor code") {
			t.Errorf("wrong code: %d %s", p.status, p.body)
		}
		e.want(t, "wrong code", event{"topic": "USER", "event": "user.password.error", "user": aliceEmail, "ip": localIP, "user_agent": testUA, "two_factor": true})
		e.clock.Add(totp.Period)
		p = postSignin(t, c, e.srv.URL, p, aliceEmail, alicePW, "code", totp.Code(secret, totp.Step(e.clock.Now())))
		if p.status != 200 || p.url.RawQuery != "done" || !strings.Contains(p.body, "signed in as <strong>"+aliceEmail) {
			t.Errorf("with the code: %d %s %s", p.status, p.url, p.body)
		}
		for _, ck := range c.Jar.Cookies(p.url) {
			e.secrets = append(e.secrets, ck.Value)
		}
		e.want(t, "with the code", event{"topic": "USER", "event": "user.signin", "user": aliceEmail, "authority": "Credential", "ip": localIP, "user_agent": testUA})
	})
}

func u(e *oauthEnv) *url.URL {
	u, _ := url.Parse(e.srv.URL)
	return u
}

var returnToCases = map[string]bool{
	"/": true, "/authorize?client_id=x&redirect_uri=https%3A%2F%2Fa.example%2Fcb": true, "/a/b#c": true, "/a//b": true,
	"": false, "//evil.example.com": false, `/\evil.example.com`: false, "https://evil.example.com/": false, "evil": false,
	"javascript:alert(1)": false, "/a\nb": false, "/a\\b": false, " /a": false, "///evil": false,
}

func TestValidReturnTo(t *testing.T) {
	for s, want := range returnToCases {
		if got := validReturnTo(s); got != want {
			t.Errorf("validReturnTo(%q) = %v", s, got)
		}
	}
}

var sameOrigin = regexp.MustCompile(`^https://vigil\.example\.com/`)

func FuzzValidReturnTo(f *testing.F) {
	for s := range returnToCases {
		f.Add(s)
	}
	base, _ := url.Parse("https://vigil.example.com/signin")
	f.Fuzz(func(t *testing.T, s string) {
		if !validReturnTo(s) {
			return
		}
		ref, err := url.Parse(s)
		if err != nil {
			t.Fatalf("valid %q does not parse: %v", s, err)
		}
		if got := base.ResolveReference(ref); got.Host != base.Host || got.Scheme != base.Scheme || !sameOrigin.MatchString(got.String()) {
			t.Fatalf("valid %q leads to %s", s, got)
		}
	})
}
