package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The organization: there is one, OrgID. A user removed from it keeps
// their account record (their devices' history outlives their
// membership) but not their password, level, sessions, tokens or group
// memberships, and is in the private organization, PrivateOrgID, until
// they accept a new invitation (user.org.accept).
const (
	OrgID        = "2"
	PrivateOrgID = "0"
	// maxGroupNameLen bounds a group's name, in bytes.
	maxGroupNameLen = 200
	// QuotaWarnPercent is how full a quota is when user.quota.warning
	// is written.
	QuotaWarnPercent = 80
)

// orgMigrations are the schema's versions of component "org", applied
// after "auth"'s and "devices'": migrations[i] takes it from version i to
// i+1. Append only. Emails refer to users without a foreign key, so that
// deleting a user is not held up by their invitation or groups; lists
// join with users.
var orgMigrations = []metadb.Migration{
	// 1: invitations (kept by their signup code's SHA-256 in hex,
	// never the code), the users removed from the organization, groups and their
	// members, and each user's measured storage use.
	{
		SQLite: `CREATE TABLE org_invitations (
		email      TEXT PRIMARY KEY,
		inviter    TEXT NOT NULL,
		code_hash  TEXT NOT NULL UNIQUE,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE TABLE org_removed (
		email      TEXT PRIMARY KEY,
		removed_at INTEGER NOT NULL
	) STRICT;
	CREATE TABLE org_groups (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE TABLE org_group_members (
		group_id TEXT NOT NULL REFERENCES org_groups (id),
		email    TEXT NOT NULL,
		added_at INTEGER NOT NULL,
		PRIMARY KEY (group_id, email)
	) STRICT;
	CREATE INDEX org_group_members_email ON org_group_members (email);
	CREATE TABLE org_usage (
		email      TEXT PRIMARY KEY,
		bytes_used INTEGER NOT NULL,
		warned     INTEGER NOT NULL DEFAULT 0,
		updated_at INTEGER NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE org_invitations (
		email      TEXT PRIMARY KEY,
		inviter    TEXT NOT NULL,
		code_hash  TEXT NOT NULL UNIQUE,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE org_removed (
		email      TEXT PRIMARY KEY,
		removed_at BIGINT NOT NULL
	);
	CREATE TABLE org_groups (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE org_group_members (
		group_id TEXT NOT NULL REFERENCES org_groups (id),
		email    TEXT NOT NULL,
		added_at BIGINT NOT NULL,
		PRIMARY KEY (group_id, email)
	);
	CREATE INDEX org_group_members_email ON org_group_members (email);
	CREATE TABLE org_usage (
		email      TEXT PRIMARY KEY,
		bytes_used BIGINT NOT NULL,
		warned     BIGINT NOT NULL DEFAULT 0,
		updated_at BIGINT NOT NULL
	);`,
	},
}

// orgComponent is the organization's schema for the migration runner.
var orgComponent = metadb.Component{Name: "org", Migrations: orgMigrations}

// migrateOrg brings the org component to its newest version.
func (s *Store) migrateOrg(ctx context.Context) error {
	return s.db.Migrate(ctx, orgComponent)
}

// Invitation is a pending invitation to the organization. Its signup
// code is given once, to the inviter; only its hash is kept.
type Invitation struct {
	Email     string
	Inviter   string
	CreatedAt time.Time
}

// member says whether email is a user of the organization: an account
// not removed from it. An account that was removed is (false, true).
//
// Rows of the org tables about a user count only from the user's
// created_at on: those of a deleted account of the same email (user
// deletion is not the org component's) mean nothing for a new one.
func member(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, email string) (isMember, removed bool, err error) {
	var gone sql.NullInt64
	err = q.QueryRowContext(ctx, `SELECT r.removed_at FROM users u
		LEFT JOIN org_removed r ON r.email = u.email AND r.removed_at >= u.created_at WHERE u.email = ?`, email).Scan(&gone)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, false, nil
	case err != nil:
		return false, false, err
	}
	return !gone.Valid, gone.Valid, nil
}

