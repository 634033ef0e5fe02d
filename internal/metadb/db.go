package metadb

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the pure Go SQLite driver, registered as "sqlite"
)

// Dialect is the kind of database beneath a DB.
type Dialect int

// The dialects.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// ForUpdate is what ends a SELECT of rows that the transaction will
// update: " FOR UPDATE" on PostgreSQL, which then locks them until the
// transaction ends; nothing on SQLite, whose write transactions hold the
// whole database.
func (d Dialect) ForUpdate() string {
	if d == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// BusyTimeout is how long a SQLite statement waits for another connection
// or process to release the database before failing.
const BusyTimeout = 5 * time.Second

// DB is the metadata database. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect Dialect
	// where says which database this is, for logs and errors: a file
	// path, or PostgreSQL's host and database name (never the DSN, which
	// may hold a password).
	where string
}

// OpenSQLite opens the SQLite file at path, creating it (mode 0600) if
// needed; the directory must exist. Commits are durable (WAL, synchronous
// FULL), foreign keys are enforced, and write transactions take the write
// lock when they begin, so that two of them never deadlock upgrading read
// locks. Several processes may open the same file.
func OpenSQLite(path string) (*DB, error) {
	// Create the file ourselves so that it is private from the start;
	// SQLite gives the -wal and -shm files the same mode.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	_ = f.Close() // nothing was written
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open metadata database: %w", err)
	}
	q := url.Values{}
	q.Set("_busy_timeout", strconv.FormatInt(BusyTimeout.Milliseconds(), 10))
	q.Set("_journal_mode", "WAL")
	// FULL: a committed revocation survives a power loss.
	q.Set("_synchronous", "FULL")
	q.Set("_foreign_keys", "1")
	q.Set("_txlock", "immediate")
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open metadata database %s: %w", path, err)
	}
	return &DB{db: db, dialect: SQLite, where: path}, nil
}

// OpenPostgres returns the PostgreSQL database that dsn names, a URL
// (postgres://user:password@host:5432/db?sslmode=verify-full) or
// key=value pairs, as libpq takes them. It makes no connection yet: the
// first statement (Ping, Migrate) connects.
func OpenPostgres(dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open metadata database: %w", errDSN)
	}
	db := stdlib.OpenDB(*cfg)
	return &DB{db: db, dialect: Postgres, where: describe(cfg)}, nil
}

// describe names a PostgreSQL database for logs: host, port and database,
// never the user or password.
func describe(cfg *pgx.ConnConfig) string {
	host := cfg.Host
	if cfg.Port != 0 && !filepath.IsAbs(host) {
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	}
	return "postgres " + host + "/" + cfg.Database
}

// Dialect says which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// String names the database for logs: its file, or PostgreSQL's host and
// database; never a password.
func (db *DB) String() string { return db.where }

// Close closes the database.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("close metadata database: %w", err)
	}
	return nil
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", db.where, err)
	}
	return nil
}

// ExecContext runs a statement that returns no rows; query's placeholders
// are rebound for the dialect.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.db.ExecContext(ctx, Rebind(db.dialect, query), args...)
}

// QueryContext runs a query; its placeholders are rebound for the dialect.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.db.QueryContext(ctx, Rebind(db.dialect, query), args...)
}

// QueryRowContext runs a query that returns at most one row; its
// placeholders are rebound for the dialect.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return db.db.QueryRowContext(ctx, Rebind(db.dialect, query), args...)
}

// Tx is a transaction of InTx.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
}

// Dialect says which database this is.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

// ExecContext runs a statement that returns no rows; query's placeholders
// are rebound for the dialect.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, Rebind(tx.dialect, query), args...)
}

// QueryContext runs a query; its placeholders are rebound for the dialect.
func (tx *Tx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, Rebind(tx.dialect, query), args...)
}

// QueryRowContext runs a query that returns at most one row; its
// placeholders are rebound for the dialect.
func (tx *Tx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, Rebind(tx.dialect, query), args...)
}
