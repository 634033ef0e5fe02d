package tree

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// The errors callers branch on; Store methods return them as they are
// or wrapped, test with errors.Is (and errors.As for *NameError).
var (
	// ErrNotFound is an object that does not exist, is not of the kind
	// asked, or that the user may not see: the same answer, so that ids
	// of others' objects cannot be probed.
	ErrNotFound = errors.New("no such object")
	// ErrNoParent is a parent that does not exist or is not a folder.
	ErrNoParent = errors.New("no such parent folder")
	// ErrConflict is a name another child of the folder has.
	ErrConflict = errors.New("name already taken in the folder")
	// ErrRoot refuses to move, rename or delete a root folder.
	ErrRoot = errors.New("a root folder cannot be moved, renamed or deleted")
	// ErrIntoItself refuses to move a folder into itself or below.
	ErrIntoItself = errors.New("a folder cannot move into itself")
	// ErrOtherStore refuses a move between stores.
	ErrOtherStore = errors.New("moving between stores is not supported")
	// ErrReadOnly is a store the user may read but not change.
	ErrReadOnly = errors.New("no permission to change this folder")
	// ErrBlobGone is new content whose blob was deleted (by the sweep
	// of an older reference to the same bytes) before SetContent took
	// its reference: the upload must be sent again.
	ErrBlobGone = errors.New("the content's blob was deleted before it was committed")
	// ErrHoldsShare refuses to delete a folder that holds a shared
	// folder's anchor: the share is destroyed on its own.
	ErrHoldsShare = errors.New("the folder holds a shared folder")
)

// Kind is a file or a folder.
type Kind string

// The kinds of objects.
const (
	Folder Kind = "folder"
	File   Kind = "file"
)

// Object is a file or folder.
type Object struct {
	ID ID
	// Parent is the folder holding the object; zero for a root folder.
	Parent ID
	// Name is "" for a root folder.
	Name string
	Kind Kind
	// Version counts the object's changes, from 1.
	Version int64
	// MTime is the last change of the object's metadata or content,
	// to the millisecond.
	MTime time.Time
	// Size, ContentKey (the blob key, "" for no content) and
	// ContentETag are a file's.
	Size        int64
	ContentKey  string
	ContentETag string
	// AppData says that the object is in an app's appdata store
	// rather than in its owner's root store.
	AppData bool
	// Share is the SID of the shared folder the object is: the root of
	// a share's store (its Name is then the share's), or the anchor
	// that stands for the share in its creator's tree; "" for others.
	Share string
}

// ETag is the object's weak metadata entity tag: a hash of its parent
// and name and, for a file, its size and time.
func (o Object) ETag() string {
	h := sha256.New()
	h.Write([]byte(string(o.Kind) + "\x00" + o.Parent.String() + "\x00" + o.Name))
	if o.Kind == File {
		h.Write([]byte("\x00" + strconv.FormatInt(o.Size, 10) + "\x00" + strconv.FormatInt(o.MTime.UnixMilli(), 10)))
	}
	return `W/"` + hex.EncodeToString(h.Sum(nil)[:16]) + `"`
}

// emptyETag is the content entity tag of a file without content: the
// SHA-256 of no bytes, as a blob's key is the SHA-256 of its bytes.
var emptyETag = func() string { h := sha256.Sum256(nil); return hex.EncodeToString(h[:]) }()

// Perm is what a user may do in a store.
type Perm uint8

// The permissions.
const (
	PermRead Perm = 1 << iota
	PermWrite
	PermManage
)

// Has reports whether p holds all of q.
func (p Perm) Has(q Perm) bool { return p&q == q }

// Actor is who acts: the user the token speaks for and the device id of
// the app that holds the token (its appdata folder is per user and that
// device, and it is the events' app device).
type Actor struct {
	User, Device string
}

// BlobDeleter removes a blob that no file refers to any more; a blob
// store is one.
type BlobDeleter interface {
	Delete(ctx context.Context, key string) error
}

// Config is what a Store is built from.
type Config struct {
	// ServerUser is the pseudo-user (":..." ) of the events the server
	// submits, with the server's device: the organization's Team Server
	// user.
	ServerUser string
	// Blobs deletes blobs once no file refers to them; nil keeps them.
	Blobs BlobDeleter
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Revisions is how many earlier contents of a file are kept; 0
	// keeps none.
	Revisions int
}

