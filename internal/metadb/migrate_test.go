package metadb_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

var (
	v1 = metadb.Migration{SQL: `CREATE TABLE a (x TEXT PRIMARY KEY)`}
	v2 = metadb.Migration{SQL: `CREATE TABLE b (y TEXT PRIMARY KEY); INSERT INTO a (x) VALUES ('from v2')`}
	// broken fails halfway: its first statement must not stay.
	broken = metadb.Migration{SQL: `CREATE TABLE c (z TEXT); INSERT INTO nowhere VALUES (1)`}
)

func versions(t *testing.T, db *metadb.DB) map[string]int {
	t.Helper()
	v, err := db.Versions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func hasTable(t *testing.T, db *metadb.DB, name string) bool {
	t.Helper()
	_, err := db.ExecContext(context.Background(), `SELECT 1 FROM `+name+` LIMIT 1`)
	return err == nil
}

// TestMigrate_RecordsAndResumes checks that each migration is applied
// once, in order, recorded per component, and that a binary with more
// migrations goes on from the recorded version.
func TestMigrate_RecordsAndResumes(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		d := b.New(t)
		db := d.Open(t)
		ctx := context.Background()
		if err := db.Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1}}); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx, metadb.Component{Name: "two", Migrations: []metadb.Migration{{SQL: `CREATE TABLE other (v TEXT)`}}}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]int{"one": 1, "two": 1}, versions(t, db)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		// A newer binary, in another process: v1 is not run again (it
		// would fail: the table exists), v2 is.
		for range 2 {
			if err := d.Open(t).Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1, v2}}); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(map[string]int{"one": 2, "two": 1}, versions(t, db)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows v2 inserted: %d, %v; want 1 (applied once)", n, err)
		}
		var applied int64
		if err := db.QueryRowContext(ctx, `SELECT min(applied_at) FROM schema_migrations`).Scan(&applied); err != nil || applied <= 0 {
			t.Errorf("applied_at = %d, %v; want a time", applied, err)
		}
	})
}

// TestMigrate_NewerDatabase checks that a binary refuses a database that
// a newer one migrated further.
func TestMigrate_NewerDatabase(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := b.New(t).Open(t)
		ctx := context.Background()
		if err := db.Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1, v2}}); err != nil {
			t.Fatal(err)
		}
		err := db.Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1}})
		if err == nil || !strings.Contains(err.Error(), "schema version 2 is newer than this binary's 1") {
			t.Errorf("Migrate of a newer database = %v, want a refusal", err)
		}
	})
}

// TestMigrate_FailureRollsBack checks that a failing migration leaves
// nothing behind, not even its first statements, and is not recorded.
func TestMigrate_FailureRollsBack(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := b.New(t).Open(t)
		ctx := context.Background()
		err := db.Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1, broken}})
		if err == nil || !strings.Contains(err.Error(), "migrate one schema") || !strings.Contains(err.Error(), "version 2") {
			t.Fatalf("Migrate = %v, want an error naming the component and version 2", err)
		}
		if diff := cmp.Diff(map[string]int{"one": 1}, versions(t, db)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		if !hasTable(t, db, "a") || hasTable(t, db, "c") {
			t.Errorf("tables a, c exist: %v, %v; want v1's only", hasTable(t, db, "a"), hasTable(t, db, "c"))
		}
	})
}

// TestMigrate_Concurrent has several processes migrate one fresh
// database at once: each migration runs once.
func TestMigrate_Concurrent(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		d := b.New(t)
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			db := d.Open(t)
			wg.Go(func() {
				errs[i] = db.Migrate(ctx, metadb.Component{Name: "one", Migrations: []metadb.Migration{v1, v2}})
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		db := d.Open(t)
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
			t.Errorf("rows v2 inserted: %d, %v; want 1", n, err)
		}
	})
}

// TestMigrate_Adopt checks that versions an existing database already has
// are recorded without being run, and that Adopt is asked only while none
// is recorded.
func TestMigrate_Adopt(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := b.New(t).Open(t)
		ctx := context.Background()
		// The database as an earlier binary left it: v1's table, no record.
		if _, err := db.ExecContext(ctx, v1.SQL); err != nil {
			t.Fatal(err)
		}
		asked := 0
		c := metadb.Component{Name: "one", Migrations: []metadb.Migration{v1, v2}, Adopt: func(ctx context.Context, tx *metadb.Tx) (int, error) {
			asked++
			if tx.Dialect() != db.Dialect() {
				t.Errorf("Adopt's transaction is %v, want %v", tx.Dialect(), db.Dialect())
			}
			return 1, nil
		}}
		for range 2 {
			if err := db.Migrate(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if asked != 1 {
			t.Errorf("Adopt asked %d times, want once", asked)
		}
		if diff := cmp.Diff(map[string]int{"one": 2}, versions(t, db)); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		// Adopting more than the binary knows is refused, recording nothing.
		other := metadb.Component{Name: "other", Migrations: []metadb.Migration{v1}, Adopt: func(context.Context, *metadb.Tx) (int, error) { return 5, nil }}
		if err := db.Migrate(ctx, other); err == nil || !strings.Contains(err.Error(), "schema version 5 is newer") {
			t.Errorf("Migrate adopting version 5 = %v, want a refusal", err)
		}
		if _, ok := versions(t, db)["other"]; ok {
			t.Error("a refused adoption was recorded")
		}
	})
}
