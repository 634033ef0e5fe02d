package tree

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The errors of the shared folders, beside ErrNotFound (no such share,
// or one the user may not see) and ErrReadOnly (a member without
// MANAGE changing the member list).
var (
	// ErrExists is a member, group or invitation the share already has.
	ErrExists = errors.New("already on the shared folder")
	// ErrNoMember is a member, group or invitation the share does not
	// have.
	ErrNoMember = errors.New("not on the shared folder")
	// ErrNoUser is an email without an account, added as a member.
	ErrNoUser = errors.New("no such user")
	// ErrNoGroup is a group that does not exist.
	ErrNoGroup = errors.New("no such group")
	// ErrLastManager refuses to remove or demote a share's last
	// manager.
	ErrLastManager = errors.New("the last manager of a shared folder cannot be removed or demoted")
	// ErrNotShareable refuses to share a root, an appdata folder, a
	// folder inside a share or one that holds a share.
	ErrNotShareable = errors.New("the folder cannot be shared")
)

// Role is a permission set as the API and the events write it: a
// sorted subset of MANAGE and WRITE; empty is a viewer.
func (p Perm) Role() []string {
	out := []string{}
	if p.Has(PermManage) {
		out = append(out, "MANAGE")
	}
	if p.Has(PermWrite) {
		out = append(out, "WRITE")
	}
	return out
}

// ErrBadRole rejects a permission that is neither MANAGE nor WRITE.
var ErrBadRole = errors.New(`permissions are a subset of ["MANAGE", "WRITE"]`)

// ParseRole reads a permission list (MANAGE, WRITE, in any case and
// order, repeated or not) into a member's permissions: read and what
// the list adds.
func ParseRole(role []string) (Perm, error) {
	p := PermRead
	for _, r := range role {
		switch strings.ToUpper(strings.TrimSpace(r)) {
		case "MANAGE":
			p |= PermManage
		case "WRITE":
			p |= PermWrite
		default:
			return 0, ErrBadRole
		}
	}
	return p, nil
}

// Sharer is who changes a share: the actor, whether they administer the
// organization (an administrator manages every share) and the caller
// object of the events.
type Sharer struct {
	Actor
	Admin  bool
	Caller json.RawMessage
}

// Share is a shared folder with its member list.
type Share struct {
	SID, Name string
	Members   []Member
	Groups    []ShareGroup
	Pending   []Pending
	// Perm and External are the permissions and the external flag of
	// the user the share was read for.
	Perm     Perm
	External bool
}

// Member is a user on a share.
type Member struct {
	Email, FirstName, LastName string
	Perm                       Perm
	// External says the member joined as external (their copy outside
	// their root folder, in the original's clients).
	External bool
}

// ShareGroup is a group on a share: its members get Perm.
type ShareGroup struct {
	ID, Name string
	Perm     Perm
}

// Pending is an invitation not accepted yet.
type Pending struct {
	Email, FirstName, LastName string
	Perm                       Perm
	InvitedBy, Note            string
}

// Invitation is a pending invitation as its invitee sees it.
type Invitation struct {
	SID, Name, InvitedBy string
	Perm                 Perm
}

// memberPerm is user's permissions in the share sid: the union of the
// direct membership and the groups'.
func memberPerm(ctx context.Context, tx *metadb.Tx, user, sid string) (Perm, error) {
	rows, err := tx.QueryContext(ctx, `SELECT perms FROM tree_share_members WHERE sid = ? AND email = ?
		UNION ALL SELECT g.perms FROM tree_share_groups g JOIN org_group_members m ON m.group_id = g.group_id
		JOIN users u ON u.email = m.email AND m.added_at >= u.created_at WHERE g.sid = ? AND m.email = ?`, sid, user, sid, user)
	if err != nil {
		return 0, fmt.Errorf("read members of %s: %w", sid, err)
	}
	defer rows.Close()
	var p Perm
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return 0, err
		}
		p |= Perm(v) | PermRead
	}
	return p, rows.Err()
}

// folderJSON is a share as the events' folder field writes it.
func folderJSON(sid, name string) json.RawMessage {
	b, _ := json.Marshal(struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}{sid, name}) // strings only: never fails
	return b
}

// record writes a sharing event with the sharer's caller.
func (s *Store) record(rec auth.Recorder, sh Sharer, event string, fields schema.Fields) error {
	fields["caller"] = sh.Caller
	return rec.Record(event, s.timestamp(), fields)
}

