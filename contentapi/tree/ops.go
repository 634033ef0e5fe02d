package tree

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// maxDepth bounds the folders above an object, against a corrupt
// parent chain.
const maxDepth = 4096

// View is an object as a call found it: with its ancestors (root
// first, the object excluded) and, when asked, its children sorted by
// name.
type View struct {
	Object
	Ancestors []Object
	Children  []Object
}

// Path is the object's path in its store: the names below the root,
// joined with "/" ("" for the root), the path form of FILE events.
func (v View) Path() string { return relativePath(v.Ancestors, v.Object) }

// Check is the caller's say on an object before the call uses it: its
// scopes and preconditions. An error it returns ends the call, changing
// and recording nothing, and is returned as it is.
type Check func(o Object, ancestors []Object) error

// Query says what Get reads.
type Query struct {
	// Kind is the kind the object must be; "" for either.
	Kind Kind
	// Children lists a folder's children.
	Children bool
	// Check, when set, is asked about the object.
	Check Check
	// Op is the operation of the file.transfer recorded; "" is
	// META_REQUEST. A content download records CONTENT_REQUEST.
	Op string
}

// Get reads ref's object for a, and records its file.transfer
// (q.Op, META_REQUEST by default) toward a's device.
func (s *Store) Get(ctx context.Context, a Actor, ref Ref, q Query) (View, error) {
	op := q.Op
	if op == "" {
		op = "META_REQUEST"
	}
	var v View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var err error
		if v, err = s.view(ctx, tx, a, ref, q.Kind, PermRead, q.Check); err != nil {
			return err
		}
		if q.Children {
			if v.Children, err = children(ctx, tx, v.Object); err != nil {
				return err
			}
		}
		return s.transfer(rec, a, v, op)
	})
	if err != nil {
		return View{}, fmt.Errorf("read %s: %w", describe(ref), err)
	}
	return v, nil
}

// Stat reads ref's object (of kind) for a, who needs need on its store,
// and asks check about it, recording nothing: it is the precondition
// of a write that records its own event (an upload reads the file
// before it takes the body, then commits through SetContent).
func (s *Store) Stat(ctx context.Context, a Actor, ref Ref, kind Kind, need Perm, check Check) (View, error) {
	var v View
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		v, err = s.view(ctx, tx, a, ref, kind, need, check)
		return err
	})
	if err != nil {
		return View{}, fmt.Errorf("read %s: %w", describe(ref), err)
	}
	return v, nil
}

// Transferred records a file.transfer of v toward a's device on its
// own: what a download records once its body is out
// (CONTENT_COMPLETED), with the content bytes it sent.
func (s *Store) Transferred(ctx context.Context, a Actor, v View, op string, sent int64) error {
	err := s.auth.Audited(ctx, func(_ *metadb.Tx, rec auth.Recorder) error {
		at := s.timestamp()
		f := s.fileFields(v, at, op)
		f["destination_device"], f["destination_user"], f["bytes"] = a.Device, a.User, sent
		return rec.RecordSubmitted("file.transfer", at, f, s.server)
	})
	if err != nil {
		return fmt.Errorf("record %s of %s: %w", op, v.ID, err)
	}
	return nil
}

