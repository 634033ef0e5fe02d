package ldapauth_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/contentapi/ldapauth"
	"github.com/vigilaudit/vigil/contentapi/ldapauth/ldaptest"
)

var (
	carol = ldaptest.User{UID: "carol", Email: "carol@example.com", Password: "carol-ldap-Pw55", GivenName: "Carol", Surname: "Danvers"}
	root  = ldaptest.User{UID: "root", Email: "root@example.com", Password: "root-ldap-Pw66", GivenName: "Ro", Surname: "Ot", Admin: true}
	// Two entries with one address: neither signs in.
	twin1 = ldaptest.User{UID: "twin1", Email: "twin@example.com", Password: "twin-Pw1", Surname: "One"}
	twin2 = ldaptest.User{UID: "twin2", Email: "twin@example.com", Password: "twin-Pw2", Surname: "Two"}
)

func directory(t *testing.T, srv ldaptest.Server, edit func(*ldapauth.Config)) *ldapauth.Directory {
	t.Helper()
	cfg := ldapauth.Config{URL: srv.URL, BindDN: ldaptest.ServiceDN, BindPassword: ldaptest.ServicePassword,
		BaseDN: ldaptest.BaseDN, AdminGroup: ldaptest.AdminGroup}
	if edit != nil {
		edit(&cfg)
	}
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	srv := ldaptest.Start(t, carol, root, twin1, twin2)
	d := directory(t, srv, nil)

	got, err := d.Authenticate("carol@example.com", carol.Password)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ldapauth.Entry{DN: carol.DN(), Email: "carol@example.com", FirstName: "Carol", LastName: "Danvers"}, got); diff != "" {
		t.Errorf("carol (-want +got):\n%s", diff)
	}
	if got, err := d.Authenticate("root@example.com", root.Password); err != nil || !got.Admin {
		t.Errorf("root = %+v, %v; want an admin", got, err)
	}
	for _, c := range []struct{ name, email, pw string }{
		{"wrong password", "carol@example.com", "not-carols"},
		{"empty password", "carol@example.com", ""},
		{"unknown email", "nobody@example.com", carol.Password},
		{"wildcard", "*", carol.Password},
		{"filter injection", "carol@example.com)(|(mail=*", carol.Password},
		{"two entries", "twin@example.com", twin1.Password},
		{"another's password", "carol@example.com", root.Password},
	} {
		if _, err := d.Authenticate(c.email, c.pw); !errors.Is(err, ldapauth.ErrInvalidCredentials) {
			t.Errorf("%s: %v; want ErrInvalidCredentials", c.name, err)
		}
	}

	// StartTLS with the CA that signs the server's certificate.
	tlsDir := directory(t, srv, func(c *ldapauth.Config) { c.StartTLS, c.CAFile = true, srv.CAFile })
	if got, err := tlsDir.Authenticate("carol@example.com", carol.Password); err != nil || got.DN != carol.DN() {
		t.Errorf("StartTLS: %+v, %v", got, err)
	}
	// Without it the certificate is not trusted: an error, not a refusal.
	untrusted := directory(t, srv, func(c *ldapauth.Config) { c.StartTLS = true })
	if _, err := untrusted.Authenticate("carol@example.com", carol.Password); err == nil || errors.Is(err, ldapauth.ErrInvalidCredentials) {
		t.Errorf("StartTLS with an untrusted certificate: %v", err)
	}
	// A wrong service password is the directory's error, and does not
	// show the password.
	badSvc := directory(t, srv, func(c *ldapauth.Config) { c.BindPassword = "wrong-svc-Pw" })
	_, err = badSvc.Authenticate("carol@example.com", carol.Password)
	if err == nil || errors.Is(err, ldapauth.ErrInvalidCredentials) || strings.Contains(err.Error(), "wrong-svc-Pw") ||
		strings.Contains(err.Error(), carol.Password) {
		t.Errorf("wrong service password: %v", err)
	}
	// This directory lets no anonymous search see the base: the
	// directory's error, not a refusal.
	anon := directory(t, srv, func(c *ldapauth.Config) { c.BindDN, c.BindPassword = "", "" })
	if _, err := anon.Authenticate("carol@example.com", carol.Password); err == nil || errors.Is(err, ldapauth.ErrInvalidCredentials) {
		t.Errorf("anonymous search: %v", err)
	}
	// Another filter and attribute.
	byUID := directory(t, srv, func(c *ldapauth.Config) {
		c.UserFilter, c.FirstNameAttr = "(&(objectClass=inetOrgPerson)(uid=%s))", "cn"
	})
	if got, err := byUID.Authenticate("carol", carol.Password); err != nil || got.FirstName != "Carol Danvers" || got.Email != "carol@example.com" {
		t.Errorf("by uid: %+v, %v", got, err)
	}
}