// Invite invites invitee to the organization on behalf of inviter, a
// user of it, with a signup code whose SHA-256 is codeHash
// (user.org.invite), and puts m, the invitation mail (its To and time
// set here), into the mail outbox in the same transaction. Inviting again
// replaces the code. A user of the organization is ErrExists; an inviter
// who is not one is a FieldError of email_from.
func (s *Store) Invite(ctx context.Context, inviter, invitee, codeHash string, m Mail) (Invitation, error) {
	var err error
	if inviter, err = checkEmail("email_from", inviter); err != nil {
		return Invitation{}, err
	}
	if invitee, err = checkEmail("email_to", invitee); err != nil {
		return Invitation{}, err
	}
	inv := Invitation{Email: invitee, Inviter: inviter, CreatedAt: s.timestamp()}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if ok, _, err := member(ctx, tx, inviter); err != nil {
			return err
		} else if !ok {
			return &FieldError{Field: "email_from", Reason: "not a user of the organization"}
		}
		if ok, _, err := member(ctx, tx, invitee); err != nil {
			return err
		} else if ok {
			return ErrExists
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_invitations (email, inviter, code_hash, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET inviter = excluded.inviter, code_hash = excluded.code_hash, created_at = excluded.created_at`,
			invitee, inviter, codeHash, inv.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		// The invitation mail goes out only with the invitation.
		m.To, m.CreatedAt = invitee, inv.CreatedAt
		if err := queueMail(ctx, tx, m); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.org.invite", inv.CreatedAt,
			schema.Fields{"inviter": inviter, "invitee": invitee, "organization": OrgID})
	})
	if err != nil {
		return Invitation{}, fmt.Errorf("invite %s: %w", invitee, err)
	}
	return inv, nil
}

// Invitation returns the pending invitation of email; ErrNotFound for
// none.
func (s *Store) Invitation(ctx context.Context, email string) (Invitation, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return Invitation{}, err
	}
	inv := Invitation{Email: email}
	var created int64
	err = s.db.QueryRowContext(ctx, `SELECT inviter, created_at FROM org_invitations WHERE email = ?`, email).Scan(&inv.Inviter, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Invitation{}, fmt.Errorf("get invitation of %s: %w", email, ErrNotFound)
	case err != nil:
		return Invitation{}, fmt.Errorf("get invitation of %s: %w", email, err)
	}
	inv.CreatedAt = fromMillis(created)
	return inv, nil
}

// DeleteInvitation withdraws the invitation of email; its code stops
// working. None is ErrNotFound.
func (s *Store) DeleteInvitation(ctx context.Context, email string) error {
	email, err := checkEmail("email", email)
	if err != nil {
		return err
	}
	if err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		return updateOne(ctx, tx, `DELETE FROM org_invitations WHERE email = ?`, email)
	}); err != nil {
		return fmt.Errorf("delete invitation of %s: %w", email, err)
	}
	return nil
}

// SignUp redeems the invitation whose signup code hashes to codeHash: it
// creates the invitee's account with the password's PHC string hash and
// their names (user.org.signup), or, for a user removed from the
// organization, brings them back with them (user.org.accept from the
// private organization). The invitation is used up either way. An
// unknown code is a FieldError of signup_code; a user of the
// organization is ErrExists.
func (s *Store) SignUp(ctx context.Context, codeHash string, hash, first, last string) (u User, accepted bool, err error) {
	if first, last, err = signupNames(first, last); err != nil {
		return User{}, false, err
	}
	if hash == "" {
		return User{}, false, &FieldError{Field: "password", Reason: "required"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var email string
		err := tx.QueryRowContext(ctx, `SELECT email FROM org_invitations WHERE code_hash = ?`+tx.Dialect().ForUpdate(), codeHash).Scan(&email)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return &FieldError{Field: "signup_code", Reason: "unknown or used"}
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_invitations WHERE email = ?`, email); err != nil {
			return err
		}
		isMember, removed, err := member(ctx, tx, email)
		if err != nil {
			return err
		}
		now := s.timestamp()
		switch {
		case isMember:
			return ErrExists
		case removed:
			accepted = true
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = ?, first_name = ?, last_name = ? WHERE email = ?`,
				hash, first, last, email); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM org_removed WHERE email = ?`, email); err != nil {
				return err
			}
			if err := s.audit(ctx, tx, "user.org.accept", now,
				schema.Fields{"user": email, "previous_org": PrivateOrgID, "new_org": OrgID}); err != nil {
				return err
			}
		default:
			if err := insertMember(ctx, tx, email, first, last, hash, now); err != nil {
				return err
			}
			if err := s.signupEvent(ctx, tx, email, first, last, now); err != nil {
				return err
			}
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
		return err
	})
	if err != nil {
		return User{}, false, fmt.Errorf("sign up: %w", err)
	}
	return u, accepted, nil
}