// CreateShare makes an empty shared folder named name in sh's root
// folder, sh its manager (folder.create).
func (s *Store) CreateShare(ctx context.Context, sh Sharer, name string) (Share, error) {
	if err := CheckName(name); err != nil {
		return Share{}, err
	}
	var out Share
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		root, err := s.view(ctx, tx, sh.Actor, Ref{Alias: AliasRoot}, Folder, PermWrite, nil)
		if err != nil {
			return err
		}
		at := s.timestamp()
		anchor := newOID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime) VALUES (?, ?, ?, ?, 'folder', 1, ?)`,
			root.ID.SID, anchor, RootOID, name, at.UnixMilli()); err != nil {
			if metadb.IsUniqueViolation(err) {
				return ErrConflict
			}
			return err
		}
		sid, err := s.newShareStore(ctx, tx, sh.User, name, ID{SID: root.ID.SID, OID: anchor})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime) VALUES (?, ?, '', '', 'folder', 1, ?)`,
			sid, RootOID, at.UnixMilli()); err != nil {
			return err
		}
		out = Share{SID: sid, Name: name}
		return s.record(rec, sh, "folder.create", schema.Fields{"folder": folderJSON(sid, name)})
	})
	if err != nil {
		return Share{}, fmt.Errorf("create shared folder %q: %w", name, err)
	}
	return out, nil
}

// newShareStore creates a share's store (its root folder is the
// caller's to insert) with creator as its manager. The store's kind is
// "root": a share is a root of its own, known as a share by its
// tree_shares row.
func (s *Store) newShareStore(ctx context.Context, tx *metadb.Tx, creator, name string, anchor ID) (string, error) {
	sid := newHexID()
	at := s.timestamp().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_stores (sid, owner, kind, created_at) VALUES (?, ?, 'root', ?)`, sid, creator, at); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_shares (sid, name, anchor_sid, anchor_oid, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		sid, name, anchor.SID, anchor.OID, creator, at); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_share_members (sid, email, perms, external, added_at) VALUES (?, ?, ?, 0, ?)`,
		sid, creator, int64(PermRead|PermWrite|PermManage), at); err != nil {
		return "", err
	}
	return sid, nil
}

// ShareFolder turns ref's folder, in sh's root store, into a shared
// folder (folder.create): everything below it moves into the share's
// new store, keeping its object ids; the folder stays in its place as
// the share's anchor. check is asked about the folder. It returns the
// share's root.
func (s *Store) ShareFolder(ctx context.Context, sh Sharer, ref Ref, check Check) (View, error) {
	var out View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		id, err := s.resolve(ctx, tx, sh.Actor, ref)
		if err != nil {
			return err
		}
		if perm, err := Access(ctx, tx, sh.User, id.SID); err != nil {
			return err
		} else if !perm.Has(PermRead) {
			return ErrNotFound
		}
		o, err := get(ctx, tx, id)
		if err != nil {
			return err
		}
		if o.Share != "" {
			if o.ID.IsRoot() {
				return ErrNotShareable // a share's root
			}
			// Already shared: the answer is the share, unchanged.
			out, err = s.view(ctx, tx, sh.Actor, Ref{ID: o.ID}, Folder, PermRead, check)
			return err
		}
		v, err := s.view(ctx, tx, sh.Actor, Ref{ID: id}, Folder, PermManage, check)
		if err != nil {
			return err
		}
		var owner string
		if err := tx.QueryRowContext(ctx, `SELECT owner FROM tree_roots WHERE sid = ?`, v.ID.SID).Scan(&owner); errors.Is(err, sql.ErrNoRows) {
			return ErrNotShareable // appdata, or inside a share
		} else if err != nil {
			return err
		}
		if v.ID.IsRoot() {
			return ErrNotShareable
		}
		objs, err := subtree(ctx, tx, v.Object)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(objs[1:], func(o Object) bool { return o.Share != "" }) {
			return ErrNotShareable
		}
		sid, err := s.newShareStore(ctx, tx, sh.User, v.Name, v.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime) VALUES (?, ?, '', '', 'folder', 1, ?)`,
			sid, RootOID, s.timestamp().UnixMilli()); err != nil {
			return err
		}
		for _, c := range objs[1:] {
			parent := c.Parent.OID
			if parent == v.ID.OID {
				parent = RootOID
			}
			if _, err := tx.ExecContext(ctx, `UPDATE tree_objects SET sid = ?, parent = ? WHERE sid = ? AND oid = ?`,
				sid, parent, c.ID.SID, c.ID.OID); err != nil {
				return err
			}
		}
		if out, err = s.view(ctx, tx, sh.Actor, Ref{ID: ID{SID: sid, OID: RootOID}}, Folder, PermRead, nil); err != nil {
			return err
		}
		return s.record(rec, sh, "folder.create", schema.Fields{"folder": folderJSON(sid, v.Name)})
	})
	if err != nil {
		return View{}, fmt.Errorf("share %s: %w", describe(ref), err)
	}
	return out, nil
}

// open reads the share sid for sh in tx, locking its row against
// concurrent changes of the member list, and checks that sh may act on
// it with need (an administrator may do anything); a share sh may not
// see is ErrNotFound. It returns the share's name and sh's permissions.
func (s *Store) open(ctx context.Context, tx *metadb.Tx, sh Sharer, sid string, need Perm) (string, Perm, error) {
	var name string
	err := tx.QueryRowContext(ctx, `SELECT name FROM tree_shares WHERE sid = ?`+tx.Dialect().ForUpdate(), strings.ToLower(sid)).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, ErrNotFound
	}
	if err != nil {
		return "", 0, err
	}
	perm, err := memberPerm(ctx, tx, sh.User, strings.ToLower(sid))
	if err != nil {
		return "", 0, err
	}
	switch {
	case sh.Admin:
		return name, perm, nil
	case !perm.Has(PermRead):
		return "", 0, ErrNotFound
	case !perm.Has(need):
		return "", 0, ErrReadOnly
	}
	return name, perm, nil
}

// Share reads the share sid with its member list, and sh's permissions
// in it.
func (s *Store) Share(ctx context.Context, sh Sharer, sid string) (Share, error) {
	var out Share
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		name, _, err := s.open(ctx, tx, sh, sid, PermRead)
		if err != nil {
			return err
		}
		out = Share{SID: strings.ToLower(sid), Name: name}
		return fill(ctx, tx, &out, sh.User)
	})
	if err != nil {
		return Share{}, fmt.Errorf("read shared folder %s: %w", sid, err)
	}
	return out, nil
}

// fill reads a share's member list, and user's permissions and flag.
func fill(ctx context.Context, tx *metadb.Tx, sh *Share, user string) error {
	var err error
	if sh.Members, err = members(ctx, tx, sh.SID, ""); err != nil {
		return err
	}
	if sh.Groups, err = shareGroups(ctx, tx, sh.SID, ""); err != nil {
		return err
	}
	if sh.Pending, err = pending(ctx, tx, sh.SID, ""); err != nil {
		return err
	}
	if sh.Perm, err = memberPerm(ctx, tx, user, sh.SID); err != nil {
		return err
	}
	for _, m := range sh.Members {
		if m.Email == user {
			sh.External = m.External
		}
	}
	return nil
}

// RenameShare renames the share sid (audit.folder.rename); its anchor
// keeps its name.
func (s *Store) RenameShare(ctx context.Context, sh Sharer, sid, name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, old string) error {
		if old == name {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tree_shares SET name = ? WHERE sid = ?`, name, strings.ToLower(sid)); err != nil {
			return err
		}
		return s.record(rec, sh, "audit.folder.rename", schema.Fields{"folder": folderJSON(strings.ToLower(sid), old), "name": name})
	})
	if err != nil {
		return fmt.Errorf("rename shared folder %s: %w", sid, err)
	}
	return nil
}