// Store is the file tree. It is safe for concurrent use.
type Store struct {
	auth   *auth.Store
	db     *metadb.DB
	blobs  BlobDeleter
	now    func() time.Time
	server schema.Submitter
	keep   int
}

// New returns the tree in the auth store's database, applying its
// migrations (component "tree") and creating the server's device id on
// first use.
func New(ctx context.Context, a *auth.Store, cfg Config) (*Store, error) {
	if cfg.ServerUser == "" || cfg.ServerUser[0] != ':' {
		return nil, fmt.Errorf("open file tree: server user %q is not a pseudo-user", cfg.ServerUser)
	}
	s := &Store{auth: a, db: a.DB(), blobs: cfg.Blobs, now: cfg.Now, keep: max(cfg.Revisions, 0)}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.db.Migrate(ctx, component); err != nil {
		return nil, err
	}
	if err := s.db.Migrate(ctx, shareComponent); err != nil {
		return nil, err
	}
	dev, err := s.serverDevice(ctx)
	if err != nil {
		return nil, err
	}
	s.server = schema.Submitter{UserID: cfg.ServerUser, DeviceID: dev}
	return s, nil
}

// ServerDevice is the server's device id: the device and submitter of
// the tree's events.
func (s *Store) ServerDevice() string { return s.server.DeviceID }

// Ping checks that the tree's database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	err := s.db.QueryRowContext(ctx, `SELECT 1 FROM tree_server LIMIT 1`).Scan(&one)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("ping file tree: %w", err)
	}
	return nil
}

