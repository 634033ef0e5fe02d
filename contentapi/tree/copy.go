package tree

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
)

// ErrOverQuota refuses a copy that would take its owner over the quota.
var ErrOverQuota = errors.New("the copy would exceed the quota")

// CopyTo is where a copy goes: its parent folder, its name (nil keeps
// the source's) and the quota of the parent store's owner in bytes (0
// for none).
type CopyTo struct {
	Parent Ref
	Name   *string
	Quota  int64
}

// Copy copies ref's object (of kind), a folder with everything below
// it, into to.Parent, and records one file.notification (CREATE) for
// the new object. A file's copy refers to the same blob (its count goes
// up; no bytes are copied). check is asked about the source, target
// about the parent. The copy's bytes count toward the quota of the
// parent store's owner: over to.Quota, nothing is copied (ErrOverQuota).
func (s *Store) Copy(ctx context.Context, a Actor, kind Kind, ref Ref, to CopyTo, check, target Check) (View, error) {
	if to.Name != nil {
		if err := CheckName(*to.Name); err != nil {
			return View{}, err
		}
	}
	var v View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		src, err := s.view(ctx, tx, a, ref, kind, PermRead, check)
		if err != nil {
			return err
		}
		if src.ID.IsRoot() {
			return ErrRoot
		}
		p, err := s.view(ctx, tx, a, to.Parent, "", PermWrite, target)
		if err != nil {
			return parentError(err)
		}
		switch {
		case p.Kind != Folder:
			return ErrNoParent
		case p.ID == src.ID || slices.ContainsFunc(p.Ancestors, func(o Object) bool { return o.ID == src.ID }):
			return ErrIntoItself
		}
		objs, err := subtree(ctx, tx, src.Object)
		if err != nil {
			return err
		}
		if to.Quota > 0 {
			var used, add int64
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(SUM(o.size), 0) FROM tree_objects o JOIN tree_stores st ON st.sid = o.sid
				WHERE st.owner = (SELECT owner FROM tree_stores WHERE sid = ?) AND o.kind = 'file'`, p.ID.SID).Scan(&used); err != nil {
				return err
			}
			for _, o := range objs {
				add += o.Size
			}
			if used+add > to.Quota {
				return ErrOverQuota
			}
		}
		at := s.timestamp()
		// New ids, old to new, so that children follow their parent.
		ids := map[ID]ID{}
		for i, o := range objs {
			n := o
			n.ID = ID{SID: p.ID.SID, OID: newOID()}
			n.Version, n.MTime, n.AppData = 1, at, p.AppData
			if i == 0 {
				n.Parent = p.ID
				if to.Name != nil {
					n.Name = *to.Name
				}
			} else {
				n.Parent = ids[o.Parent]
			}
			ids[o.ID] = n.ID
			if _, err := tx.ExecContext(ctx, `INSERT INTO tree_objects (sid, oid, parent, name, kind, version, mtime, size, content_key, content_etag)
				VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)`, n.ID.SID, n.ID.OID, n.Parent.OID, n.Name, string(n.Kind), at.UnixMilli(),
				n.Size, n.ContentKey, n.ContentETag); err != nil {
				if metadb.IsUniqueViolation(err) {
					return ErrConflict
				}
				return err
			}
			if n.ContentKey != "" {
				if _, err := tx.ExecContext(ctx, `UPDATE tree_blobs SET refs = refs + 1 WHERE key = ?`, n.ContentKey); err != nil {
					return err
				}
			}
			if i == 0 {
				v = View{Object: n, Ancestors: append(p.Ancestors, p.Object)}
			}
		}
		return s.notify(rec, a, v, "", "CREATE")
	})
	if err != nil {
		return View{}, fmt.Errorf("copy %s: %w", describe(ref), err)
	}
	return v, nil
}