// DestroyShare deletes the share sid for everyone: its files and
// folders, its anchor, members, groups and invitations (folder.destroy).
func (s *Store) DestroyShare(ctx context.Context, sh Sharer, sid string) error {
	sid = strings.ToLower(sid)
	var gone []string
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		gone = nil
		name, _, err := s.open(ctx, tx, sh, sid, PermManage)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT content_key FROM tree_objects WHERE sid = ? AND content_key <> ''`, sid)
		if err != nil {
			return err
		}
		var keys []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return err
			}
			keys = append(keys, k)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, k := range keys {
			last, err := unref(ctx, tx, k)
			if err != nil {
				return err
			}
			if last {
				gone = append(gone, k)
			}
		}
		for _, q := range []string{
			`DELETE FROM tree_objects WHERE (sid, oid) IN (SELECT anchor_sid, anchor_oid FROM tree_shares WHERE sid = ?)`,
			`DELETE FROM tree_objects WHERE sid = ?`,
			`DELETE FROM tree_share_members WHERE sid = ?`,
			`DELETE FROM tree_share_groups WHERE sid = ?`,
			`DELETE FROM tree_share_pending WHERE sid = ?`,
			`DELETE FROM tree_shares WHERE sid = ?`,
			`DELETE FROM tree_stores WHERE sid = ?`,
		} {
			if _, err := tx.ExecContext(ctx, q, sid); err != nil {
				return err
			}
		}
		return s.record(rec, sh, "folder.destroy", schema.Fields{"folder": folderJSON(sid, name)})
	})
	if err != nil {
		return fmt.Errorf("destroy shared folder %s: %w", sid, err)
	}
	s.sweep(ctx, gone)
	return nil
}

// CountShares counts the shared folders.
func (s *Store) CountShares(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tree_shares`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count shared folders: %w", err)
	}
	return n, nil
}

// UserShares lists the shares email is on, directly or through a group,
// by name, read for email.
func (s *Store) UserShares(ctx context.Context, email string) ([]Share, error) {
	return s.listShares(ctx, email, `SELECT sid, name FROM tree_shares WHERE sid IN (
		SELECT sid FROM tree_share_members WHERE email = ?
		UNION SELECT g.sid FROM tree_share_groups g JOIN org_group_members m ON m.group_id = g.group_id
		JOIN users u ON u.email = m.email AND m.added_at >= u.created_at WHERE m.email = ?) ORDER BY name, sid`, email, email)
}

