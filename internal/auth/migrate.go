package auth

import (
	"context"
	"fmt"

	"github.com/vigilaudit/vigil/internal/metadb"
)

// migrations are the schema's versions, component "auth" of the metadata
// database: migrations[i] takes it from version i to i+1. Append only;
// never edit a migration that has shipped.
//
// Times are Unix milliseconds. Secrets are kept as their SHA-256 only.
var migrations = []metadb.Migration{
	// 1: users, devices, API tokens, the audit outbox. The SQLite text is
	// the one the SQLite-only store shipped.
	{
		SQLite: `CREATE TABLE users (
		email      TEXT PRIMARY KEY,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE TABLE devices (
		id         TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		name       TEXT NOT NULL,
		token_hash BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		revoked_at INTEGER,
		last_seq   INTEGER NOT NULL DEFAULT 0,
		seq_gaps   INTEGER NOT NULL DEFAULT 0,
		last_seen  INTEGER
	) STRICT;
	CREATE INDEX devices_user ON devices (user_email);
	CREATE TABLE tokens (
		name       TEXT PRIMARY KEY,
		role       TEXT NOT NULL,
		token_hash BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		revoked_at INTEGER,
		last_used  INTEGER
	) STRICT;
	CREATE TABLE outbox (
		id    INTEGER PRIMARY KEY AUTOINCREMENT,
		event BLOB NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE users (
		email      TEXT PRIMARY KEY,
		created_at BIGINT NOT NULL
	);
	CREATE TABLE devices (
		id         TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		name       TEXT NOT NULL,
		token_hash BYTEA NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT,
		last_seq   BIGINT NOT NULL DEFAULT 0,
		seq_gaps   BIGINT NOT NULL DEFAULT 0,
		last_seen  BIGINT
	);
	CREATE INDEX devices_user ON devices (user_email);
	CREATE TABLE tokens (
		name       TEXT PRIMARY KEY,
		role       TEXT NOT NULL,
		token_hash BYTEA NOT NULL UNIQUE,
		created_at BIGINT NOT NULL,
		revoked_at BIGINT,
		last_used  BIGINT
	);
	CREATE TABLE outbox (
		id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		event BYTEA NOT NULL
	);`,
	},
	// 2: accounts. Users get a name, a local password (its argon2id PHC
	// string; NULL for none) and an organization level; content API
	// access tokens and cookie sessions are kept by the SHA-256 of their
	// secret (64 hex), never the secret. A session's CSRF token is derived
	// from its id, so there is nothing of it to keep.
	{
		SQLite: `ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN password_hash TEXT;
	ALTER TABLE users ADD COLUMN level TEXT NOT NULL DEFAULT 'USER' CHECK (level IN ('USER', 'ADMIN'));
	CREATE TABLE access_tokens (
		token_hash TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		scopes     TEXT NOT NULL,
		device_id  TEXT NOT NULL,
		expires_at INTEGER NOT NULL,
		created_at INTEGER NOT NULL
	) STRICT;
	CREATE INDEX access_tokens_user ON access_tokens (user_email);
	CREATE TABLE sessions (
		id_hash    TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		created_at INTEGER NOT NULL,
		last_seen  INTEGER NOT NULL,
		expires_at INTEGER NOT NULL
	) STRICT;
	CREATE INDEX sessions_user ON sessions (user_email);`,
		Postgres: `ALTER TABLE users ADD COLUMN first_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN last_name TEXT NOT NULL DEFAULT '';
	ALTER TABLE users ADD COLUMN password_hash TEXT;
	ALTER TABLE users ADD COLUMN level TEXT NOT NULL DEFAULT 'USER' CHECK (level IN ('USER', 'ADMIN'));
	CREATE TABLE access_tokens (
		token_hash TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		scopes     TEXT NOT NULL,
		device_id  TEXT NOT NULL,
		expires_at BIGINT NOT NULL,
		created_at BIGINT NOT NULL
	);
	CREATE INDEX access_tokens_user ON access_tokens (user_email);
	CREATE TABLE sessions (
		id_hash    TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email),
		created_at BIGINT NOT NULL,
		last_seen  BIGINT NOT NULL,
		expires_at BIGINT NOT NULL
	);
	CREATE INDEX sessions_user ON sessions (user_email);`,
	},
}

// component is the store's schema for the migration runner.
var component = metadb.Component{Name: "auth", Migrations: migrations, Adopt: adoptUserVersion}

// adoptUserVersion tells the runner which version a SQLite file of the
// SQLite-only store has: that store kept its version in PRAGMA
// user_version, and recorded nothing in schema_migrations.
func adoptUserVersion(ctx context.Context, tx *metadb.Tx) (int, error) {
	if tx.Dialect() != metadb.SQLite {
		return 0, nil
	}
	var version int
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return 0, fmt.Errorf("read user_version: %w", err)
	}
	return version, nil
}

// migrate brings the schema to the newest version. On SQLite it also keeps
// PRAGMA user_version at the auth schema's version, as the SQLite-only
// store did, so that a binary from before schema_migrations refuses a
// file migrated past what it knows rather than misreading it.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.db.Migrate(ctx, component); err != nil {
		return err
	}
	if s.db.Dialect() != metadb.SQLite {
		return nil
	}
	return s.db.InTx(ctx, func(tx *metadb.Tx) error {
		version, err := adoptUserVersion(ctx, tx)
		if err != nil || version >= len(migrations) {
			return err
		}
		// PRAGMA takes no parameters; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
			return fmt.Errorf("write user_version: %w", err)
		}
		return nil
	})
}