// OpenSignUp creates an account without an invitation, for an
// organization that allows open sign-up: the request and the sign-up
// (user.account.request, user.org.signup) in one. An existing account is
// ErrExists.
func (s *Store) OpenSignUp(ctx context.Context, email, hash, first, last string) (User, error) {
	var err error
	if email, err = checkEmail("email", email); err != nil {
		return User{}, err
	}
	if first, last, err = signupNames(first, last); err != nil {
		return User{}, err
	}
	if hash == "" {
		return User{}, &FieldError{Field: "password", Reason: "required"}
	}
	var u User
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		now := s.timestamp()
		if err := insertMember(ctx, tx, email, first, last, hash, now); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, "user.account.request", now, schema.Fields{"email": email}); err != nil {
			return err
		}
		if err := s.signupEvent(ctx, tx, email, first, last, now); err != nil {
			return err
		}
		u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`, email))
		return err
	})
	if err != nil {
		return User{}, fmt.Errorf("sign up %s: %w", email, err)
	}
	return u, nil
}

func insertMember(ctx context.Context, tx *metadb.Tx, email, first, last, hash string, at time.Time) error {
	return execOne(ctx, tx, ErrExists, `INSERT INTO users (email, created_at, first_name, last_name, password_hash, level)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (email) DO NOTHING`, email, at.UnixMilli(), first, last, hash, string(LevelUser))
}

func (s *Store) signupEvent(ctx context.Context, tx *metadb.Tx, email, first, last string, at time.Time) error {
	return s.audit(ctx, tx, "user.org.signup", at, schema.Fields{"user": email, "first_name": first,
		"last_name": last, "organization": OrgID, "is_admin": false})
}

// signupNames checks a sign-up's names: required, as user.org.signup
// records them.
func signupNames(first, last string) (string, string, error) {
	first, err := checkPersonName("first_name", first)
	if err != nil {
		return "", "", err
	}
	if last, err = checkPersonName("last_name", last); err != nil {
		return "", "", err
	}
	switch {
	case first == "":
		return "", "", &FieldError{Field: "first_name", Reason: "required"}
	case last == "":
		return "", "", &FieldError{Field: "last_name", Reason: "required"}
	}
	return first, last, nil
}

// RemoveFromOrg removes a user from the organization, on an admin's
// behalf (user.org.remove, and user.org.authorization for an
// administrator, who is demoted): the user's password, sessions, tokens
// and group memberships go, their account record stays, in the private
// organization. An unknown or already removed user is ErrNotFound; the
// actor removing themself is a FieldError.
func (s *Store) RemoveFromOrg(ctx context.Context, a Actor, email string) error {
	admin, err := checkCaller(a.Email)
	if err != nil {
		return err
	}
	if email, err = checkEmail("email", email); err != nil {
		return err
	}
	if email == admin {
		return &FieldError{Field: "email", Reason: "an administrator cannot remove themself"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE email = ?`+tx.Dialect().ForUpdate(), email))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return ErrNotFound
		case err != nil:
			return err
		}
		if ok, _, err := member(ctx, tx, email); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		now := s.timestamp()
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_removed (email, removed_at) VALUES (?, ?)
			ON CONFLICT (email) DO UPDATE SET removed_at = excluded.removed_at`, email, now.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET password_hash = NULL, level = ? WHERE email = ?`, string(LevelUser), email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_group_members WHERE email = ?`, email); err != nil {
			return err
		}
		if err := endAll(ctx, tx, email); err != nil {
			return err
		}
		if err := deleteRole(ctx, tx, email); err != nil {
			return err
		}
		if err := s.audit(ctx, tx, "user.org.remove", now, schema.Fields{"admin_user": admin, "target_user": email}); err != nil {
			return err
		}
		if u.Level == LevelAdmin {
			return s.audit(ctx, tx, "user.org.authorization", now,
				schema.Fields{"admin_user": admin, "target_user": email, "new_level": string(LevelUser)})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove %s from the organization: %w", email, err)
	}
	return nil
}

// Group is a group of the organization's users.
type Group struct {
	ID      string
	Name    string
	Members []GroupMember
}

// GroupMember is a user in a group.
type GroupMember struct {
	Email, FirstName, LastName string
}

// checkGroupName returns a group's name, trimmed: required, one line,
// at most maxGroupNameLen bytes.
func checkGroupName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", &FieldError{Field: "name", Reason: "required"}
	case len(s) > maxGroupNameLen:
		return "", &FieldError{Field: "name", Reason: fmt.Sprintf("longer than %d bytes", maxGroupNameLen)}
	case hasControl(s):
		return "", &FieldError{Field: "name", Reason: "contains control characters"}
	}
	return s, nil
}

// checkGroupID accepts a group id: 32 lower-case hex (any case in).
func checkGroupID(id string) (string, error) {
	id = strings.ToLower(id)
	if _, err := hex.DecodeString(id); err != nil || len(id) != 32 {
		return "", fmt.Errorf("group %q: %w", id, ErrNotFound)
	}
	return id, nil
}

// CreateGroup creates an empty group named name.
func (s *Store) CreateGroup(ctx context.Context, name string) (Group, error) {
	name, err := checkGroupName(name)
	if err != nil {
		return Group{}, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return Group{}, fmt.Errorf("new group id: %w", err)
	}
	g := Group{ID: hex.EncodeToString(b), Name: name, Members: []GroupMember{}}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		// Groups list in the order they were made: a group made in the
		// same millisecond as the last one comes after it.
		var last int64
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(created_at), 0) FROM org_groups`).Scan(&last); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO org_groups (id, name, created_at) VALUES (?, ?, ?)`,
			g.ID, g.Name, max(s.timestamp().UnixMilli(), last+1))
		return err
	})
	if err != nil {
		return Group{}, fmt.Errorf("create group: %w", err)
	}
	return g, nil
}

// Groups returns at most limit groups from offset, oldest first, with
// their members.
func (s *Store) Groups(ctx context.Context, offset, limit int) ([]Group, error) {
	return s.groups(ctx, `SELECT id, name FROM org_groups ORDER BY created_at, id LIMIT ? OFFSET ?`, limit, offset)
}

// UserGroups returns the groups email is in, oldest first.
func (s *Store) UserGroups(ctx context.Context, email string) ([]Group, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return nil, err
	}
	if ok, _, err := member(ctx, s.db, email); err != nil {
		return nil, fmt.Errorf("list groups of %s: %w", email, err)
	} else if !ok {
		return nil, fmt.Errorf("list groups of %s: %w", email, ErrNotFound)
	}
	return s.groups(ctx, `SELECT g.id, g.name FROM org_groups g JOIN org_group_members m ON m.group_id = g.id
		JOIN users u ON u.email = m.email AND m.added_at >= u.created_at WHERE m.email = ? ORDER BY g.created_at, g.id`, email)
}

// Group returns one group with its members; ErrNotFound for none.
func (s *Store) Group(ctx context.Context, id string) (Group, error) {
	id, err := checkGroupID(id)
	if err != nil {
		return Group{}, err
	}
	gs, err := s.groups(ctx, `SELECT id, name FROM org_groups WHERE id = ?`, id)
	if err != nil {
		return Group{}, err
	}
	if len(gs) == 0 {
		return Group{}, fmt.Errorf("get group %s: %w", id, ErrNotFound)
	}
	return gs[0], nil
}

func (s *Store) groups(ctx context.Context, query string, args ...any) ([]Group, error) {
	gs, err := queryAll(ctx, s.db, func(row rowScanner) (Group, error) {
		g := Group{Members: []GroupMember{}}
		err := row.Scan(&g.ID, &g.Name)
		return g, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	for i := range gs {
		if gs[i].Members, err = s.GroupMembers(ctx, gs[i].ID); err != nil {
			return nil, err
		}
	}
	return gs, nil
}

// GroupMembers returns a group's members in email order.
func (s *Store) GroupMembers(ctx context.Context, id string) ([]GroupMember, error) {
	ms, err := queryAll(ctx, s.db, func(row rowScanner) (GroupMember, error) {
		var m GroupMember
		err := row.Scan(&m.Email, &m.FirstName, &m.LastName)
		return m, err
	}, `SELECT u.email, u.first_name, u.last_name FROM org_group_members m
		JOIN users u ON u.email = m.email AND m.added_at >= u.created_at WHERE m.group_id = ? ORDER BY u.email`, id)
	if err != nil {
		return nil, fmt.Errorf("list members of group %s: %w", id, err)
	}
	return ms, nil
}

// DeleteGroup deletes a group and its memberships; none is ErrNotFound.
func (s *Store) DeleteGroup(ctx context.Context, id string) error {
	id, err := checkGroupID(id)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_group_members WHERE group_id = ?`, id); err != nil {
			return err
		}
		return updateOne(ctx, tx, `DELETE FROM org_groups WHERE id = ?`, id)
	})
	if err != nil {
		return fmt.Errorf("delete group %s: %w", id, err)
	}
	return nil
}