// GroupShares lists the shares the group id is on, by name, read for
// user.
func (s *Store) GroupShares(ctx context.Context, user, id string) ([]Share, error) {
	return s.listShares(ctx, user, `SELECT sid, name FROM tree_shares WHERE sid IN (
		SELECT sid FROM tree_share_groups WHERE group_id = ?) ORDER BY name, sid`, strings.ToLower(id))
}

func (s *Store) listShares(ctx context.Context, user, query string, args ...any) ([]Share, error) {
	var out []Share
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var sh Share
			if err := rows.Scan(&sh.SID, &sh.Name); err != nil {
				rows.Close()
				return err
			}
			out = append(out, sh)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if err := fill(ctx, tx, &out[i], user); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list shared folders: %w", err)
	}
	return out, nil
}

// queryRows runs query in tx and reads each row with scan; none is an
// empty list.
func queryRows[T any](ctx context.Context, tx *metadb.Tx, scan func(*sql.Rows) (T, error), query string, args ...any) ([]T, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// members lists a share's members by email, or only email's.
func members(ctx context.Context, tx *metadb.Tx, sid, email string) ([]Member, error) {
	q := `SELECT m.email, COALESCE(u.first_name, ''), COALESCE(u.last_name, ''), m.perms, m.external FROM tree_share_members m
		LEFT JOIN users u ON u.email = m.email WHERE m.sid = ?`
	args := []any{sid}
	if email != "" {
		q, args = q+` AND m.email = ?`, append(args, email)
	}
	return queryRows(ctx, tx, func(rows *sql.Rows) (Member, error) {
		var (
			m      Member
			p, ext int64
		)
		err := rows.Scan(&m.Email, &m.FirstName, &m.LastName, &p, &ext)
		m.Perm, m.External = Perm(p), ext != 0
		return m, err
	}, q+` ORDER BY m.email`, args...)
}

// shareGroups lists a share's groups by name, or only id's.
func shareGroups(ctx context.Context, tx *metadb.Tx, sid, id string) ([]ShareGroup, error) {
	q := `SELECT g.group_id, COALESCE(o.name, ''), g.perms FROM tree_share_groups g LEFT JOIN org_groups o ON o.id = g.group_id WHERE g.sid = ?`
	args := []any{sid}
	if id != "" {
		q, args = q+` AND g.group_id = ?`, append(args, id)
	}
	return queryRows(ctx, tx, func(rows *sql.Rows) (ShareGroup, error) {
		var (
			g ShareGroup
			p int64
		)
		err := rows.Scan(&g.ID, &g.Name, &p)
		g.Perm = Perm(p)
		return g, err
	}, q+` ORDER BY 2, g.group_id`, args...)
}

// pending lists a share's invitations by email, or only email's.
func pending(ctx context.Context, tx *metadb.Tx, sid, email string) ([]Pending, error) {
	q := `SELECT p.email, COALESCE(u.first_name, ''), COALESCE(u.last_name, ''), p.perms, p.invited_by, p.note FROM tree_share_pending p
		LEFT JOIN users u ON u.email = p.email WHERE p.sid = ?`
	args := []any{sid}
	if email != "" {
		q, args = q+` AND p.email = ?`, append(args, email)
	}
	return queryRows(ctx, tx, func(rows *sql.Rows) (Pending, error) {
		var (
			m Pending
			p int64
		)
		err := rows.Scan(&m.Email, &m.FirstName, &m.LastName, &p, &m.InvitedBy, &m.Note)
		m.Perm = Perm(p)
		return m, err
	}, q+` ORDER BY p.email`, args...)
}

// MemberCheck is the caller's say on a member (its If-Match) before a
// change uses it.
type MemberCheck func(m Member) error

// readShare runs read in a transaction once sh may read the share sid.
func (s *Store) readShare(ctx context.Context, sh Sharer, sid string, read func(tx *metadb.Tx) error) error {
	return s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, _, err := s.open(ctx, tx, sh, sid, PermRead); err != nil {
			return err
		}
		return read(tx)
	})
}

// changeShare runs change in one audited transaction on the share sid,
// opened (and locked) for sh with need; change gets the share's name
// and records the change's event.
func (s *Store) changeShare(ctx context.Context, sh Sharer, sid string, need Perm, change func(tx *metadb.Tx, rec auth.Recorder, name string) error) error {
	return s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		name, _, err := s.open(ctx, tx, sh, sid, need)
		if err != nil {
			return err
		}
		return change(tx, rec, name)
	})
}

// mustExist runs query, a SELECT 1 of one row, in tx: missing when it
// finds none.
func mustExist(ctx context.Context, tx *metadb.Tx, missing error, query string, args ...any) error {
	var one int
	if err := tx.QueryRowContext(ctx, query, args...).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return missing
	} else if err != nil {
		return err
	}
	return nil
}

