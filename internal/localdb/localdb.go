// Package localdb opens the small SQLite files Vigil keeps beside its
// data (the quarantine, the sinks' dead letter): durable on commit (WAL,
// synchronous FULL), patient with other writers (a busy timeout), and
// with their tables created on first use.
package localdb

import (
	"database/sql"
	"fmt"

	_ "modernc.org/sqlite" // the pure-Go SQLite driver, registered as "sqlite"
)

// Open opens (creating if needed) the SQLite file at path and runs the
// statements of ddl, which must be idempotent (CREATE ... IF NOT EXISTS).
func Open(path string, ddl ...string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=synchronous(FULL)")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	for _, stmt := range ddl {
		if _, err := db.Exec(stmt); err != nil {
			_ = db.Close() // the statement's error is the one to report
			return nil, fmt.Errorf("set up %s: %w", path, err)
		}
	}
	return db, nil
}
