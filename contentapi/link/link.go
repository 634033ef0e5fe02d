package link

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The errors callers branch on; test with errors.Is.
var (
	// ErrNotFound is a link that does not exist, one the actor may not
	// see, or an object the link does not reach.
	ErrNotFound = errors.New("no such link")
	// ErrNoObject is an object to link that does not exist or that the
	// actor may not see.
	ErrNoObject = errors.New("no such file or folder")
	// ErrForbidden is an actor who sees the object but may not link it
	// or change its link.
	ErrForbidden = errors.New("no permission to manage the link")
	// ErrNotFile is a download of a folder.
	ErrNotFile = errors.New("not a file")
)

// Link is a link as the store keeps it.
type Link struct {
	Key string
	// Object is the linked file or folder.
	Object       tree.ID
	CreatedBy    string
	RequireLogin bool
	// PasswordHash is the password's PHC string; "" for none.
	PasswordHash string
	// Expires is when the link stops working; zero for never.
	Expires   time.Time
	CreatedAt time.Time
}

// Expired reports whether the link no longer works at now.
func (l Link) Expired(now time.Time) bool { return !l.Expires.IsZero() && !now.Before(l.Expires) }

// Actor is who manages links: the user, whether they administer the
// organization (and so may manage every link), and the caller object
// and client address of the events.
type Actor struct {
	User   string
	Admin  bool
	Caller json.RawMessage
	IP     string
	// Check, when set, is the actor's say on the linked object (its
	// token's scopes); an error it returns ends the call as it is.
	Check tree.Check
}

// Settings are a link's settings to set; nil fields are unchanged. An
// empty PasswordHash removes the password and a zero Expires the
// expiry.
type Settings struct {
	RequireLogin *bool
	PasswordHash *string
	Expires      *time.Time
}

// Store keeps links. It is safe for concurrent use.
type Store struct {
	auth *auth.Store
	db   *metadb.DB
	now  func() time.Time
}

// New returns the links in the auth store's database, applying their
// migrations (component "link"). The tree's tables must exist (the
// tree's New ran).
func New(ctx context.Context, a *auth.Store, now func() time.Time) (*Store, error) {
	s := &Store{auth: a, db: a.DB(), now: now}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.db.Migrate(ctx, component); err != nil {
		return nil, err
	}
	return s, nil
}

