package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestLoadConfig_SignInAuthorities checks content.ldap and content.oidc:
// the defaults, ${VAR} secrets, and problems named by key.
func TestLoadConfig_SignInAuthorities(t *testing.T) {
	t.Setenv("TEST_LDAP_PW", "svc-secret-Qq1")
	t.Setenv("TEST_OIDC_SECRET", "oidc-secret-Qq2")
	path := writeConfig(t, `content:
  ldap:
    url: ldap://dir.example.com
    bind_dn: cn=vigil,dc=example,dc=com
    bind_password: ${TEST_LDAP_PW}
    base_dn: dc=example,dc=com
    starttls: true
  oidc:
    issuer: https://id.example.com
    client_id: vigil
    client_secret: ${TEST_OIDC_SECRET}
    redirect_url: https://vigil.example.com/auth/oidc/callback
`)
	cfg, err := loadConfig(path, overrides{})
	if err != nil {
		t.Fatal(err)
	}
	l, o := cfg.Content.LDAP, cfg.Content.OIDC
	if l == nil || o == nil {
		t.Fatalf("sections %+v %+v", l, o)
	}
	if l.BindPassword != "svc-secret-Qq1" || l.UserFilter != "(mail=%s)" || l.FirstNameAttr != "givenName" ||
		l.LastNameAttr != "sn" || l.Timeout != 10*time.Second || !l.StartTLS {
		t.Errorf("content.ldap %+v", l)
	}
	if diff := cmp.Diff([]string{"email", "profile"}, o.Scopes); diff != "" || o.ClientSecret != "oidc-secret-Qq2" {
		t.Errorf("content.oidc %+v", o)
	}
	dir, oidc, err := signInAuthorities(cfg.Content)
	if err != nil || dir == nil || oidc == nil {
		t.Errorf("signInAuthorities = %v, %v, %v", dir, oidc, err)
	}
	// Absent sections are none.
	if dir, oidc, err := signInAuthorities(ContentConfig{}); err != nil || dir != nil || oidc != nil {
		t.Errorf("signInAuthorities(none) = %v, %v, %v", dir, oidc, err)
	}

	path = writeConfig(t, `content:
  ldap:
    url: http://dir.example.com
    bind_password: ${TEST_LDAP_PW}
    user_filter: "(mail=*)"
  oidc:
    issuer: id.example.com
`)
	_, err = loadConfig(path, overrides{})
	for _, want := range []string{"content.ldap.url", "content.ldap.base_dn", "content.ldap.bind_password", "content.ldap.user_filter",
		"content.oidc.issuer", "content.oidc.client_id", "content.oidc.redirect_url"} {
		if err == nil || !strings.Contains(err.Error(), want+":") {
			t.Errorf("loadConfig: %v; want it to name %s", err, want)
		}
	}
	if err != nil && (strings.Contains(err.Error(), "svc-secret-Qq1") || strings.Contains(err.Error(), "oidc-secret-Qq2")) {
		t.Errorf("the error shows a secret: %v", err)
	}
}
