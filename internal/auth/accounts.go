package auth

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Level is a user's level in the organization.
type Level string

// The organization levels, as user.org.authorization records them.
const (
	LevelUser  Level = "USER"
	LevelAdmin Level = "ADMIN"
)

// ErrInUse refuses to delete a user who still owns devices: their
// records (sequence numbers, last use) outlive no owner.
var ErrInUse = errors.New("in use")

// maxPersonNameLen bounds first and last names, in bytes.
const maxPersonNameLen = 100

// User is an account. Its password is never returned, only whether it has
// one.
type User struct {
	Email       string    `json:"email"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Level       Level     `json:"level"`
	HasPassword bool      `json:"has_password"`
	CreatedAt   time.Time `json:"created_at"`
	// Role is the audit role the user was given (RoleAuditor), empty
	// for none; ConsoleRole is the one they act with.
	Role Role `json:"role,omitempty"`
}

// NewUser is what CreateUser makes.
type NewUser struct {
	Email, FirstName, LastName string
	// Level is USER when empty.
	Level Level
	// PasswordHash is the password's PHC string; empty for none (the
	// user cannot sign in with a password until one is set).
	PasswordHash string
}

// Actor is who acts and from where, as the audit events record it: the
// catalog's caller object (Email may be a pseudo-user: ":local",
// ":token:NAME") and the client's address.
type Actor struct {
	Email, Device, ActingAs string
	IP                      string
	// UserAgent is the client's User-Agent, recorded on sign-in events
	// (user.signin, user.password.error) when not empty.
	UserAgent string
}

// signinFields are the sign-in events' fields of a: its ip, and its
// user_agent when known.
func (a Actor) signinFields(f schema.Fields) schema.Fields {
	f["ip"] = a.IP
	if a.UserAgent != "" {
		f["user_agent"] = a.UserAgent
	}
	return f
}

// caller is a's caller object as an event field.
func (a Actor) caller() (json.RawMessage, error) {
	email, err := checkCaller(a.Email)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(struct {
		Email    string `json:"email"`
		Device   string `json:"device,omitempty"`
		ActingAs string `json:"acting_as,omitempty"`
	}{email, a.Device, a.ActingAs})
	if err != nil {
		return nil, fmt.Errorf("encode caller: %w", err)
	}
	return b, nil
}

// CreateUser creates an account (user.create; with user.org.authorization
// too for an administrator). An existing user, one made by AddDevice
// included, is ErrExists.
func (s *Store) CreateUser(ctx context.Context, a Actor, nu NewUser) (User, error) {
	caller, err := a.caller()
	if err != nil {
		return User{}, err
	}
	u := User{Level: nu.Level, HasPassword: nu.PasswordHash != "", CreatedAt: s.timestamp()}
	if u.Email, err = checkEmail("email", nu.Email); err != nil {
		return User{}, err
	}
	if u.FirstName, err = checkPersonName("first_name", nu.FirstName); err != nil {
		return User{}, err
	}
	if u.LastName, err = checkPersonName("last_name", nu.LastName); err != nil {
		return User{}, err
	}
	if u.Level == "" {
		u.Level = LevelUser
	}
	if err := checkLevel(u.Level); err != nil {
		return User{}, err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := execOne(ctx, tx, ErrExists, `INSERT INTO users (email, created_at, first_name, last_name, password_hash, level)
			VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`,
			u.Email, u.CreatedAt.UnixMilli(), u.FirstName, u.LastName, nullString(nu.PasswordHash), string(u.Level)); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, "user.create", u.CreatedAt, schema.Fields{"email": u.Email, "caller": caller}); err != nil {
			return err
		}
		if u.Level == LevelAdmin {
			return s.audit(ctx, tx, "user.org.authorization", u.CreatedAt,
				schema.Fields{"admin_user": a.Email, "target_user": u.Email, "new_level": string(u.Level)})
		}
		return nil
	})
	if err != nil {
		return User{}, fmt.Errorf("create user %s: %w", u.Email, err)
	}
	return u, nil
}

// userColumns are a user's columns, of a query FROM users (not
// aliased): the role comes from user_roles.
const userColumns = `email, first_name, last_name, level, password_hash IS NOT NULL, created_at,
	(SELECT r.role FROM user_roles r WHERE r.email = users.email)`

func scanUser(row rowScanner) (User, error) {
	return scanUserWith(row)
}

// scanUserWith scans userColumns and then the further columns more
// points to.
func scanUserWith(row rowScanner, more ...any) (User, error) {
	var (
		u       User
		created int64
		level   string
		role    sql.NullString
	)
	if err := row.Scan(append([]any{&u.Email, &u.FirstName, &u.LastName, &level, &u.HasPassword, &created, &role}, more...)...); err != nil {
		return User{}, err
	}
	u.Level, u.CreatedAt, u.Role = Level(level), fromMillis(created), Role(role.String)
	return u, nil
}

// User returns the account of email; ErrNotFound for none.
func (s *Store) User(ctx context.Context, email string) (User, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return User{}, err
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, fmt.Errorf("get user %s: %w", email, ErrNotFound)
	case err != nil:
		return User{}, fmt.Errorf("get user %s: %w", email, err)
	}
	return u, nil
}

// Users returns at most limit accounts in email order: the first ones
// after after, or, when before is set, the last ones before before (still
// in email order).
func (s *Store) Users(ctx context.Context, after, before string, limit int) ([]User, error) {
	q := `SELECT ` + userColumns + ` FROM users WHERE email > ? ORDER BY email LIMIT ?`
	key := strings.ToLower(after)
	if before != "" {
		q = `SELECT ` + userColumns + ` FROM users WHERE email < ? ORDER BY email DESC LIMIT ?`
		key = strings.ToLower(before)
	}
	users, err := queryAll(ctx, s.db, scanUser, q, key, limit)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	if before != "" {
		slices.Reverse(users)
	}
	return users, nil
}

// UpdateUser sets a user's names (user.update).
func (s *Store) UpdateUser(ctx context.Context, a Actor, email, first, last string) (User, error) {
	caller, err := a.caller()
	if err != nil {
		return User{}, err
	}
	if email, err = checkEmail("email", email); err != nil {
		return User{}, err
	}
	if first, err = checkPersonName("first_name", first); err != nil {
		return User{}, err
	}
	if last, err = checkPersonName("last_name", last); err != nil {
		return User{}, err
	}
	var u User
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := updateOne(ctx, tx, `UPDATE users SET first_name = ?, last_name = ? WHERE email = ?`, first, last, email); err != nil {
			return err
		}
		if u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email)); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.update", s.timestamp(), schema.Fields{"email": email, "caller": caller})
	})
	if err != nil {
		return User{}, fmt.Errorf("update user %s: %w", email, err)
	}
	return u, nil
}

// DeleteUser deletes an account with its access tokens and sessions
// (user.delete, the actor in its delete field). A user who owns devices
// is ErrInUse.
func (s *Store) DeleteUser(ctx context.Context, a Actor, email string) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	if email, err = checkEmail("email", email); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM devices WHERE user_email = ?`, email).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: the user has %d devices", ErrInUse, n)
		}
		if err := endAll(ctx, tx, email); err != nil {
			return err
		}
		if err := deleteRole(ctx, tx, email); err != nil {
			return err
		}
		if err := updateOne(ctx, tx, `DELETE FROM users WHERE email = ?`, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.delete", s.timestamp(), schema.Fields{"email": email, "delete": caller})
	})
	if err != nil {
		return fmt.Errorf("delete user %s: %w", email, err)
	}
	return nil
}

