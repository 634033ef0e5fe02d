package auth

import (
	"context"
	"database/sql"
	"fmt"
)

// migrations are the schema's versions: migrations[i] takes the database
// from version i to i+1 (SQLite's user_version). Append only; never edit a
// migration that has shipped.
//
// Times are Unix milliseconds. Secrets are kept as their SHA-256 only.
var migrations = []string{
	// 1: users, devices, API tokens, the audit outbox.
	`CREATE TABLE users (
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
}

// migrate brings the schema to the newest version, in one transaction, so
// that processes opening the file at the same time apply each migration
// once. It refuses a database from a newer binary.
func (s *Store) migrate(ctx context.Context) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var version int
		if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		if version > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this binary's %d: upgrade vigil", version, len(migrations))
		}
		for v := version; v < len(migrations); v++ {
			if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
		if version == len(migrations) {
			return nil
		}
		// PRAGMA takes no parameters; the value is our own integer.
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
			return fmt.Errorf("write schema version: %w", err)
		}
		return nil
	})
}