// insertNew runs query, an INSERT ... ON CONFLICT DO NOTHING, in tx:
// ErrExists when it adds no row.
func insertNew(ctx context.Context, tx *metadb.Tx, query string, args ...any) error {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrExists
	}
	return nil
}

// asked asks check, when there is one, about v.
func asked[T any](check func(T) error, v T) error {
	if check == nil {
		return nil
	}
	return check(v)
}

// keepManager refuses ErrLastManager when the share has no direct
// manager beside email.
func keepManager(ctx context.Context, tx *metadb.Tx, sid, email string) error {
	if n, err := managers(ctx, tx, sid, email); err != nil {
		return err
	} else if n == 0 {
		return ErrLastManager
	}
	return nil
}

// Member reads one member of the share sid.
func (s *Store) Member(ctx context.Context, sh Sharer, sid, email string) (Member, error) {
	var out Member
	err := s.readShare(ctx, sh, sid, func(tx *metadb.Tx) error {
		var err error
		out, err = oneMember(ctx, tx, strings.ToLower(sid), email)
		return err
	})
	if err != nil {
		return Member{}, fmt.Errorf("read member %s of %s: %w", email, sid, err)
	}
	return out, nil
}

func oneMember(ctx context.Context, tx *metadb.Tx, sid, email string) (Member, error) {
	return first(members(ctx, tx, sid, email))
}

// first is the one row of a member, group or invitation read: ErrNoMember
// when there is none.
func first[T any](rows []T, err error) (T, error) {
	var zero T
	if err != nil {
		return zero, err
	}
	if len(rows) == 0 {
		return zero, ErrNoMember
	}
	return rows[0], nil
}

// AddMember adds email, a user, to the share sid with perm, without an
// invitation (folder.add); a pending invitation of email goes.
func (s *Store) AddMember(ctx context.Context, sh Sharer, sid, email string, perm Perm) (Member, error) {
	sid = strings.ToLower(sid)
	var out Member
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		if err := mustExist(ctx, tx, ErrNoUser, `SELECT 1 FROM users WHERE email = ?`, email); err != nil {
			return err
		}
		if err := insertNew(ctx, tx, `INSERT INTO tree_share_members (sid, email, perms, external, added_at) VALUES (?, ?, ?, 0, ?)
			ON CONFLICT (sid, email) DO NOTHING`, sid, email, int64(perm), s.timestamp().UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_share_pending WHERE sid = ? AND email = ?`, sid, email); err != nil {
			return err
		}
		var err error
		if out, err = oneMember(ctx, tx, sid, email); err != nil {
			return err
		}
		return s.record(rec, sh, "folder.add", schema.Fields{"folder": folderJSON(sid, name), "target": email, "role": perm.Role()})
	})
	if err != nil {
		return Member{}, fmt.Errorf("add %s to %s: %w", email, sid, err)
	}
	return out, nil
}

// managers counts the share's direct managers other than email.
func managers(ctx context.Context, tx *metadb.Tx, sid, email string) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT perms FROM tree_share_members WHERE sid = ? AND email <> ?`, sid, email)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var p int64
		if err := rows.Scan(&p); err != nil {
			return 0, err
		}
		if Perm(p).Has(PermManage) {
			n++
		}
	}
	return n, rows.Err()
}

// UpdateMember sets email's permissions in the share sid
// (folder.permission.update with the old and new roles; nothing when
// they are the same). check is asked about the member first.
func (s *Store) UpdateMember(ctx context.Context, sh Sharer, sid, email string, perm Perm, check MemberCheck) (Member, error) {
	sid = strings.ToLower(sid)
	var out Member
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		old, err := oneMember(ctx, tx, sid, email)
		if err != nil {
			return err
		}
		if err := asked(check, old); err != nil {
			return err
		}
		out = old
		if old.Perm == perm {
			return nil
		}
		if old.Perm.Has(PermManage) && !perm.Has(PermManage) {
			if err := keepManager(ctx, tx, sid, email); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tree_share_members SET perms = ? WHERE sid = ? AND email = ?`, int64(perm), sid, email); err != nil {
			return err
		}
		out.Perm = perm
		return s.record(rec, sh, "folder.permission.update", schema.Fields{"admin_user": sh.User, "target": email,
			"old_role": old.Perm.Role(), "new_role": perm.Role(), "folder": folderJSON(sid, name)})
	})
	if err != nil {
		return Member{}, fmt.Errorf("update member %s of %s: %w", email, sid, err)
	}
	return out, nil
}

// RemoveMember takes email off the share sid: sh leaving
// (folder.leave), or a manager removing another (folder.permission.
// delete). The last manager cannot go. check is asked about the member
// first.
func (s *Store) RemoveMember(ctx context.Context, sh Sharer, sid, email string, check MemberCheck) error {
	sid = strings.ToLower(sid)
	need, event := PermManage, "folder.permission.delete"
	if email == sh.User {
		need, event = PermRead, "folder.leave"
	}
	err := s.changeShare(ctx, sh, sid, need, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		old, err := oneMember(ctx, tx, sid, email)
		if err != nil {
			return err
		}
		if err := asked(check, old); err != nil {
			return err
		}
		if old.Perm.Has(PermManage) {
			if err := keepManager(ctx, tx, sid, email); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_share_members WHERE sid = ? AND email = ?`, sid, email); err != nil {
			return err
		}
		return s.record(rec, sh, event, schema.Fields{"folder": folderJSON(sid, name), "target": email})
	})
	if err != nil {
		return fmt.Errorf("remove member %s of %s: %w", email, sid, err)
	}
	return nil
}

