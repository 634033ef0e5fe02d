package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// A user of the content API may be given a role of the audit system, so
// that they sign in to the web console with their own account and read
// the audit data as an auditor. An organization administrator (level
// ADMIN) acts with RoleAdmin without one. The role goes when the user is
// deleted or removed from the organization, with their sessions.

// NoRole is the role argument of SetUserRole that takes a user's role
// away, and the role audit.user.role records for it.
const NoRole Role = "none"

// roleMigrations are the versions of component "roles": migrations[i]
// takes it from version i to i+1. Append only. A row names a user
// without a foreign key, like the org tables: the account's deletion
// deletes it in the same transaction.
var roleMigrations = []metadb.Migration{
	// 1: the users given an audit role (only auditor so far).
	{
		SQLite: `CREATE TABLE user_roles (
		email      TEXT PRIMARY KEY,
		role       TEXT NOT NULL CHECK (role IN ('auditor')),
		updated_at INTEGER NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE user_roles (
		email      TEXT PRIMARY KEY,
		role       TEXT NOT NULL CHECK (role IN ('auditor')),
		updated_at BIGINT NOT NULL
	);`,
	},
}

// rolesComponent is the users' roles' schema for the migration runner.
var rolesComponent = metadb.Component{Name: "roles", Migrations: roleMigrations}

// migrateRoles brings the roles component to its newest version.
func (s *Store) migrateRoles(ctx context.Context) error {
	return s.db.Migrate(ctx, rolesComponent)
}

// checkUserRole accepts the roles a user may be given: auditor, or none
// to take it away. Admin comes with the organization level, never from
// here.
func checkUserRole(r Role) error {
	switch r {
	case RoleAuditor, NoRole:
		return nil
	case RoleAdmin:
		return &FieldError{Field: "role", Reason: `"admin" comes with the organization level ADMIN (set-level); a user's role is auditor or none`}
	case "":
		return &FieldError{Field: "role", Reason: "required"}
	}
	return &FieldError{Field: "role", Reason: fmt.Sprintf("%q: must be auditor or none", r)}
}

// SetUserRole gives a user an audit role (RoleAuditor) or takes it away
// (NoRole), on caller's behalf, and records the change as
// audit.user.role in the same transaction. Setting the role a user has
// writes nothing. An unknown user is ErrNotFound.
func (s *Store) SetUserRole(ctx context.Context, caller, email string, role Role) (User, error) {
	caller, err := checkCaller(caller)
	if err != nil {
		return User{}, err
	}
	if email, err = checkEmail("email", email); err != nil {
		return User{}, err
	}
	if err := checkUserRole(role); err != nil {
		return User{}, err
	}
	var u User
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`+tx.Dialect().ForUpdate(), email))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		}
		if ok, _, err := member(ctx, tx, email); err != nil {
			return err
		} else if !ok {
			return fmt.Errorf("%w: the user was removed from the organization", ErrNotFound)
		}
		old := u.Role
		if old == "" {
			old = NoRole
		}
		if old == role {
			return nil
		}
		now := s.timestamp()
		if role == NoRole {
			if err := deleteRole(ctx, tx, email); err != nil {
				return err
			}
			u.Role = ""
		} else {
			if _, err := tx.ExecContext(ctx, `INSERT INTO user_roles (email, role, updated_at) VALUES (?, ?, ?)
				ON CONFLICT (email) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
				email, string(role), now.UnixMilli()); err != nil {
				return err
			}
			u.Role = role
		}
		return s.audit(ctx, tx, "audit.user.role", now,
			schema.Fields{"caller": caller, "user": email, "role": string(role), "old_role": string(old)})
	})
	if err != nil {
		return User{}, fmt.Errorf("set role of %s: %w", email, err)
	}
	return u, nil
}

// deleteRole takes email's role away, in tx; none is no error.
func deleteRole(ctx context.Context, tx *metadb.Tx, email string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM user_roles WHERE email = ?`, email)
	return err
}

// ConsoleRole is the role that a signed-in user acts with in the audit
// APIs and the web console: RoleAdmin for an organization administrator,
// the role they were given (RoleAuditor), or "" for none. An unknown
// user is ErrNotFound.
func (s *Store) ConsoleRole(ctx context.Context, email string) (Role, error) {
	u, err := s.User(ctx, email)
	if err != nil {
		return "", err
	}
	return u.ConsoleRole(), nil
}

// ConsoleRole is the role u acts with in the audit APIs and the web
// console: RoleAdmin for an organization administrator, else u's role.
func (u User) ConsoleRole() Role {
	if u.Level == LevelAdmin {
		return RoleAdmin
	}
	return u.Role
}