// Create links obj with set and records link.create, then the event of
// each setting given (link.set_password, link.set_expiry,
// link.set_require_login when true), in one transaction. The actor
// must be able to change the object's store.
func (s *Store) Create(ctx context.Context, a Actor, obj tree.ID, set Settings) (Link, error) {
	var l Link
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		perm, err := tree.Access(ctx, tx, a.User, obj.SID)
		if err != nil {
			return err
		}
		if !perm.Has(tree.PermRead) {
			return ErrNoObject
		}
		v, err := tree.Lookup(ctx, tx, obj)
		if errors.Is(err, tree.ErrNotFound) {
			return ErrNoObject
		} else if err != nil {
			return err
		}
		if a.Check != nil {
			if err := a.Check(v.Object, v.Ancestors); err != nil {
				return err
			}
		}
		if !perm.Has(tree.PermWrite) {
			return ErrForbidden
		}
		at := s.timestamp()
		l = apply(Link{Key: NewKey(), Object: obj, CreatedBy: a.User, CreatedAt: at}, set)
		if _, err := tx.ExecContext(ctx, `INSERT INTO links (key, sid, oid, created_by, require_login, password_hash, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, l.Key, obj.SID, obj.OID, l.CreatedBy, boolInt(l.RequireLogin), l.PasswordHash,
			millis(l.Expires), at.UnixMilli()); err != nil {
			return err
		}
		if err := rec.Record("link.create", at, a.fields(l.Key, schema.Fields{"soid": obj.String()})); err != nil {
			return err
		}
		if l.PasswordHash != "" {
			if err := rec.Record("link.set_password", at, a.fields(l.Key, nil)); err != nil {
				return err
			}
		}
		if !l.Expires.IsZero() {
			if err := rec.Record("link.set_expiry", at, a.fields(l.Key, schema.Fields{"expiry": expiry(l.Expires, at)})); err != nil {
				return err
			}
		}
		if l.RequireLogin {
			return rec.Record("link.set_require_login", at, a.fields(l.Key, schema.Fields{"require_login": true}))
		}
		return nil
	})
	if err != nil {
		return Link{}, fmt.Errorf("create link to %s: %w", obj, err)
	}
	return l, nil
}

// Get reads key's link for an actor who may manage it.
func (s *Store) Get(ctx context.Context, a Actor, key string) (Link, error) {
	var l Link
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var err error
		l, err = s.managed(ctx, tx, a, key)
		return err
	})
	if err != nil {
		return Link{}, fmt.Errorf("read link %s: %w", key, err)
	}
	return l, nil
}

// The events Change records.
const (
	// EventUpdate records every setting changed at once.
	EventUpdate = "link.update"
	// The others record one setting each.
	EventSetPassword     = "link.set_password"
	EventRemovePassword  = "link.remove_password"
	EventSetExpiry       = "link.set_expiry"
	EventRemoveExpiry    = "link.remove_expiry"
	EventSetRequireLogin = "link.set_require_login"
)

// Change applies set to key's link and records event (one of the
// Event constants) with the fields it has for set, in one transaction.
func (s *Store) Change(ctx context.Context, a Actor, key string, set Settings, event string) (Link, error) {
	var l Link
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		old, err := s.managed(ctx, tx, a, key)
		if err != nil {
			return err
		}
		l = apply(old, set)
		if _, err := tx.ExecContext(ctx, `UPDATE links SET require_login = ?, password_hash = ?, expires_at = ? WHERE key = ?`,
			boolInt(l.RequireLogin), l.PasswordHash, millis(l.Expires), key); err != nil {
			return err
		}
		at := s.timestamp()
		f := schema.Fields{}
		switch event {
		case EventUpdate:
			if set.PasswordHash != nil {
				f["set_password"] = *set.PasswordHash != ""
			}
			if set.RequireLogin != nil {
				f["require_login"] = *set.RequireLogin
			}
			if set.Expires != nil && !set.Expires.IsZero() {
				f["expiry"] = expiry(*set.Expires, at)
			}
		case EventSetExpiry:
			f["expiry"] = expiry(l.Expires, at)
		case EventSetRequireLogin:
			f["require_login"] = l.RequireLogin
		}
		return rec.Record(event, at, a.fields(key, f))
	})
	if err != nil {
		return Link{}, fmt.Errorf("change link %s: %w", key, err)
	}
	return l, nil
}

// Delete deletes key's link and records link.delete.
func (s *Store) Delete(ctx context.Context, a Actor, key string) error {
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		if _, err := s.managed(ctx, tx, a, key); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM links WHERE key = ?`, key); err != nil {
			return err
		}
		return rec.Record("link.delete", s.timestamp(), a.fields(key, nil))
	})
	if err != nil {
		return fmt.Errorf("delete link %s: %w", key, err)
	}
	return nil
}

// Find reads key's link for its holder, who has not yet shown what the
// link asks (password, sign-in): nothing is recorded.
func (s *Store) Find(ctx context.Context, key string) (Link, error) {
	l, err := find(ctx, s.db, key)
	if err != nil {
		return Link{}, fmt.Errorf("read link %s: %w", key, err)
	}
	return l, nil
}

// Use says what a link's holder reads.
type Use struct {
	// Target is the object read: zero for the linked object, else an
	// object that must be it or lie below it.
	Target tree.ID
	// Children lists a folder's children.
	Children bool
	// Download reads a file's content (link.download) rather than
	// metadata (link.access).
	Download bool
	// IP is the holder's address.
	IP string
}

// Access reads what u asks through l, which the caller has checked
// (expiry, password, sign-in), and records link.access or
// link.download in the same transaction. The view's ancestors start at
// the linked object: nothing above it is shown.
func (s *Store) Access(ctx context.Context, l Link, u Use) (tree.View, error) {
	var v tree.View
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		if _, err := find(ctx, tx, l.Key); err != nil {
			return err // deleted since
		}
		target := u.Target
		if target.IsZero() {
			target = l.Object
		}
		var err error
		v, err = tree.Lookup(ctx, tx, target)
		if errors.Is(err, tree.ErrNotFound) || err == nil && !v.Within(l.Object) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		for i, o := range v.Ancestors {
			if o.ID == l.Object {
				v.Ancestors = v.Ancestors[i:]
				break
			}
		}
		if v.ID == l.Object {
			v.Ancestors = nil
		}
		if u.Children {
			if v.Children, err = tree.Children(ctx, tx, v.Object); err != nil {
				return err
			}
		}
		at := s.timestamp()
		if !u.Download {
			return rec.Record("link.access", at, schema.Fields{"ip": u.IP, "key": l.Key})
		}
		if v.Kind != tree.File {
			return ErrNotFile
		}
		return rec.Record("link.download", at, schema.Fields{"ip": u.IP, "key": l.Key, "oid": v.ID.OID, "name": v.Name})
	})
	if err != nil {
		return tree.View{}, fmt.Errorf("use link %s: %w", l.Key, err)
	}
	return v, nil
}