// ShareGroup reads one group of the share sid.
func (s *Store) ShareGroup(ctx context.Context, sh Sharer, sid, id string) (ShareGroup, error) {
	var out ShareGroup
	err := s.readShare(ctx, sh, sid, func(tx *metadb.Tx) error {
		var err error
		out, err = oneGroup(ctx, tx, strings.ToLower(sid), strings.ToLower(id))
		return err
	})
	if err != nil {
		return ShareGroup{}, fmt.Errorf("read group %s of %s: %w", id, sid, err)
	}
	return out, nil
}

func oneGroup(ctx context.Context, tx *metadb.Tx, sid, id string) (ShareGroup, error) {
	return first(shareGroups(ctx, tx, sid, id))
}

// AddGroup gives the group id's members perm on the share sid
// (audit.folder.group.add).
func (s *Store) AddGroup(ctx context.Context, sh Sharer, sid, id string, perm Perm) (ShareGroup, error) {
	sid, id = strings.ToLower(sid), strings.ToLower(id)
	var out ShareGroup
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		if err := mustExist(ctx, tx, ErrNoGroup, `SELECT 1 FROM org_groups WHERE id = ?`, id); err != nil {
			return err
		}
		if err := insertNew(ctx, tx, `INSERT INTO tree_share_groups (sid, group_id, perms, added_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (sid, group_id) DO NOTHING`, sid, id, int64(perm), s.timestamp().UnixMilli()); err != nil {
			return err
		}
		var err error
		if out, err = oneGroup(ctx, tx, sid, id); err != nil {
			return err
		}
		return s.record(rec, sh, "audit.folder.group.add", schema.Fields{"folder": folderJSON(sid, name), "group": id, "role": perm.Role()})
	})
	if err != nil {
		return ShareGroup{}, fmt.Errorf("add group %s to %s: %w", id, sid, err)
	}
	return out, nil
}

// UpdateGroup sets the group id's permissions on the share sid
// (audit.folder.group.update; nothing when unchanged). check is asked
// about the group first, as a Member with the group's permissions.
func (s *Store) UpdateGroup(ctx context.Context, sh Sharer, sid, id string, perm Perm, check func(ShareGroup) error) (ShareGroup, error) {
	sid, id = strings.ToLower(sid), strings.ToLower(id)
	var out ShareGroup
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		old, err := oneGroup(ctx, tx, sid, id)
		if err != nil {
			return err
		}
		if err := asked(check, old); err != nil {
			return err
		}
		out = old
		if old.Perm == perm {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE tree_share_groups SET perms = ? WHERE sid = ? AND group_id = ?`, int64(perm), sid, id); err != nil {
			return err
		}
		out.Perm = perm
		return s.record(rec, sh, "audit.folder.group.update", schema.Fields{"folder": folderJSON(sid, name), "group": id,
			"old_role": old.Perm.Role(), "new_role": perm.Role()})
	})
	if err != nil {
		return ShareGroup{}, fmt.Errorf("update group %s of %s: %w", id, sid, err)
	}
	return out, nil
}

// RemoveGroup takes the group id off the share sid
// (audit.folder.group.remove).
func (s *Store) RemoveGroup(ctx context.Context, sh Sharer, sid, id string, check func(ShareGroup) error) error {
	sid, id = strings.ToLower(sid), strings.ToLower(id)
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		old, err := oneGroup(ctx, tx, sid, id)
		if err != nil {
			return err
		}
		if err := asked(check, old); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_share_groups WHERE sid = ? AND group_id = ?`, sid, id); err != nil {
			return err
		}
		return s.record(rec, sh, "audit.folder.group.remove", schema.Fields{"folder": folderJSON(sid, name), "group": id})
	})
	if err != nil {
		return fmt.Errorf("remove group %s of %s: %w", id, sid, err)
	}
	return nil
}

// InviteMail builds the invitation mail of a share: its subject and body
// from the share's name and the inviter.
type InviteMail func(sid, share, inviter, note string) auth.Mail

