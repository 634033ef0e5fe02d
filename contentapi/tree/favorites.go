package tree

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Favorite marks ref's object (of kind, "" for either) as one of a's
// favorites and records audit.favorite.add; marking a favorite again
// changes and records nothing. check is asked about the object. It
// reports whether the mark is new.
func (s *Store) Favorite(ctx context.Context, a Actor, kind Kind, ref Ref, check Check) (View, bool, error) {
	var (
		v     View
		added bool
	)
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		var err error
		if v, err = s.view(ctx, tx, a, ref, kind, PermRead, check); err != nil {
			return err
		}
		at := s.timestamp()
		res, err := tx.ExecContext(ctx, `INSERT INTO tree_favorites (owner, sid, oid, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (owner, sid, oid) DO NOTHING`, a.User, v.ID.SID, v.ID.OID, at.UnixMilli())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if added = n == 1; !added {
			return nil
		}
		return s.favoriteEvent(rec, a, v, "audit.favorite.add", at)
	})
	if err != nil {
		return View{}, false, fmt.Errorf("favorite %s: %w", describe(ref), err)
	}
	return v, added, nil
}

// Unfavorite removes ref's object from a's favorites and records
// audit.favorite.remove; an object that is no favorite is ErrNotFound.
func (s *Store) Unfavorite(ctx context.Context, a Actor, ref Ref, check Check) error {
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		v, err := s.view(ctx, tx, a, ref, "", PermRead, check)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tree_favorites WHERE owner = ? AND sid = ? AND oid = ?`, a.User, v.ID.SID, v.ID.OID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			return ErrNotFound
		}
		return s.favoriteEvent(rec, a, v, "audit.favorite.remove", s.timestamp())
	})
	if err != nil {
		return fmt.Errorf("unfavorite %s: %w", describe(ref), err)
	}
	return nil
}

// Favorites lists a's favorites that a may still read, oldest first,
// with their ancestors, and records one file.transfer (META_REQUEST)
// for each object that keep admits (nil keeps all): a listing of
// favorites reads their metadata.
func (s *Store) Favorites(ctx context.Context, a Actor, keep func(o Object, ancestors []Object) bool) ([]View, error) {
	var out []View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		out = nil
		rows, err := tx.QueryContext(ctx, `SELECT sid, oid FROM tree_favorites WHERE owner = ? ORDER BY created_at, sid, oid`, a.User)
		if err != nil {
			return err
		}
		var ids []ID
		for rows.Next() {
			var id ID
			if err := rows.Scan(&id.SID, &id.OID); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, id := range ids {
			v, err := s.view(ctx, tx, a, Ref{ID: id}, "", PermRead, nil)
			switch {
			case errors.Is(err, ErrNotFound):
				continue // no longer the user's to see
			case err != nil:
				return err
			case keep != nil && !keep(v.Object, v.Ancestors):
				continue // out of the token's scope
			}
			if err := s.transfer(rec, a, v, "META_REQUEST"); err != nil {
				return err
			}
			out = append(out, v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list favorites of %s: %w", a.User, err)
	}
	return out, nil
}

func (s *Store) favoriteEvent(rec auth.Recorder, a Actor, v View, event string, at time.Time) error {
	caller, _ := json.Marshal(struct {
		Email  string `json:"email"`
		Device string `json:"device,omitempty"`
	}{a.User, a.Device}) // strings only: never fails
	return rec.Record(event, at, schema.Fields{"caller": json.RawMessage(caller), "soid": v.ID.String(),
		"path": pathJSON(v.ID.SID, v.Path())})
}