// Usage is the bytes of content in the stores user owns (root and
// appdata), what the quota counts.
func (s *Store) Usage(ctx context.Context, user string) (int64, error) {
	var used int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(o.size), 0) FROM tree_objects o JOIN tree_stores st ON st.sid = o.sid
		WHERE st.owner = ? AND o.kind = 'file'`, user).Scan(&used)
	if err != nil {
		return 0, fmt.Errorf("sum usage of %s: %w", user, err)
	}
	return used, nil
}

// Create makes an empty folder or file named name in parent, and records
// its file.notification (CREATE). check is asked about the parent.
func (s *Store) Create(ctx context.Context, a Actor, kind Kind, parent Ref, name string, check Check) (View, error) {
	if err := CheckName(name); err != nil {
		return View{}, err
	}
	var v View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		p, err := s.view(ctx, tx, a, parent, "", PermWrite, check)
		if err != nil {
			return parentError(err)
		}
		if p.Kind != Folder {
			return ErrNoParent
		}
		at := s.timestamp()
		o := Object{ID: ID{SID: p.ID.SID, OID: newOID()}, Parent: p.ID, Name: name, Kind: kind, Version: 1, MTime: at, AppData: p.AppData}
		if kind == File {
			o.ContentETag = emptyETag
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime, content_etag)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?)`, o.ID.SID, o.ID.OID, p.ID.OID, name, string(kind), at.UnixMilli(), o.ContentETag); err != nil {
			if metadb.IsUniqueViolation(err) {
				return ErrConflict
			}
			return err
		}
		v = View{Object: o, Ancestors: append(p.Ancestors, p.Object)}
		return s.notify(rec, a, v, "", "CREATE")
	})
	if err != nil {
		return View{}, fmt.Errorf("create %s %q: %w", kind, name, err)
	}
	return v, nil
}

// Move is a move or rename: the object's new parent and name, each nil
// for unchanged.
type Move struct {
	Parent *Ref
	Name   *string
}

// Move moves or renames ref's object (of kind) and records its
// file.notification (MOVE, with path_to) when anything changed. check is
// asked about the object, target about a new parent.
func (s *Store) Move(ctx context.Context, a Actor, kind Kind, ref Ref, to Move, check, target Check) (View, error) {
	if to.Name != nil {
		if err := CheckName(*to.Name); err != nil {
			return View{}, err
		}
	}
	var v View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		old, err := s.view(ctx, tx, a, ref, kind, PermWrite, check)
		if err != nil {
			return err
		}
		if old.ID.IsRoot() {
			return ErrRoot
		}
		v = old
		if to.Name != nil {
			v.Name = *to.Name
		}
		if to.Parent != nil {
			p, err := s.view(ctx, tx, a, *to.Parent, "", PermWrite, target)
			if err != nil {
				return parentError(err)
			}
			switch {
			case p.Kind != Folder:
				return ErrNoParent
			case p.ID.SID != old.ID.SID:
				return ErrOtherStore
			case p.ID == old.ID || slices.ContainsFunc(p.Ancestors, func(o Object) bool { return o.ID == old.ID }):
				return ErrIntoItself
			}
			v.Parent, v.Ancestors = p.ID, append(p.Ancestors, p.Object)
		}
		if v.Parent == old.Parent && v.Name == old.Name {
			return nil // nothing to change, nothing to record
		}
		v.Version++
		if _, err := tx.ExecContext(ctx, `UPDATE tree_objects SET parent = ?, name = ?, version = ? WHERE sid = ? AND oid = ?`,
			v.Parent.OID, v.Name, v.Version, v.ID.SID, v.ID.OID); err != nil {
			if metadb.IsUniqueViolation(err) {
				return ErrConflict
			}
			return err
		}
		return s.notify(rec, a, old, v.Path(), "MOVE")
	})
	if err != nil {
		return View{}, fmt.Errorf("move %s: %w", describe(ref), err)
	}
	return v, nil
}