// Invite invites email, a user or not, to the share sid with perm and a
// note (folder.invite, with sharer and caller), and queues the
// invitation mail that mail builds in the same transaction. A member
// or an invitation already there is ErrExists.
func (s *Store) Invite(ctx context.Context, sh Sharer, sid, email string, perm Perm, note string, mail InviteMail) (Pending, error) {
	sid = strings.ToLower(sid)
	var out Pending
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		if _, err := oneMember(ctx, tx, sid, email); err == nil {
			return ErrExists
		} else if !errors.Is(err, ErrNoMember) {
			return err
		}
		if err := insertNew(ctx, tx, `INSERT INTO tree_share_pending (sid, email, perms, note, invited_by, created_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (sid, email) DO NOTHING`, sid, email, int64(perm), note, sh.User, s.timestamp().UnixMilli()); err != nil {
			return err
		}
		ps, err := pending(ctx, tx, sid, email)
		if err != nil {
			return err
		}
		out = ps[0]
		if mail != nil {
			m := mail(sid, name, sh.User, note)
			m.To = email
			if err := rec.QueueMail(m); err != nil {
				return err
			}
		}
		return s.record(rec, sh, "folder.invite", schema.Fields{"folder": folderJSON(sid, name), "sharer": sh.User, "target": email, "role": perm.Role()})
	})
	if err != nil {
		return Pending{}, fmt.Errorf("invite %s to %s: %w", email, sid, err)
	}
	return out, nil
}

// PendingMember reads one invitation of the share sid.
func (s *Store) PendingMember(ctx context.Context, sh Sharer, sid, email string) (Pending, error) {
	var out Pending
	err := s.readShare(ctx, sh, sid, func(tx *metadb.Tx) error {
		var err error
		out, err = first(pending(ctx, tx, strings.ToLower(sid), email))
		return err
	})
	if err != nil {
		return Pending{}, fmt.Errorf("read invitation of %s to %s: %w", email, sid, err)
	}
	return out, nil
}

// DeletePending withdraws email's invitation to the share sid
// (folder.delete_invitation).
func (s *Store) DeletePending(ctx context.Context, sh Sharer, sid, email string) error {
	sid = strings.ToLower(sid)
	err := s.changeShare(ctx, sh, sid, PermManage, func(tx *metadb.Tx, rec auth.Recorder, name string) error {
		return s.dropInvitation(ctx, tx, rec, sh, sid, name, email)
	})
	if err != nil {
		return fmt.Errorf("withdraw invitation of %s to %s: %w", email, sid, err)
	}
	return nil
}

func (s *Store) dropInvitation(ctx context.Context, tx *metadb.Tx, rec auth.Recorder, sh Sharer, sid, name, email string) error {
	res, err := tx.ExecContext(ctx, `DELETE FROM tree_share_pending WHERE sid = ? AND email = ?`, sid, email)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return ErrNoMember
	}
	return s.record(rec, sh, "folder.delete_invitation", schema.Fields{"folder": folderJSON(sid, name), "target": email})
}

// Invitations lists email's pending invitations, by share name; with sid
// set, only that share's (ErrNotFound for none).
func (s *Store) Invitations(ctx context.Context, email, sid string) ([]Invitation, error) {
	q := `SELECT p.sid, s.name, p.invited_by, p.perms FROM tree_share_pending p JOIN tree_shares s ON s.sid = p.sid WHERE p.email = ?`
	args := []any{email}
	if sid != "" {
		q, args = q+` AND p.sid = ?`, append(args, strings.ToLower(sid))
	}
	rows, err := s.db.QueryContext(ctx, q+` ORDER BY s.name, p.sid`, args...)
	if err != nil {
		return nil, fmt.Errorf("list invitations of %s: %w", email, err)
	}
	defer rows.Close()
	out := []Invitation{}
	for rows.Next() {
		var (
			inv Invitation
			p   int64
		)
		if err := rows.Scan(&inv.SID, &inv.Name, &inv.InvitedBy, &p); err != nil {
			return nil, fmt.Errorf("list invitations of %s: %w", email, err)
		}
		inv.Perm = Perm(p)
		out = append(out, inv)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list invitations of %s: %w", email, err)
	}
	if sid != "" && len(out) == 0 {
		return nil, fmt.Errorf("invitation of %s to %s: %w", email, sid, ErrNotFound)
	}
	return out, nil
}

// Accept makes email, invited to the share sid, a member with the
// invitation's permissions (folder.join, join_as external or internal).
func (s *Store) Accept(ctx context.Context, sh Sharer, email, sid string, external bool) (Member, error) {
	sid = strings.ToLower(sid)
	var out Member
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var (
			name string
			p    int64
		)
		err := tx.QueryRowContext(ctx, `SELECT s.name, p.perms FROM tree_share_pending p JOIN tree_shares s ON s.sid = p.sid
			WHERE p.sid = ? AND p.email = ?`+tx.Dialect().ForUpdate(), sid, email).Scan(&name, &p)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_share_pending WHERE sid = ? AND email = ?`, sid, email); err != nil {
			return err
		}
		ext := 0
		joinAs := "internal"
		if external {
			ext, joinAs = 1, "external"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_share_members (sid, email, perms, external, added_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (sid, email) DO UPDATE SET perms = excluded.perms, external = excluded.external`,
			sid, email, p, ext, s.timestamp().UnixMilli()); err != nil {
			return err
		}
		if out, err = oneMember(ctx, tx, sid, email); err != nil {
			return err
		}
		return s.record(rec, sh, "folder.join", schema.Fields{"folder": folderJSON(sid, name), "target": email,
			"role": Perm(p).Role(), "join_as": joinAs})
	})
	if err != nil {
		return Member{}, fmt.Errorf("accept invitation of %s to %s: %w", email, sid, err)
	}
	return out, nil
}