// Refused records a wrong password given for key from ip, or an attempt
// the rate limit refused (limited).
func (s *Store) Refused(ctx context.Context, key, ip string, limited bool) error {
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		return rec.Record("audit.link.password.error", s.timestamp(), schema.Fields{"ip": ip, "key": key, "rate_limited": limited})
	})
	if err != nil {
		return fmt.Errorf("record refused password for link %s: %w", key, err)
	}
	return nil
}

// managed reads key's link if a may manage it: its creator, an
// administrator, or whoever may manage the object's store. Someone who
// cannot even see the object gets ErrNotFound.
func (s *Store) managed(ctx context.Context, tx *metadb.Tx, a Actor, key string) (Link, error) {
	l, err := find(ctx, tx, key)
	if err != nil {
		return Link{}, err
	}
	if l.CreatedBy != a.User && !a.Admin {
		perm, err := tree.Access(ctx, tx, a.User, l.Object.SID)
		switch {
		case err != nil:
			return Link{}, err
		case !perm.Has(tree.PermRead):
			return Link{}, ErrNotFound
		case !perm.Has(tree.PermManage):
			return Link{}, ErrForbidden
		}
	}
	if a.Check == nil {
		return l, nil
	}
	v, err := tree.Lookup(ctx, tx, l.Object)
	switch {
	case errors.Is(err, tree.ErrNotFound):
		return l, nil // the object is gone; its link can still be managed
	case err != nil:
		return Link{}, err
	}
	return l, a.Check(v.Object, v.Ancestors)
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func find(ctx context.Context, q querier, key string) (Link, error) {
	var (
		l                 Link
		login, exp, since int64
	)
	err := q.QueryRowContext(ctx, `SELECT key, sid, oid, created_by, require_login, password_hash, expires_at, created_at
		FROM links WHERE key = ?`, key).Scan(&l.Key, &l.Object.SID, &l.Object.OID, &l.CreatedBy, &login, &l.PasswordHash, &exp, &since)
	if errors.Is(err, sql.ErrNoRows) {
		return Link{}, ErrNotFound
	}
	if err != nil {
		return Link{}, err
	}
	l.RequireLogin, l.CreatedAt = login != 0, time.UnixMilli(since).UTC()
	if exp != 0 {
		l.Expires = time.UnixMilli(exp).UTC()
	}
	return l, nil
}

func apply(l Link, set Settings) Link {
	if set.RequireLogin != nil {
		l.RequireLogin = *set.RequireLogin
	}
	if set.PasswordHash != nil {
		l.PasswordHash = *set.PasswordHash
	}
	if set.Expires != nil {
		l.Expires = set.Expires.UTC().Truncate(time.Millisecond)
	}
	return l
}

// fields are a management event's: ip, caller, key, then extra.
func (a Actor) fields(key string, extra schema.Fields) schema.Fields {
	f := schema.Fields{"ip": a.IP, "caller": a.Caller, "key": key}
	for k, v := range extra {
		f[k] = v
	}
	return f
}

// expiry is the seconds from at until t, rounded up, as link events
// carry it.
func expiry(t, at time.Time) int64 {
	return max(int64((t.Sub(at)+time.Second-1)/time.Second), 0)
}

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func (s *Store) timestamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

// migrations are the links' schema versions: migrations[i] takes it
// from version i to i+1. Append only. Times are Unix milliseconds, 0
// for none; require_login is 0 or 1.
var migrations = []metadb.Migration{
	{
		SQLite: `CREATE TABLE links (
		key           TEXT PRIMARY KEY,
		sid           TEXT NOT NULL,
		oid           TEXT NOT NULL,
		created_by    TEXT NOT NULL,
		require_login INTEGER NOT NULL DEFAULT 0,
		password_hash TEXT NOT NULL DEFAULT '',
		expires_at    INTEGER NOT NULL DEFAULT 0,
		created_at    INTEGER NOT NULL
	) STRICT;
	CREATE INDEX links_object ON links (sid, oid);`,
		Postgres: `CREATE TABLE links (
		key           TEXT PRIMARY KEY,
		sid           TEXT NOT NULL,
		oid           TEXT NOT NULL,
		created_by    TEXT NOT NULL,
		require_login BIGINT NOT NULL DEFAULT 0,
		password_hash TEXT NOT NULL DEFAULT '',
		expires_at    BIGINT NOT NULL DEFAULT 0,
		created_at    BIGINT NOT NULL
	);
	CREATE INDEX links_object ON links (sid, oid);`,
	},
}

var component = metadb.Component{Name: "link", Migrations: migrations}