// serverDevice reads the server's device id, creating it once.
func (s *Store) serverDevice(ctx context.Context) (string, error) {
	var dev string
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO tree_server (id, device) VALUES (1, ?) ON CONFLICT (id) DO NOTHING`, newHexID()); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `SELECT device FROM tree_server WHERE id = 1`).Scan(&dev)
	})
	if err != nil {
		return "", fmt.Errorf("read server device: %w", err)
	}
	return dev, nil
}

// Access says what user may do in the store sid: in a root or appdata
// store its owner everything, anyone else nothing; in a shared folder's
// store what the user's membership gives, directly or through the
// groups the user is in (the union): read to every member (a viewer),
// write with WRITE, manage with MANAGE. This is the one place that
// decides.
func Access(ctx context.Context, tx *metadb.Tx, user, sid string) (Perm, error) {
	var (
		owner string
		share sql.NullString
	)
	err := tx.QueryRowContext(ctx, `SELECT s.owner, sh.sid FROM tree_stores s LEFT JOIN tree_shares sh ON sh.sid = s.sid
		WHERE s.sid = ?`, sid).Scan(&owner, &share)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read store %s: %w", sid, err)
	case share.Valid:
		return memberPerm(ctx, tx, user, sid)
	case owner == user:
		return PermRead | PermWrite | PermManage, nil
	}
	return 0, nil
}

// componentName is the tree's schema for the migration runner.
const componentName = "tree"

// migrations are the tree's schema versions: migrations[i] takes it from
// version i to i+1. Append only. Times are Unix milliseconds.
//
// Each user has a root store (tree_roots) and, per app (the device id of
// its authorization), an appdata store (tree_appdata); both are created
// on first use, without an event: no folder changes.
// tree_objects holds every folder and file; a root folder has OID
// RootOID, parent "" and name "". Names are unique among a folder's
// children (tree_objects_name). tree_blobs counts the files that refer
// to each blob (content_key): a blob is deleted once its count is zero.
// Later kinds of reference (revisions, trash) count there too.
var migrations = []metadb.Migration{
	{
		SQLite: `CREATE TABLE tree_server (
		id     INTEGER PRIMARY KEY CHECK (id = 1),
		device TEXT NOT NULL
	) STRICT;
	CREATE TABLE tree_stores (
		sid        TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		kind       TEXT NOT NULL CHECK (kind IN ('root', 'appdata')),
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE TABLE tree_roots (
		owner TEXT PRIMARY KEY,
		sid   TEXT NOT NULL UNIQUE
	) STRICT;
	CREATE TABLE tree_objects (
		sid          TEXT NOT NULL REFERENCES tree_stores (sid),
		oid          TEXT NOT NULL,
		parent       TEXT NOT NULL,
		name         TEXT NOT NULL,
		kind         TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
		version      INTEGER NOT NULL,
		mtime        INTEGER NOT NULL,
		size         INTEGER NOT NULL DEFAULT 0,
		content_key  TEXT NOT NULL DEFAULT '',
		content_etag TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (sid, oid)
	) STRICT;
	CREATE UNIQUE INDEX tree_objects_name ON tree_objects (sid, parent, name);
	CREATE TABLE tree_appdata (
		owner  TEXT NOT NULL,
		device TEXT NOT NULL,
		sid    TEXT NOT NULL UNIQUE,
		PRIMARY KEY (owner, device)
	) STRICT;
	CREATE TABLE tree_blobs (
		key  TEXT PRIMARY KEY,
		refs INTEGER NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE tree_server (
		id     BIGINT PRIMARY KEY CHECK (id = 1),
		device TEXT NOT NULL
	);
	CREATE TABLE tree_stores (
		sid        TEXT PRIMARY KEY,
		owner      TEXT NOT NULL,
		kind       TEXT NOT NULL CHECK (kind IN ('root', 'appdata')),
		created_at BIGINT NOT NULL
	);
	CREATE TABLE tree_roots (
		owner TEXT PRIMARY KEY,
		sid   TEXT NOT NULL UNIQUE
	);
	CREATE TABLE tree_objects (
		sid          TEXT NOT NULL REFERENCES tree_stores (sid),
		oid          TEXT NOT NULL,
		parent       TEXT NOT NULL,
		name         TEXT NOT NULL,
		kind         TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
		version      BIGINT NOT NULL,
		mtime        BIGINT NOT NULL,
		size         BIGINT NOT NULL DEFAULT 0,
		content_key  TEXT NOT NULL DEFAULT '',
		content_etag TEXT NOT NULL DEFAULT '',
		PRIMARY KEY (sid, oid)
	);
	CREATE UNIQUE INDEX tree_objects_name ON tree_objects (sid, parent, name);
	CREATE TABLE tree_appdata (
		owner  TEXT NOT NULL,
		device TEXT NOT NULL,
		sid    TEXT NOT NULL UNIQUE,
		PRIMARY KEY (owner, device)
	);
	CREATE TABLE tree_blobs (
		key  TEXT PRIMARY KEY,
		refs BIGINT NOT NULL
	);`,
	},
	// 1 -> 2: favorites, per user (owner); a favorite goes with its
	// object (Delete removes it).
	{
		SQLite: `CREATE TABLE tree_favorites (
		owner      TEXT NOT NULL,
		sid        TEXT NOT NULL,
		oid        TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		PRIMARY KEY (owner, sid, oid)
	) STRICT;
	CREATE INDEX tree_favorites_object ON tree_favorites (sid, oid);`,
		Postgres: `CREATE TABLE tree_favorites (
		owner      TEXT NOT NULL,
		sid        TEXT NOT NULL,
		oid        TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		PRIMARY KEY (owner, sid, oid)
	);
	CREATE INDEX tree_favorites_object ON tree_favorites (sid, oid);`,
	},
	// 2 -> 3: revisions, a file's earlier contents (rev from 1 up);
	// each counts as a reference to its blob in tree_blobs.
	{
		SQLite: `CREATE TABLE tree_revisions (
		sid          TEXT NOT NULL,
		oid          TEXT NOT NULL,
		rev          INTEGER NOT NULL,
		size         INTEGER NOT NULL,
		content_key  TEXT NOT NULL,
		content_etag TEXT NOT NULL,
		mtime        INTEGER NOT NULL,
		PRIMARY KEY (sid, oid, rev)
	) STRICT;`,
		Postgres: `CREATE TABLE tree_revisions (
		sid          TEXT NOT NULL,
		oid          TEXT NOT NULL,
		rev          BIGINT NOT NULL,
		size         BIGINT NOT NULL,
		content_key  TEXT NOT NULL,
		content_etag TEXT NOT NULL,
		mtime        BIGINT NOT NULL,
		PRIMARY KEY (sid, oid, rev)
	);`,
	},
}

var component = metadb.Component{Name: componentName, Migrations: migrations}