// Delete deletes ref's object (of kind), a folder with everything below
// it, and records its file.notification (DELETE). check is asked about
// the object. Blobs no file refers to any more are deleted once the
// change committed.
func (s *Store) Delete(ctx context.Context, a Actor, kind Kind, ref Ref, check Check) error {
	var gone []string
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		gone = nil
		v, err := s.view(ctx, tx, a, ref, kind, PermWrite, check)
		if err != nil {
			return err
		}
		if v.ID.IsRoot() {
			return ErrRoot
		}
		objs, err := subtree(ctx, tx, v.Object)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(objs, func(o Object) bool { return o.Share != "" }) {
			return ErrHoldsShare
		}
		for _, o := range objs {
			if _, err := tx.ExecContext(ctx, `DELETE FROM tree_objects WHERE sid = ? AND oid = ?`, o.ID.SID, o.ID.OID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM tree_favorites WHERE sid = ? AND oid = ?`, o.ID.SID, o.ID.OID); err != nil {
				return err
			}
			revs, err := dropRevisions(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			gone = append(gone, revs...)
			if o.ContentKey == "" {
				continue
			}
			last, err := unref(ctx, tx, o.ContentKey)
			if err != nil {
				return err
			}
			if last {
				gone = append(gone, o.ContentKey)
			}
		}
		return s.notify(rec, a, v, "", "DELETE")
	})
	if err != nil {
		return fmt.Errorf("delete %s: %w", describe(ref), err)
	}
	s.sweep(ctx, gone)
	return nil
}

// Content is a file's new content: its blob, size and strong ETag.
// Verify, when set, checks that the blob is still stored; SetContent
// calls it when no other file refers to the key, after taking the
// key's reference (see sweep).
type Content struct {
	Key    string
	Size   int64
	ETag   string
	Verify func(ctx context.Context) error
}

// SetContent points ref's file at new content (a blob already stored)
// and records its file.notification (MODIFY). check is asked about the
// file (its content precondition). The old blob is deleted once no file
// refers to it. It is the seam the content upload commits through.
func (s *Store) SetContent(ctx context.Context, a Actor, ref Ref, c Content, check Check) (View, error) {
	var (
		v    View
		gone []string
	)
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		gone = nil
		var err error
		if v, err = s.view(ctx, tx, a, ref, File, PermWrite, check); err != nil {
			return err
		}
		if gone, err = s.replaceContent(ctx, tx, &v, c); err != nil {
			return err
		}
		return s.notify(rec, a, v, "", "MODIFY")
	})
	if err != nil {
		return View{}, fmt.Errorf("set content of %s: %w", describe(ref), err)
	}
	s.sweep(ctx, slices.DeleteFunc(gone, func(k string) bool { return k == c.Key }))
	return v, nil
}

// replaceContent points v's file at c, keeping its old content as a
// revision (see revisions.go), and returns the blobs no file or
// revision refers to any more.
func (s *Store) replaceContent(ctx context.Context, tx *metadb.Tx, v *View, c Content) ([]string, error) {
	var gone []string
	err := func() error {
		old := v.ContentKey
		if c.Key != "" {
			var refs int64
			if err := tx.QueryRowContext(ctx, `INSERT INTO tree_blobs (key, refs) VALUES (?, 1)
				ON CONFLICT (key) DO UPDATE SET refs = tree_blobs.refs + 1 RETURNING refs`, c.Key).Scan(&refs); err != nil {
				return err
			}
			// The only reference now: a sweep may have deleted the
			// blob between its Put and here. It cannot from now on.
			if refs == 1 && c.Verify != nil {
				if err := c.Verify(ctx); err != nil {
					return fmt.Errorf("%w: %w", ErrBlobGone, err)
				}
			}
		}
		kept, err := s.keepRevision(ctx, tx, v.Object)
		if err != nil {
			return err
		}
		gone = append(gone, kept...)
		if old != "" {
			last, err := unref(ctx, tx, old)
			if err != nil {
				return err
			}
			if last {
				gone = append(gone, old)
			}
		}
		v.ContentKey, v.Size, v.ContentETag, v.MTime, v.Version = c.Key, c.Size, c.ETag, s.timestamp(), v.Version+1
		_, err = tx.ExecContext(ctx, `UPDATE tree_objects SET content_key = ?, size = ?, content_etag = ?, mtime = ?, version = ?
			WHERE sid = ? AND oid = ?`, v.ContentKey, v.Size, v.ContentETag, v.MTime.UnixMilli(), v.Version, v.ID.SID, v.ID.OID)
		return err
	}()
	return gone, err
}

// Blob lifetime. A count reaching zero leaves its row behind (refs = 0,
// a tombstone) and the blob in the store; the sweep deletes the blob
// later, in a transaction that first locks the key's row and sees its
// count still zero, and keeps the lock until the blob is gone. An
// upload of the same bytes takes its reference on the same row, so it
// either comes first (the sweep then leaves the blob) or waits for the
// sweep and finds, through Content.Verify, that its blob went: never a
// file pointing at a deleted blob.

// sweep deletes the blobs of keys no file refers to, after the change
// that dropped them committed. It is best effort: a blob left behind
// costs space, never content, and SweepBlobs finds it again.
func (s *Store) sweep(ctx context.Context, keys []string) {
	for _, k := range keys {
		_ = s.sweepKey(ctx, k)
	}
}

// sweepKey deletes key's blob if no file refers to it, in one
// transaction holding the key's row (inserted as a tombstone when there
// is none, so that a concurrent reference waits for it).
func (s *Store) sweepKey(ctx context.Context, key string) error {
	if s.blobs == nil {
		return nil
	}
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_blobs (key, refs) VALUES (?, 0) ON CONFLICT (key) DO NOTHING`, key); err != nil {
			return err
		}
		var refs int64
		if err := tx.QueryRowContext(ctx, `SELECT refs FROM tree_blobs WHERE key = ?`+tx.Dialect().ForUpdate(), key).Scan(&refs); err != nil {
			return err
		}
		if refs > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_blobs WHERE key = ? AND refs = 0`, key); err != nil {
			return err
		}
		return s.blobs.Delete(ctx, key)
	})
	if err != nil {
		return fmt.Errorf("sweep blob %s: %w", key, err)
	}
	return nil
}

// SweepBlobs deletes every blob whose count is zero (left by a sweep
// that failed or a server that stopped before it) and says how many it
// found.
func (s *Store) SweepBlobs(ctx context.Context) (int, error) {
	if s.blobs == nil {
		return 0, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT key FROM tree_blobs WHERE refs = 0`)
	if err != nil {
		return 0, fmt.Errorf("list unreferenced blobs: %w", err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list unreferenced blobs: %w", err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list unreferenced blobs: %w", err)
	}
	var errs []error
	for _, k := range keys {
		errs = append(errs, s.sweepKey(ctx, k))
	}
	return len(keys), errors.Join(errs...)
}