// SetPassword stores a user's new password hash, a PHC string
// (user.password.update). The user's other sessions and tokens stay.
// A user an external authority provisioned is ErrExternalAccount.
func (s *Store) SetPassword(ctx context.Context, a Actor, email, hash string) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	if email, err = checkEmail("email", email); err != nil {
		return err
	}
	if hash == "" {
		return &FieldError{Field: "password", Reason: "required"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := refuseExternal(ctx, tx, email); err != nil {
			return err
		}
		if err := updateOne(ctx, tx, `UPDATE users SET password_hash = ? WHERE email = ?`, hash, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.password.update", s.timestamp(), schema.Fields{"email": email, "caller": caller})
	})
	if err != nil {
		return fmt.Errorf("set password of %s: %w", email, err)
	}
	return nil
}

// RehashPassword replaces email's stored password hash old with
// newHash, the same password hashed at the configured cost, after a
// sign-in proved it. It is storage upkeep, not an action: no event, and
// nothing changes when the hash is no longer old (the password changed
// meanwhile).
func (s *Store) RehashPassword(ctx context.Context, email, old, newHash string) error {
	email, err := checkEmail("email", email)
	if err != nil {
		return err
	}
	if old == "" || newHash == "" {
		return &FieldError{Field: "password", Reason: "required"}
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE email = ? AND password_hash = ?`, newHash, email, old); err != nil {
		return fmt.Errorf("rehash password of %s: %w", email, err)
	}
	return nil
}

// RevokePassword removes a user's password and ends every session and
// access token of theirs (user.password.revoke).
func (s *Store) RevokePassword(ctx context.Context, a Actor, email string) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	if email, err = checkEmail("email", email); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := updateOne(ctx, tx, `UPDATE users SET password_hash = NULL WHERE email = ?`, email); err != nil {
			return err
		}
		if err := endAll(ctx, tx, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.password.revoke", s.timestamp(), schema.Fields{"email": email, "caller": caller})
	})
	if err != nil {
		return fmt.Errorf("revoke password of %s: %w", email, err)
	}
	return nil
}

// SetLevel promotes or demotes a user (user.org.authorization, the actor
// as admin_user). Setting the level a user has writes nothing.
func (s *Store) SetLevel(ctx context.Context, a Actor, email string, level Level) (User, error) {
	admin, err := checkCaller(a.Email)
	if err != nil {
		return User{}, err
	}
	if email, err = checkEmail("email", email); err != nil {
		return User{}, err
	}
	if err := checkLevel(level); err != nil {
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
		case u.Level == level:
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET level = ? WHERE email = ?`, string(level), email); err != nil {
			return err
		}
		u.Level = level
		return s.audit(ctx, tx, "user.org.authorization", s.timestamp(),
			schema.Fields{"admin_user": admin, "target_user": email, "new_level": string(level)})
	})
	if err != nil {
		return User{}, fmt.Errorf("set level of %s: %w", email, err)
	}
	return u, nil
}

