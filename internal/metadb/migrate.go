package metadb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Migration is one version of a component's schema. SQL is its
// statements for both dialects; SQLite or Postgres, when set, replace it
// for that dialect, where the two differ (see the package comment for the
// portable subset). A migration runs in one transaction, with the record
// that it was applied. Migrations are append only: never edit one that
// has shipped.
type Migration struct {
	SQL      string
	SQLite   string
	Postgres string
}

// text returns m's statements for d.
func (m Migration) text(d Dialect) string {
	switch {
	case d == SQLite && m.SQLite != "":
		return m.SQLite
	case d == Postgres && m.Postgres != "":
		return m.Postgres
	}
	return m.SQL
}

// Component is the schema of one part of Vigil ("auth", "content"):
// Migrations[i] takes it from version i to i+1.
type Component struct {
	Name       string
	Migrations []Migration
	// Adopt, when set, tells which version a database already has from
	// before its versions were recorded: it is asked, within the first
	// migration's transaction, only when no version of the component is
	// recorded, and returns 0 for none. Those versions are then recorded
	// as applied without running them.
	Adopt func(ctx context.Context, tx *Tx) (int, error)
}

// The record of applied migrations, one row per component and version;
// applied_at is Unix milliseconds.
var migrationsTable = Migration{
	SQLite: `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT NOT NULL,
		version    INTEGER NOT NULL,
		applied_at INTEGER NOT NULL,
		PRIMARY KEY (component, version)
	) STRICT`,
	Postgres: `CREATE TABLE IF NOT EXISTS schema_migrations (
		component  TEXT NOT NULL,
		version    BIGINT NOT NULL,
		applied_at BIGINT NOT NULL,
		PRIMARY KEY (component, version)
	)`,
}

// Migrate brings c's schema to its newest version, one migration per
// transaction, and records each in schema_migrations. Processes that
// migrate the same database at once apply each migration once. It refuses
// a database that a newer binary migrated further than c knows.
func (db *DB) Migrate(ctx context.Context, c Component) error {
	if c.Name == "" {
		return errors.New("migrate: component has no name")
	}
	if err := db.InTx(ctx, func(tx *Tx) error {
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, migrationsTable.text(db.dialect))
		return err
	}); err != nil {
		return fmt.Errorf("create schema_migrations in %s: %w", db.where, err)
	}
	for {
		done, err := db.step(ctx, c)
		if err != nil {
			return fmt.Errorf("migrate %s schema in %s: %w", c.Name, db.where, err)
		}
		if done {
			return nil
		}
	}
}

// step applies c's next migration, if any, in one transaction; done says
// there was none left.
func (db *DB) step(ctx context.Context, c Component) (done bool, err error) {
	err = db.InTx(ctx, func(tx *Tx) error {
		done = false
		if err := lockMigrations(ctx, tx); err != nil {
			return err
		}
		version, err := recordedVersion(ctx, tx, c.Name)
		if err != nil {
			return err
		}
		if version == 0 && c.Adopt != nil {
			adopted, err := c.Adopt(ctx, tx)
			if err != nil {
				return fmt.Errorf("adopt existing schema: %w", err)
			}
			if adopted > len(c.Migrations) {
				return newerError(adopted, len(c.Migrations))
			}
			if adopted > 0 {
				for v := 1; v <= adopted; v++ {
					if err := record(ctx, tx, c.Name, v); err != nil {
						return err
					}
				}
				return nil // the next step goes on from there
			}
		}
		switch {
		case version > len(c.Migrations):
			return newerError(version, len(c.Migrations))
		case version == len(c.Migrations):
			done = true
			return nil
		}
		next := version + 1
		if _, err := tx.ExecContext(ctx, c.Migrations[version].text(tx.dialect)); err != nil {
			return fmt.Errorf("version %d: %w", next, err)
		}
		return record(ctx, tx, c.Name, next)
	})
	return done, err
}

func newerError(have, know int) error {
	return fmt.Errorf("schema version %d is newer than this binary's %d: upgrade vigil", have, know)
}

// lockMigrations makes concurrent migrations of one database take turns:
// on PostgreSQL a transaction-scoped advisory lock, keyed by the schema
// the tables go to; SQLite's write transactions already hold the file.
func lockMigrations(ctx context.Context, tx *Tx) error {
	if tx.dialect != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('vigil schema_migrations ' || current_schema()))`)
	return err
}

// recordedVersion returns the highest version of component recorded, 0
// for none.
func recordedVersion(ctx context.Context, tx *Tx, component string) (int, error) {
	var v sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT max(version) FROM schema_migrations WHERE component = ?`, component).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

func record(ctx context.Context, tx *Tx, component string, version int) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (component, version, applied_at) VALUES (?, ?, ?)`,
		component, int64(version), time.Now().UnixMilli()); err != nil {
		return fmt.Errorf("record version %d: %w", version, err)
	}
	return nil
}

// Versions returns the recorded versions of every component, highest
// applied of each, for status pages and tests.
func (db *DB) Versions(ctx context.Context) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, `SELECT component, max(version) FROM schema_migrations GROUP BY component`)
	if err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var (
			name string
			v    int64
		)
		if err := rows.Scan(&name, &v); err != nil {
			return nil, fmt.Errorf("read schema versions: %w", err)
		}
		out[name] = int(v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema versions: %w", err)
	}
	return out, nil
}
