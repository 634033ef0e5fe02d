// Package metadb is Vigil's one metadata database: the credential store's
// tables and, later, the content API's, in embedded SQLite (the default, a
// file in the data directory) or in PostgreSQL.
//
// One code path serves both. Query text is written once with ? (or ?N)
// placeholders; DB and Tx rebind it for PostgreSQL ($1, ...), and callers
// never touch the *sql.DB beneath. InTx runs a transaction and retries it
// when the database asks to (SQLite busy, PostgreSQL serialization
// failures and deadlocks). Migrate applies each component's migrations
// ("auth", "content") and records them in schema_migrations.
//
// The portable subset the components keep to:
//
//   - types: TEXT; integers as INTEGER in SQLite and BIGINT in PostgreSQL
//     (Go int64 either way); bytes as BLOB and BYTEA ([]byte); booleans as
//     INTEGER 0/1 in SQLite (STRICT tables know no BOOLEAN) and BOOLEAN in
//     PostgreSQL (Go bool either way, TRUE and FALSE in SQL); times as Unix
//     milliseconds in an integer column;
//   - ids: INTEGER PRIMARY KEY AUTOINCREMENT and BIGINT GENERATED ALWAYS AS
//     IDENTITY, read back with INSERT ... RETURNING (the PostgreSQL driver
//     has no LastInsertId);
//   - STRICT tables on SQLite;
//   - INSERT ... ON CONFLICT (...) DO NOTHING / DO UPDATE, RETURNING;
//   - no LIKE for case-insensitive matching (SQLite's LIKE ignores ASCII
//     case, PostgreSQL's does not): keep values lower-cased or compare
//     lower(a) = lower(b);
//   - a row read to be updated in the same transaction is read with
//     Dialect.ForUpdate, so that PostgreSQL locks it as SQLite's write
//     transactions lock the whole file.
package metadb