// Forget deletes a stored blob no file refers to, as the sweep does:
// for an upload whose content was stored but not committed (a failed
// precondition, a conflict).
func (s *Store) Forget(ctx context.Context, key string) error { return s.sweepKey(ctx, key) }

// unref drops one reference to a blob and reports whether it was the
// last; the row stays, at zero, for the sweep.
func unref(ctx context.Context, tx *metadb.Tx, key string) (bool, error) {
	var refs int64
	err := tx.QueryRowContext(ctx, `UPDATE tree_blobs SET refs = refs - 1 WHERE key = ? AND refs > 0 RETURNING refs`, key).Scan(&refs)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, err
	}
	return refs == 0, nil
}

// view resolves ref for a, checks that a may act on it with need, reads
// it with its ancestors, and asks check.
func (s *Store) view(ctx context.Context, tx *metadb.Tx, a Actor, ref Ref, kind Kind, need Perm, check Check) (View, error) {
	id, err := s.resolve(ctx, tx, a, ref)
	if err != nil {
		return View{}, err
	}
	perm, err := Access(ctx, tx, a.User, id.SID)
	if err != nil {
		return View{}, err
	}
	if !perm.Has(PermRead) {
		return View{}, ErrNotFound
	}
	o, err := get(ctx, tx, id)
	if err != nil {
		return View{}, err
	}
	if o.Share != "" && !o.ID.IsRoot() {
		// A share's anchor in its creator's tree stands for the share:
		// its root, in the share's store, with the members' access.
		if perm, err = Access(ctx, tx, a.User, o.Share); err != nil {
			return View{}, err
		}
		if !perm.Has(PermRead) {
			return View{}, ErrNotFound
		}
		if o, err = get(ctx, tx, ID{SID: o.Share, OID: RootOID}); err != nil {
			return View{}, err
		}
	}
	if kind != "" && o.Kind != kind {
		return View{}, ErrNotFound
	}
	v, err := withAncestors(ctx, tx, o)
	if err != nil {
		return View{}, err
	}
	if check != nil {
		if err := check(v.Object, v.Ancestors); err != nil {
			return View{}, err
		}
	}
	if !perm.Has(need) {
		return View{}, ErrReadOnly
	}
	return v, nil
}