// Ignore declines email's invitation to the share sid
// (folder.delete_invitation).
func (s *Store) Ignore(ctx context.Context, sh Sharer, email, sid string) error {
	sid = strings.ToLower(sid)
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var name string
		err := tx.QueryRowContext(ctx, `SELECT name FROM tree_shares WHERE sid = ?`+tx.Dialect().ForUpdate(), sid).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if err := s.dropInvitation(ctx, tx, rec, sh, sid, name, email); errors.Is(err, ErrNoMember) {
			return ErrNotFound
		} else {
			return err
		}
	})
	if err != nil {
		return fmt.Errorf("ignore invitation of %s to %s: %w", email, sid, err)
	}
	return nil
}

// shareComponent is the shared folders' schema (component "shares"),
// beside the tree's. A share is a store (tree_stores, kind "root") with
// a tree_shares row: its name, its anchor (the folder that stands for it
// in its creator's tree) and who made it. Members, groups and pending
// invitations hold permission bits (Perm). Times are Unix milliseconds.
var shareComponent = metadb.Component{Name: "shares", Migrations: []metadb.Migration{{
	SQLite: `CREATE TABLE tree_shares (
		sid        TEXT PRIMARY KEY REFERENCES tree_stores (sid),
		name       TEXT NOT NULL,
		anchor_sid TEXT NOT NULL,
		anchor_oid TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE UNIQUE INDEX tree_shares_anchor ON tree_shares (anchor_sid, anchor_oid);
	CREATE TABLE tree_share_members (
		sid      TEXT NOT NULL REFERENCES tree_shares (sid),
		email    TEXT NOT NULL,
		perms    INTEGER NOT NULL,
		external INTEGER NOT NULL,
		added_at INTEGER NOT NULL,
		PRIMARY KEY (sid, email)
	) STRICT;
	CREATE INDEX tree_share_members_email ON tree_share_members (email);
	CREATE TABLE tree_share_groups (
		sid      TEXT NOT NULL REFERENCES tree_shares (sid),
		group_id TEXT NOT NULL,
		perms    INTEGER NOT NULL,
		added_at INTEGER NOT NULL,
		PRIMARY KEY (sid, group_id)
	) STRICT;
	CREATE INDEX tree_share_groups_group ON tree_share_groups (group_id);
	CREATE TABLE tree_share_pending (
		sid        TEXT NOT NULL REFERENCES tree_shares (sid),
		email      TEXT NOT NULL,
		perms      INTEGER NOT NULL,
		note       TEXT NOT NULL,
		invited_by TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (sid, email)
	) STRICT;
	CREATE INDEX tree_share_pending_email ON tree_share_pending (email);`,
	Postgres: `CREATE TABLE tree_shares (
		sid        TEXT PRIMARY KEY REFERENCES tree_stores (sid),
		name       TEXT NOT NULL,
		anchor_sid TEXT NOT NULL,
		anchor_oid TEXT NOT NULL,
		created_by TEXT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE UNIQUE INDEX tree_shares_anchor ON tree_shares (anchor_sid, anchor_oid);
	CREATE TABLE tree_share_members (
		sid      TEXT NOT NULL REFERENCES tree_shares (sid),
		email    TEXT NOT NULL,
		perms    BIGINT NOT NULL,
		external BIGINT NOT NULL,
		added_at BIGINT NOT NULL,
		PRIMARY KEY (sid, email)
	);
	CREATE INDEX tree_share_members_email ON tree_share_members (email);
	CREATE TABLE tree_share_groups (
		sid      TEXT NOT NULL REFERENCES tree_shares (sid),
		group_id TEXT NOT NULL,
		perms    BIGINT NOT NULL,
		added_at BIGINT NOT NULL,
		PRIMARY KEY (sid, group_id)
	);
	CREATE INDEX tree_share_groups_group ON tree_share_groups (group_id);
	CREATE TABLE tree_share_pending (
		sid        TEXT NOT NULL REFERENCES tree_shares (sid),
		email      TEXT NOT NULL,
		perms      BIGINT NOT NULL,
		note       TEXT NOT NULL,
		invited_by TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (sid, email)
	);
	CREATE INDEX tree_share_pending_email ON tree_share_pending (email);`,
}}}
