package localdb

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db, err := Open(path, `CREATE TABLE IF NOT EXISTS t (v TEXT)`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal mode %q, %v; want wal", mode, err)
	}
	db.Close()
	// Opening again keeps the data; the DDL is idempotent.
	db, err = Open(path, `CREATE TABLE IF NOT EXISTS t (v TEXT)`)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != 1 {
		t.Errorf("rows %d, %v; want 1", n, err)
	}
	if _, err := Open(path, `CREATE TABLE broken (`); err == nil || !strings.Contains(err.Error(), "set up") {
		t.Errorf("bad DDL: %v, want a set-up error", err)
	}
}