// resolve turns a reference into an id, creating a's root or appdata
// store on first use.
func (s *Store) resolve(ctx context.Context, tx *metadb.Tx, a Actor, ref Ref) (ID, error) {
	switch ref.Alias {
	case AliasRoot:
		sid, err := s.ownStore(ctx, tx, `SELECT sid FROM tree_roots WHERE owner = ?`,
			`INSERT INTO tree_roots (owner, sid) VALUES (?, ?) ON CONFLICT (owner) DO NOTHING`, "root", a.User)
		return ID{SID: sid, OID: RootOID}, err
	case AliasAppData:
		if a.Device == "" {
			return ID{}, ErrNotFound
		}
		sid, err := s.ownStore(ctx, tx, `SELECT sid FROM tree_appdata WHERE owner = ? AND device = ?`,
			`INSERT INTO tree_appdata (owner, device, sid) VALUES (?, ?, ?) ON CONFLICT (owner, device) DO NOTHING`, "appdata", a.User, a.Device)
		return ID{SID: sid, OID: RootOID}, err
	}
	return ref.ID, nil
}

// ownStore reads a's store with find (its arguments keys), or claims a
// new one with claim (keys, then the new sid) and creates it with its
// root folder.
func (s *Store) ownStore(ctx context.Context, tx *metadb.Tx, find, claim, kind string, keys ...any) (string, error) {
	var sid string
	err := tx.QueryRowContext(ctx, find, keys...).Scan(&sid)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		return sid, err
	}
	sid = newHexID()
	res, err := tx.ExecContext(ctx, claim, append(keys, sid)...)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		// Claimed since the read, by a concurrent transaction.
		if err := tx.QueryRowContext(ctx, find, keys...).Scan(&sid); err != nil {
			return "", err
		}
		return sid, nil
	}
	at := s.timestamp().UnixMilli()
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_stores (sid, owner, kind, created_at) VALUES (?, ?, ?, ?)`, sid, keys[0], kind, at); err != nil {
		return "", err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime) VALUES (?, ?, '', '', 'folder', 1, ?)`,
		sid, RootOID, at); err != nil {
		return "", err
	}
	return sid, nil
}

const objectColumns = `o.sid, o.oid, o.parent, o.name, o.kind, o.version, o.mtime, o.size, o.content_key, o.content_etag, s.kind,
	COALESCE(an.sid, sr.sid, ''), COALESCE(sr.name, '')`

// objectFrom joins an object to its store and to the share it anchors
// (an) or whose root it is (sr).
const objectFrom = ` FROM tree_objects o JOIN tree_stores s ON s.sid = o.sid
	LEFT JOIN tree_shares an ON an.anchor_sid = o.sid AND an.anchor_oid = o.oid
	LEFT JOIN tree_shares sr ON sr.sid = o.sid AND o.oid = '` + RootOID + `'`