// ErrNoGroup is the ErrNotFound of a group that does not exist, as
// opposed to a user who does not.
var ErrNoGroup = fmt.Errorf("group %w", ErrNotFound)

// AddGroupMember adds a user of the organization to a group. An unknown
// group is ErrNoGroup, an unknown user ErrNotFound, a member already in
// it ErrExists.
func (s *Store) AddGroupMember(ctx context.Context, id, email string) (GroupMember, error) {
	if _, err := checkGroupID(id); err != nil {
		return GroupMember{}, ErrNoGroup
	}
	id = strings.ToLower(id)
	email, err := checkEmail("email", email)
	if err != nil {
		return GroupMember{}, err
	}
	var m GroupMember
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM org_groups WHERE id = ?`+tx.Dialect().ForUpdate(), id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNoGroup
		} else if err != nil {
			return err
		}
		if ok, _, err := member(ctx, tx, email); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM org_group_members WHERE group_id = ? AND email = ?
			AND added_at < (SELECT created_at FROM users WHERE email = ?)`, id, email, email); err != nil {
			return err
		}
		if err := execOne(ctx, tx, ErrExists, `INSERT INTO org_group_members (group_id, email, added_at) VALUES (?, ?, ?)
			ON CONFLICT (group_id, email) DO NOTHING`, id, email, s.timestamp().UnixMilli()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT email, first_name, last_name FROM users WHERE email = ?`, email).Scan(&m.Email, &m.FirstName, &m.LastName)
	})
	if err != nil {
		return GroupMember{}, fmt.Errorf("add %s to group %s: %w", email, id, err)
	}
	return m, nil
}

// GroupMember returns one member of a group; ErrNoGroup or ErrNotFound.
func (s *Store) GroupMember(ctx context.Context, id, email string) (GroupMember, error) {
	g, err := s.Group(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return GroupMember{}, ErrNoGroup
	} else if err != nil {
		return GroupMember{}, err
	}
	email = strings.ToLower(email)
	for _, m := range g.Members {
		if m.Email == email {
			return m, nil
		}
	}
	return GroupMember{}, fmt.Errorf("get member %s of group %s: %w", email, g.ID, ErrNotFound)
}

// RemoveGroupMember takes a user out of a group; ErrNoGroup or
// ErrNotFound.
func (s *Store) RemoveGroupMember(ctx context.Context, id, email string) error {
	if _, err := s.Group(ctx, id); errors.Is(err, ErrNotFound) {
		return ErrNoGroup
	} else if err != nil {
		return err
	}
	id, email = strings.ToLower(id), strings.ToLower(email)
	if err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		return updateOne(ctx, tx, `DELETE FROM org_group_members WHERE group_id = ? AND email = ?`, id, email)
	}); err != nil {
		return fmt.Errorf("remove %s from group %s: %w", email, id, err)
	}
	return nil
}

// OrgStats are the organization's counts.
type OrgStats struct {
	// Users are the organization's users (not those removed from it).
	Users int64
	// Devices are the linked devices (not unlinked, erased or revoked).
	Devices int64
	Groups  int64
}

// Stats counts the organization's users, devices and groups.
func (s *Store) Stats(ctx context.Context) (OrgStats, error) {
	var st OrgStats
	err := s.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users u WHERE NOT EXISTS (SELECT 1 FROM org_removed r WHERE r.email = u.email AND r.removed_at >= u.created_at)),
		(SELECT COUNT(*) FROM devices WHERE revoked_at IS NULL),
		(SELECT COUNT(*) FROM org_groups)`).Scan(&st.Users, &st.Devices, &st.Groups)
	if err != nil {
		return OrgStats{}, fmt.Errorf("count the organization: %w", err)
	}
	return st, nil
}

