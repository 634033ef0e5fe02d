// Package metadbtest runs tests against every kind of metadata database:
// SQLite always, PostgreSQL when the environment variable
// VIGIL_TEST_POSTGRES holds the DSN of a database in which the tests may
// create schemas. Each test gets a fresh, empty database of its own (a
// file, or a schema), so tests do not see each other's rows and may run
// in parallel.
package metadbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx", for the admin connection that makes and drops schemas

	"github.com/vigilaudit/vigil/internal/metadb"
)

// PostgresEnv names the environment variable with the PostgreSQL DSN.
const PostgresEnv = "VIGIL_TEST_POSTGRES"

// Backend is one kind of database.
type Backend struct {
	Dialect metadb.Dialect
	dsn     string // PostgreSQL's, from PostgresEnv
}

// Name is the backend's subtest name: "sqlite" or "postgres".
func (b Backend) Name() string { return b.Dialect.String() }

// Run runs fn as one subtest per backend, named for it. The postgres
// subtest skips, saying so, when PostgresEnv is unset.
func Run(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	for _, d := range []metadb.Dialect{metadb.SQLite, metadb.Postgres} {
		t.Run(d.String(), func(t *testing.T) {
			b := Backend{Dialect: d}
			if d == metadb.Postgres {
				b.dsn = os.Getenv(PostgresEnv)
				if b.dsn == "" {
					t.Skip(PostgresEnv + " is not set: set it to the DSN of a PostgreSQL database the tests may create schemas in")
				}
			}
			fn(t, b)
		})
	}
}

// Database is a fresh, empty database of one backend, removed when the
// test ends.
type Database struct {
	b    Backend
	path string // SQLite's file
	dsn  string // PostgreSQL's, with the test's schema first in search_path
}

// New makes a fresh, empty database.
func (b Backend) New(t testing.TB) *Database {
	t.Helper()
	if b.Dialect == metadb.SQLite {
		return &Database{b: b, path: filepath.Join(t.TempDir(), "meta.db")}
	}
	schema := "vigil_test_" + randomHex(8)
	admin(t, b.dsn, `CREATE SCHEMA `+schema)
	t.Cleanup(func() { admin(t, b.dsn, `DROP SCHEMA `+schema+` CASCADE`) })
	return &Database{b: b, dsn: withSearchPath(t, b.dsn, schema)}
}

// Dialect says which backend the database is on.
func (d *Database) Dialect() metadb.Dialect { return d.b.Dialect }

// Path is the SQLite file, "" on PostgreSQL.
func (d *Database) Path() string { return d.path }

// DSN is PostgreSQL's DSN for the database, "" on SQLite.
func (d *Database) DSN() string { return d.dsn }

// Open opens the database, closed when the test ends. Each call opens it
// again, as another process would.
func (d *Database) Open(t testing.TB) *metadb.DB {
	t.Helper()
	db, err := d.open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func (d *Database) open() (*metadb.DB, error) {
	if d.b.Dialect == metadb.SQLite {
		return metadb.OpenSQLite(d.path)
	}
	return metadb.OpenPostgres(d.dsn)
}

// admin runs one statement on its own short-lived connection.
func admin(t testing.TB, dsn, stmt string) {
	t.Helper()
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

// withSearchPath returns dsn with schema as the connection's search_path,
// so that the test's tables go there.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("%s is not a URL", PostgresEnv)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