// scanObject reads one row of objectColumns.
func scanObject(row interface{ Scan(...any) error }) (Object, error) {
	var (
		o                           Object
		parent, kind, sk, shareName string
		mtime                       int64
	)
	if err := row.Scan(&o.ID.SID, &o.ID.OID, &parent, &o.Name, &kind, &o.Version, &mtime, &o.Size, &o.ContentKey, &o.ContentETag, &sk,
		&o.Share, &shareName); err != nil {
		return Object{}, err
	}
	if o.Share != "" && o.ID.IsRoot() {
		o.Name = shareName
	}
	if parent != "" {
		o.Parent = ID{SID: o.ID.SID, OID: parent}
	}
	o.Kind, o.MTime, o.AppData = Kind(kind), time.UnixMilli(mtime).UTC(), sk == "appdata"
	return o, nil
}

// get reads one object.
func get(ctx context.Context, tx *metadb.Tx, id ID) (Object, error) {
	o, err := scanObject(tx.QueryRowContext(ctx, `SELECT `+objectColumns+objectFrom+`
		WHERE o.sid = ? AND o.oid = ?`, id.SID, id.OID))
	if errors.Is(err, sql.ErrNoRows) {
		return Object{}, ErrNotFound
	}
	return o, err
}

// children lists a folder's children, sorted by name (bytewise, the same
// on every database).
func children(ctx context.Context, tx *metadb.Tx, o Object) ([]Object, error) {
	if o.Kind != Folder {
		return nil, nil
	}
	out, err := queryRows(ctx, tx, func(rows *sql.Rows) (Object, error) { return scanObject(rows) },
		`SELECT `+objectColumns+objectFrom+` WHERE o.sid = ? AND o.parent = ?`, o.ID.SID, o.ID.OID)
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Object) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// subtree returns o and everything below it, o first.
func subtree(ctx context.Context, tx *metadb.Tx, o Object) ([]Object, error) {
	out := []Object{o}
	for i := 0; i < len(out); i++ {
		cs, err := children(ctx, tx, out[i])
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	return out, nil
}

// relativePath is o's path below its store's root.
func relativePath(ancestors []Object, o Object) string {
	if o.ID.IsRoot() {
		return ""
	}
	var parts []string
	for _, a := range ancestors {
		if !a.ID.IsRoot() {
			parts = append(parts, a.Name)
		}
	}
	return strings.Join(append(parts, o.Name), "/")
}

// notify records a write's file.notification: the server's device
// reports it, with a's device as mobile_device; pathTo is a move's new
// path.
func (s *Store) notify(rec auth.Recorder, a Actor, v View, pathTo, op string) error {
	at := s.timestamp()
	f := s.fileFields(v, at, op)
	if op == "MOVE" {
		f["path_to"] = pathJSON(v.ID.SID, pathTo)
	}
	f["mobile_device"] = a.Device
	return rec.RecordSubmitted("file.notification", at, f, s.server)
}

// transfer records a read's file.transfer toward a's device.
func (s *Store) transfer(rec auth.Recorder, a Actor, v View, op string) error {
	at := s.timestamp()
	f := s.fileFields(v, at, op)
	f["destination_device"], f["destination_user"] = a.Device, a.User
	return rec.RecordSubmitted("file.transfer", at, f, s.server)
}

func (s *Store) fileFields(v View, at time.Time, op string) schema.Fields {
	return schema.Fields{"soid": v.ID.String(), "event_time": at, "operations": []string{op},
		"device": s.server.DeviceID, "path": pathJSON(v.ID.SID, v.Path())}
}

func pathJSON(sid, rel string) json.RawMessage {
	b, _ := json.Marshal(struct {
		SID          string `json:"sid"`
		RelativePath string `json:"relative_path"`
	}{sid, rel}) // strings only: never fails
	return b
}

// parentError turns a parent that is not found into ErrNoParent.
func parentError(err error) error {
	if errors.Is(err, ErrNotFound) {
		return ErrNoParent
	}
	return err
}

func describe(ref Ref) string {
	if ref.Alias != "" {
		return ref.Alias
	}
	return ref.ID.String()
}

// timestamp is now as the tree keeps it: UTC, milliseconds.
func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }
