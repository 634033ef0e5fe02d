// Package ldapauth signs users in against an LDAP directory
// (content.ldap): it finds the user's entry with a service bind and a
// search, then binds as that entry with the password given. The content
// API provisions the user from the entry on their first sign-in.
//
// Neither the service's bind password nor a user's password appears in
// an error: the errors name the step and the server's result.
package ldapauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/vigilaudit/vigil/internal/config"
)

// Config is the content.ldap section.
type Config struct {
	// URL is the directory: ldap://host:389 or ldaps://host:636.
	URL string `yaml:"url"`
	// BindDN and BindPassword are the service account that searches for
	// users; an empty BindDN searches anonymously. Give the password as
	// ${VAR}.
	BindDN       string `yaml:"bind_dn"`
	BindPassword string `yaml:"bind_password"`
	// BaseDN is where users are searched for, in the whole subtree.
	BaseDN string `yaml:"base_dn"`
	// UserFilter finds a user's entry: %s (exactly once) is the email
	// signing in, escaped as RFC 4515 says. Default "(mail=%s)".
	UserFilter string `yaml:"user_filter"`
	// StartTLS upgrades an ldap:// connection to TLS before binding.
	StartTLS bool `yaml:"starttls"`
	// CAFile is a PEM bundle of the CAs that sign the directory's
	// certificate (ldaps:// or starttls); empty trusts the system's.
	CAFile string `yaml:"ca_file"`
	// EmailAttr, FirstNameAttr and LastNameAttr are the entry's
	// attributes of the new user's email (default mail), first name
	// (givenName) and last name (sn).
	EmailAttr     string `yaml:"email_attr"`
	FirstNameAttr string `yaml:"first_name_attr"`
	LastNameAttr  string `yaml:"last_name_attr"`
	// AdminGroup is the DN of a group whose members (member or
	// uniqueMember holding their DN) are provisioned as administrators;
	// empty provisions every user as USER.
	AdminGroup string `yaml:"admin_group"`
	// Timeout bounds connecting and each request (default 10s).
	Timeout time.Duration `yaml:"timeout"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.UserFilter == "" {
		c.UserFilter = "(mail=%s)"
	}
	if c.EmailAttr == "" {
		c.EmailAttr = "mail"
	}
	if c.FirstNameAttr == "" {
		c.FirstNameAttr = "givenName"
	}
	if c.LastNameAttr == "" {
		c.LastNameAttr = "sn"
	}
	if c.Timeout == 0 {
		c.Timeout = 10 * time.Second
	}
}

// Validate checks a configuration after SetDefaults, naming each key.
// It reads ca_file.
func (c Config) Validate() error {
	var p config.Problems
	switch u, err := url.Parse(c.URL); {
	case c.URL == "":
		p.Add("url", "required")
	case err != nil:
		p.Add("url", "not a URL")
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		p.Add("url", "scheme %q: must be ldap or ldaps", u.Scheme)
	case u.Host == "":
		p.Add("url", "no host")
	case u.Scheme == "ldaps" && c.StartTLS:
		p.Add("starttls", "not with an ldaps URL, which is TLS already")
	}
	if _, err := ldap.ParseDN(c.BaseDN); c.BaseDN == "" {
		p.Add("base_dn", "required")
	} else if err != nil {
		p.Add("base_dn", "not a DN")
	}
	if c.BindDN != "" {
		if _, err := ldap.ParseDN(c.BindDN); err != nil {
			p.Add("bind_dn", "not a DN")
		}
	} else if c.BindPassword != "" {
		p.Add("bind_password", "set without bind_dn")
	}
	if strings.Count(c.UserFilter, "%s") != 1 {
		p.Add("user_filter", "must hold %%s exactly once")
	} else if _, err := ldap.CompileFilter(Filter(c.UserFilter, "probe@example.com")); err != nil {
		p.Add("user_filter", "not an LDAP filter: %v", err)
	}
	if c.AdminGroup != "" {
		if _, err := ldap.ParseDN(c.AdminGroup); err != nil {
			p.Add("admin_group", "not a DN")
		}
	}
	for key, v := range map[string]string{"email_attr": c.EmailAttr, "first_name_attr": c.FirstNameAttr, "last_name_attr": c.LastNameAttr} {
		if v == "" || strings.ContainsAny(v, "()=*\\ ,") {
			p.Add(key, "not an attribute name")
		}
	}
	if c.Timeout <= 0 {
		p.Add("timeout", "must be positive")
	}
	if c.CAFile != "" {
		if _, err := loadCAs(c.CAFile); err != nil {
			p.Add("ca_file", "%v", err)
		}
	}
	return p.Err()
}

// Filter is template with its %s replaced by value, escaped as RFC 4515
// says: the value matches itself only, whatever it holds.
func Filter(template, value string) string {
	return strings.Replace(template, "%s", ldap.EscapeFilter(value), 1)
}

// ErrInvalidCredentials refuses a sign-in: no entry for the email, more
// than one, or a wrong password.
var ErrInvalidCredentials = errors.New("invalid credentials")

// Entry is the directory's description of a user who signed in.
type Entry struct {
	DN                         string
	Email, FirstName, LastName string
	// Admin says that the entry is a member of the admin group.
	Admin bool
}

// Directory signs users in against one LDAP directory.
type Directory struct {
	cfg Config
	tls *tls.Config
}

// New returns the directory of cfg (after SetDefaults and Validate). It
// makes no network call: each sign-in connects.
func New(cfg Config) (*Directory, error) {
	d := &Directory{cfg: cfg}
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, errors.New("parse url: not a URL")
	}
	d.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		if d.tls.RootCAs, err = loadCAs(cfg.CAFile); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA file %s: no PEM certificate", path)
	}
	return pool, nil
}

// Authenticate signs email in with password: it finds the one entry the
// user filter matches, binds as it with password, and returns it. An
// unknown email, a match of several entries and a wrong or empty
// password are ErrInvalidCredentials; any other error is the
// directory's (unreachable, the service bind refused, ...).
func (d *Directory) Authenticate(email, password string) (Entry, error) {
	if password == "" || email == "" {
		// An empty password would be an unauthenticated bind, which
		// servers accept for any DN.
		return Entry{}, ErrInvalidCredentials
	}
	conn, err := ldap.DialURL(d.cfg.URL, ldap.DialWithTLSConfig(d.tls),
		ldap.DialWithDialer(&net.Dialer{Timeout: d.cfg.Timeout}))
	if err != nil {
		return Entry{}, fmt.Errorf("connect to the directory: %w", err)
	}
	defer conn.Close()
	conn.SetTimeout(d.cfg.Timeout)
	if d.cfg.StartTLS {
		if err := conn.StartTLS(d.tls); err != nil {
			return Entry{}, fmt.Errorf("start TLS with the directory: %w", err)
		}
	}
	if d.cfg.BindDN != "" {
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			return Entry{}, fmt.Errorf("bind as %s: %w", d.cfg.BindDN, err)
		}
	}
	attrs := []string{d.cfg.EmailAttr, d.cfg.FirstNameAttr, d.cfg.LastNameAttr}
	res, err := conn.Search(ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(d.cfg.Timeout/time.Second), false, Filter(d.cfg.UserFilter, email), attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return Entry{}, ErrInvalidCredentials // several entries: none is the user
	case err != nil:
		return Entry{}, fmt.Errorf("search for the user: %w", err)
	case len(res.Entries) != 1:
		return Entry{}, ErrInvalidCredentials
	}
	e := res.Entries[0]
	entry := Entry{DN: e.DN, Email: e.GetAttributeValue(d.cfg.EmailAttr),
		FirstName: e.GetAttributeValue(d.cfg.FirstNameAttr), LastName: e.GetAttributeValue(d.cfg.LastNameAttr)}
	if entry.Email == "" {
		entry.Email = email
	}
	if d.cfg.AdminGroup != "" {
		// With the service's rights, before binding as the user.
		f := "(|(member=" + ldap.EscapeFilter(e.DN) + ")(uniqueMember=" + ldap.EscapeFilter(e.DN) + "))"
		res, err := conn.Search(ldap.NewSearchRequest(d.cfg.AdminGroup, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
			1, int(d.cfg.Timeout/time.Second), false, f, []string{"1.1"}, nil))
		switch {
		case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		case err != nil:
			return Entry{}, fmt.Errorf("search the admin group: %w", err)
		default:
			entry.Admin = len(res.Entries) > 0
		}
	}
	switch err := conn.Bind(e.DN, password); {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return Entry{}, ErrInvalidCredentials
	case err != nil:
		return Entry{}, fmt.Errorf("bind as the user: %w", err)
	}
	return entry, nil
}