// PasswordHash returns a user with the PHC string of their password, for
// sign-in; "" when they have none. An unknown user is ErrNotFound.
func (s *Store) PasswordHash(ctx context.Context, email string) (User, string, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return User{}, "", err
	}
	var hash sql.NullString
	row := s.db.QueryRowContext(ctx, `SELECT `+userColumns+`, password_hash FROM users WHERE email = ?`, email)
	u, err := scanUserWith(row, &hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, "", fmt.Errorf("get user %s: %w", email, ErrNotFound)
	case err != nil:
		return User{}, "", fmt.Errorf("get user %s: %w", email, err)
	}
	return u, hash.String, nil
}

// updateOne runs an UPDATE or DELETE of one row; none is ErrNotFound.
func updateOne(ctx context.Context, tx *metadb.Tx, query string, args ...any) error {
	return execOne(ctx, tx, ErrNotFound, query, args...)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// checkPersonName returns a first or last name, trimmed: free text of at
// most maxPersonNameLen bytes, on one line; empty is allowed.
func checkPersonName(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case len(s) > maxPersonNameLen:
		return "", &FieldError{Field: field, Reason: fmt.Sprintf("longer than %d bytes", maxPersonNameLen)}
	case !utf8.ValidString(s):
		return "", &FieldError{Field: field, Reason: "invalid UTF-8"}
	case hasControl(s):
		return "", &FieldError{Field: field, Reason: "contains control characters"}
	}
	return s, nil
}

// checkLevel accepts USER and ADMIN.
func checkLevel(l Level) error {
	switch l {
	case LevelUser, LevelAdmin:
		return nil
	case "":
		return &FieldError{Field: "level", Reason: "required"}
	}
	return &FieldError{Field: "level", Reason: fmt.Sprintf("%q: must be %s or %s", l, LevelUser, LevelAdmin)}
}