// Usage returns the bytes a user of the organization was last measured
// to use (0 before any measure); an unknown user is ErrNotFound.
func (s *Store) Usage(ctx context.Context, email string) (int64, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return 0, err
	}
	if ok, _, err := member(ctx, s.db, email); err != nil {
		return 0, fmt.Errorf("get usage of %s: %w", email, err)
	} else if !ok {
		return 0, fmt.Errorf("get usage of %s: %w", email, ErrNotFound)
	}
	var used int64
	err = s.db.QueryRowContext(ctx, `SELECT g.bytes_used FROM org_usage g JOIN users u ON u.email = g.email AND g.updated_at >= u.created_at WHERE g.email = ?`, email).Scan(&used)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("get usage of %s: %w", email, err)
	}
	return used, nil
}

// RecordUsage records that a user uses used bytes of allowed (0: no
// quota), as the files API measures it. When the use crosses
// QuotaWarnPercent of the quota it writes user.quota.warning, once: not
// again until the use has gone back under. It says whether it warned. A
// user who is not one of the organization's is ErrNotFound.
func (s *Store) RecordUsage(ctx context.Context, email string, used, allowed int64) (bool, error) {
	email, err := checkEmail("email", email)
	if err != nil {
		return false, err
	}
	if used < 0 {
		return false, &FieldError{Field: "bytes_used", Reason: "negative"}
	}
	over := allowed > 0 && used*100 >= allowed*QuotaWarnPercent
	warn := false
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if ok, _, err := member(ctx, tx, email); err != nil {
			return err
		} else if !ok {
			return ErrNotFound
		}
		var warned int64
		err := tx.QueryRowContext(ctx, `SELECT g.warned FROM org_usage g JOIN users u ON u.email = g.email AND g.updated_at >= u.created_at
			WHERE g.email = ?`+tx.Dialect().ForUpdate(), email).Scan(&warned)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		warn = over && warned == 0
		now := s.timestamp()
		flag := 0
		if over {
			flag = 1
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_usage (email, bytes_used, warned, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (email) DO UPDATE SET bytes_used = excluded.bytes_used, warned = excluded.warned, updated_at = excluded.updated_at`,
			email, used, flag, now.UnixMilli()); err != nil {
			return err
		}
		if !warn {
			return nil
		}
		return s.audit(ctx, tx, "user.quota.warning", now,
			schema.Fields{"user": email, "bytes_used": used, "bytes_allowed": allowed})
	})
	if err != nil {
		return false, fmt.Errorf("record usage of %s: %w", email, err)
	}
	return warn, nil
}
