package tree

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
)

// ErrNoRevision is a revision number the file does not have (any more).
var ErrNoRevision = errors.New("no such revision")

// Revision is an earlier content of a file: what it held before a
// change replaced it. Rev counts from 1, the oldest kept the lowest.
type Revision struct {
	Rev         int64
	Size        int64
	ContentKey  string
	ContentETag string
	// MTime is when the content was set (the file's time then).
	MTime time.Time
}

// keepRevision keeps o's current content as its newest revision (one
// more reference to its blob) and drops the oldest beyond the store's
// bound, returning the blobs nothing refers to any more. A file without
// content keeps nothing.
func (s *Store) keepRevision(ctx context.Context, tx *metadb.Tx, o Object) ([]string, error) {
	if s.keep == 0 || o.ContentKey == "" {
		return nil, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tree_revisions (sid, oid, rev, size, content_key, content_etag, mtime)
		SELECT ?, ?, COALESCE(MAX(rev), 0) + 1, ?, ?, ?, ? FROM tree_revisions WHERE sid = ? AND oid = ?`,
		o.ID.SID, o.ID.OID, o.Size, o.ContentKey, o.ContentETag, o.MTime.UnixMilli(), o.ID.SID, o.ID.OID); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tree_blobs SET refs = refs + 1 WHERE key = ?`, o.ContentKey); err != nil {
		return nil, err
	}
	revs, err := revisions(ctx, tx, o.ID)
	if err != nil {
		return nil, err
	}
	var gone []string
	for len(revs) > s.keep {
		r := revs[len(revs)-1] // the oldest
		revs = revs[:len(revs)-1]
		if _, err := tx.ExecContext(ctx, `DELETE FROM tree_revisions WHERE sid = ? AND oid = ? AND rev = ?`, o.ID.SID, o.ID.OID, r.Rev); err != nil {
			return nil, err
		}
		last, err := unref(ctx, tx, r.ContentKey)
		if err != nil {
			return nil, err
		}
		if last {
			gone = append(gone, r.ContentKey)
		}
	}
	return gone, nil
}

// dropRevisions deletes every revision of id (its file is going) and
// returns the blobs nothing refers to any more.
func dropRevisions(ctx context.Context, tx *metadb.Tx, id ID) ([]string, error) {
	revs, err := revisions(ctx, tx, id)
	if err != nil || len(revs) == 0 {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM tree_revisions WHERE sid = ? AND oid = ?`, id.SID, id.OID); err != nil {
		return nil, err
	}
	var gone []string
	for _, r := range revs {
		last, err := unref(ctx, tx, r.ContentKey)
		if err != nil {
			return nil, err
		}
		if last {
			gone = append(gone, r.ContentKey)
		}
	}
	return gone, nil
}

// revisions lists id's revisions, newest first.
func revisions(ctx context.Context, tx *metadb.Tx, id ID) ([]Revision, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rev, size, content_key, content_etag, mtime FROM tree_revisions
		WHERE sid = ? AND oid = ? ORDER BY rev DESC`, id.SID, id.OID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Revision{}
	for rows.Next() {
		var (
			r     Revision
			mtime int64
		)
		if err := rows.Scan(&r.Rev, &r.Size, &r.ContentKey, &r.ContentETag, &mtime); err != nil {
			return nil, err
		}
		r.MTime = time.UnixMilli(mtime).UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Revisions lists ref's file's revisions for a, newest first, and
// records its file.transfer (META_REQUEST). check is asked about the
// file.
func (s *Store) Revisions(ctx context.Context, a Actor, ref Ref, check Check) (View, []Revision, error) {
	var (
		v    View
		revs []Revision
	)
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var err error
		if v, err = s.view(ctx, tx, a, ref, File, PermRead, check); err != nil {
			return err
		}
		if revs, err = revisions(ctx, tx, v.ID); err != nil {
			return err
		}
		return s.transfer(rec, a, v, "META_REQUEST")
	})
	if err != nil {
		return View{}, nil, fmt.Errorf("list revisions of %s: %w", describe(ref), err)
	}
	return v, revs, nil
}

// GetRevision reads ref's file for a with revision rev in place of its
// current content (its key, size, ETag and time), and records the
// file.transfer op (CONTENT_REQUEST for a download).
func (s *Store) GetRevision(ctx context.Context, a Actor, ref Ref, rev int64, op string, check Check) (View, error) {
	var v View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var err error
		if v, err = s.view(ctx, tx, a, ref, File, PermRead, check); err != nil {
			return err
		}
		r, err := revision(ctx, tx, v.ID, rev)
		if err != nil {
			return err
		}
		v.ContentKey, v.Size, v.ContentETag, v.MTime = r.ContentKey, r.Size, r.ContentETag, r.MTime
		return s.transfer(rec, a, v, op)
	})
	if err != nil {
		return View{}, fmt.Errorf("read revision %d of %s: %w", rev, describe(ref), err)
	}
	return v, nil
}

// RestoreRevision makes revision rev ref's file's content again (the
// current content becomes the newest revision; rev stays) and records
// its file.notification (MODIFY). check is asked about the file.
func (s *Store) RestoreRevision(ctx context.Context, a Actor, ref Ref, rev int64, check Check) (View, error) {
	var (
		v    View
		gone []string
		key  string
	)
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var err error
		if v, err = s.view(ctx, tx, a, ref, File, PermWrite, check); err != nil {
			return err
		}
		r, err := revision(ctx, tx, v.ID, rev)
		if err != nil {
			return err
		}
		key = r.ContentKey
		// The revision holds a reference: the blob cannot have gone.
		if gone, err = s.replaceContent(ctx, tx, &v, Content{Key: r.ContentKey, Size: r.Size, ETag: r.ContentETag}); err != nil {
			return err
		}
		return s.notify(rec, a, v, "", "MODIFY")
	})
	if err != nil {
		return View{}, fmt.Errorf("restore revision %d of %s: %w", rev, describe(ref), err)
	}
	s.sweep(ctx, slices.DeleteFunc(gone, func(k string) bool { return k == key }))
	return v, nil
}

func revision(ctx context.Context, tx *metadb.Tx, id ID, rev int64) (Revision, error) {
	revs, err := revisions(ctx, tx, id)
	if err != nil {
		return Revision{}, err
	}
	i := slices.IndexFunc(revs, func(r Revision) bool { return r.Rev == rev })
	if i < 0 {
		return Revision{}, ErrNoRevision
	}
	return revs[i], nil
}
