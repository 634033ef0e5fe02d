package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The external authorities that vouch for a user at sign-in, as
// user.signin and user.org.provision record them.
const (
	AuthorityLDAP   = "LDAP"
	AuthorityOpenID = "OpenID"
)

// maxSubjectLen bounds an authority's name for a user (an LDAP DN, an
// OpenID subject), in bytes.
const maxSubjectLen = 1024

// provisionMigrations are the schema's versions of component
// "provision", applied after "devices": migrations[i] takes it from
// version i to i+1. Append only.
var provisionMigrations = []metadb.Migration{
	// 1: which users an external authority provisioned, and its name for
	// each (the LDAP entry's DN, the OpenID subject). A user made any
	// other way has no row; deleting the user deletes it.
	{
		SQLite: `CREATE TABLE provisioned_users (
		email          TEXT PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE,
		authority      TEXT NOT NULL CHECK (authority IN ('LDAP', 'OpenID')),
		subject        TEXT NOT NULL,
		provisioned_at INTEGER NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE provisioned_users (
		email          TEXT PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE,
		authority      TEXT NOT NULL CHECK (authority IN ('LDAP', 'OpenID')),
		subject        TEXT NOT NULL,
		provisioned_at BIGINT NOT NULL
	);`,
	},
}

// provisionComponent is auto-provisioning's schema for the migration
// runner.
var provisionComponent = metadb.Component{Name: "provision", Migrations: provisionMigrations}

// migrateProvision brings the provision component to its newest version.
func (s *Store) migrateProvision(ctx context.Context) error {
	return s.db.Migrate(ctx, provisionComponent)
}

// Vouched is a user as an external authority describes them at a
// successful sign-in.
type Vouched struct {
	// Authority is AuthorityLDAP or AuthorityOpenID.
	Authority string
	// Subject is the authority's name for the user: an LDAP DN, an
	// OpenID subject.
	Subject                    string
	Email, FirstName, LastName string
	// Admin provisions the user as an administrator (an LDAP admin
	// group's member).
	Admin bool
}

// Provision makes the account of a user an external authority vouched
// for, on their first sign-in (user.org.provision; with
// user.org.authorization too for an administrator, the authority's
// pseudo-user ":ldap" or ":openid" as admin_user), in one transaction.
// An existing user, local or provisioned before, is returned as it is:
// the authority changes nothing of theirs. created says whether the
// account is new.
func (s *Store) Provision(ctx context.Context, v Vouched) (u User, created bool, err error) {
	if v.Authority != AuthorityLDAP && v.Authority != AuthorityOpenID {
		return User{}, false, &FieldError{Field: "authority", Reason: fmt.Sprintf("%q: must be %s or %s", v.Authority, AuthorityLDAP, AuthorityOpenID)}
	}
	email, err := checkEmail("email", v.Email)
	if err != nil {
		return User{}, false, err
	}
	if v.Subject == "" || len(v.Subject) > maxSubjectLen || hasControl(v.Subject) {
		return User{}, false, &FieldError{Field: "subject", Reason: "empty, too long or with control characters"}
	}
	// Names come from the directory: keep what fits rather than refuse
	// the sign-in.
	first, last := fitName(v.FirstName), fitName(v.LastName)
	level := LevelUser
	if v.Admin {
		level = LevelAdmin
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		created = false
		at := s.timestamp()
		res, err := tx.ExecContext(ctx, `INSERT INTO users (email, created_at, first_name, last_name, password_hash, level)
			VALUES (?, ?, ?, ?, NULL, ?) ON CONFLICT (email) DO NOTHING`, email, at.UnixMilli(), first, last, string(level))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			created = true
			if _, err := tx.ExecContext(ctx, `INSERT INTO provisioned_users (email, authority, subject, provisioned_at) VALUES (?, ?, ?, ?)`,
				email, v.Authority, v.Subject, at.UnixMilli()); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "user.org.provision", at, schema.Fields{"user": email, "authority": v.Authority}); err != nil {
				return err
			}
			if level == LevelAdmin {
				if err := s.audit(ctx, tx, "user.org.authorization", at, schema.Fields{
					"admin_user": ":" + strings.ToLower(v.Authority), "target_user": email, "new_level": string(level)}); err != nil {
					return err
				}
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
		return err
	})
	if err != nil {
		return User{}, false, fmt.Errorf("provision user %s: %w", email, err)
	}
	return u, created, nil
}

// ErrExternalAccount refuses a local password to a user an external
// authority (LDAP, OpenID Connect) provisioned: their password is the
// authority's.
var ErrExternalAccount = errors.New("the user's password is managed by an external authority")

// refuseExternal is ErrExternalAccount when an authority provisioned
// email, in tx.
func refuseExternal(ctx context.Context, tx *metadb.Tx, email string) error {
	switch found, err := exists(ctx, tx, `SELECT 1 FROM provisioned_users WHERE email = ?`, email); {
	case err != nil:
		return err
	case found:
		return ErrExternalAccount
	}
	return nil
}

// exists says whether query (SELECT 1 ...) finds a row, in tx.
func exists(ctx context.Context, tx *metadb.Tx, query string, args ...any) (bool, error) {
	var one int
	switch err := tx.QueryRowContext(ctx, query, args...).Scan(&one); {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return true, nil
}

// ProvisionedBy returns the authority that provisioned email and its
// name for them; ErrNotFound for a user no authority provisioned.
func (s *Store) ProvisionedBy(ctx context.Context, email string) (authority, subject string, err error) {
	if email, err = checkEmail("email", email); err != nil {
		return "", "", err
	}
	err = s.db.QueryRowContext(ctx, `SELECT authority, subject FROM provisioned_users WHERE email = ?`, email).Scan(&authority, &subject)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", "", fmt.Errorf("get provisioning of %s: %w", email, ErrNotFound)
	case err != nil:
		return "", "", fmt.Errorf("get provisioning of %s: %w", email, err)
	}
	return authority, subject, nil
}

// fitName is a name from an authority made to fit checkPersonName: on
// one line, cut to maxPersonNameLen bytes at a rune boundary.
func fitName(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	s = strings.TrimSpace(s)
	for len(s) > maxPersonNameLen {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strings.TrimSpace(s)
}