func TestAuthenticate_Unreachable(t *testing.T) {
	cfg := ldapauth.Config{URL: "ldap://127.0.0.1:1", BaseDN: "dc=example,dc=com"}
	cfg.SetDefaults()
	d, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Authenticate("carol@example.com", "pw"); err == nil || errors.Is(err, ldapauth.ErrInvalidCredentials) {
		t.Errorf("unreachable directory: %v", err)
	}
}

func TestConfig_Validate(t *testing.T) {
	for _, c := range []struct {
		cfg  ldapauth.Config
		keys []string
	}{
		{ldapauth.Config{}, []string{"url", "base_dn"}},
		{ldapauth.Config{URL: "http://x", BaseDN: "dc=x"}, []string{"url"}},
		{ldapauth.Config{URL: "ldaps://x", BaseDN: "dc=x", StartTLS: true}, []string{"starttls"}},
		{ldapauth.Config{URL: "ldap://x", BaseDN: "dc=x", UserFilter: "(mail=*)"}, []string{"user_filter"}},
		{ldapauth.Config{URL: "ldap://x", BaseDN: "dc=x", UserFilter: "(mail=%s"}, []string{"user_filter"}},
		{ldapauth.Config{URL: "ldap://x", BaseDN: "dc=x", BindPassword: "p"}, []string{"bind_password"}},
		{ldapauth.Config{URL: "ldap://x", BaseDN: "dc=x", CAFile: "/nonexistent/ca.pem", AdminGroup: "no dn"}, []string{"ca_file", "admin_group"}},
		{ldapauth.Config{URL: "ldap://x", BaseDN: "dc=x", FirstNameAttr: "a b"}, []string{"first_name_attr"}},
	} {
		c.cfg.SetDefaults()
		err := c.cfg.Validate()
		if err == nil {
			t.Errorf("%+v: valid", c.cfg)
			continue
		}
		for _, k := range c.keys {
			if !strings.Contains(err.Error(), k) {
				t.Errorf("%+v: %v; want it to name %s", c.cfg, err, k)
			}
		}
	}
	ok := ldapauth.Config{URL: "ldap://127.0.0.1:389", BaseDN: "dc=example,dc=com", BindDN: "cn=svc,dc=example,dc=com", BindPassword: "x"}
	ok.SetDefaults()
	if err := ok.Validate(); err != nil {
		t.Errorf("valid config: %v", err)
	}
}

// FuzzFilter checks that any value escapes into an equality filter that
// matches exactly that value: no wildcard, no second clause.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{"carol@example.com", "*", ")(|(mail=*", `\2a`, "é\x00", "a)(b=c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		filter := ldapauth.Filter("(mail=%s)", v)
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("%q: %q does not compile: %v", v, filter, err)
		}
		if p.Tag != ldap.FilterEqualityMatch || len(p.Children) != 2 {
			t.Fatalf("%q: %q is not one equality match", v, filter)
		}
		if attr, val := p.Children[0].Data.String(), p.Children[1].Data.String(); attr != "mail" || val != v {
			t.Fatalf("%q: %q matches %s=%q", v, filter, attr, val)
		}
	})
}
