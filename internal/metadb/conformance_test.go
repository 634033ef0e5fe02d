package metadb_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// things is a table of the portable subset: an identity id, text, a
// big integer, bytes and a boolean.
var things = metadb.Migration{
	SQLite: `CREATE TABLE things (
		id    INTEGER PRIMARY KEY AUTOINCREMENT,
		name  TEXT NOT NULL UNIQUE,
		n     INTEGER NOT NULL,
		data  BLOB,
		flag  INTEGER NOT NULL DEFAULT 0,
		owner TEXT REFERENCES owners (name)
	) STRICT;
	CREATE TABLE owners (name TEXT PRIMARY KEY) STRICT;`,
	Postgres: `CREATE TABLE owners (name TEXT PRIMARY KEY);
	CREATE TABLE things (
		id    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		name  TEXT NOT NULL UNIQUE,
		n     BIGINT NOT NULL,
		data  BYTEA,
		flag  BOOLEAN NOT NULL DEFAULT FALSE,
		owner TEXT REFERENCES owners (name)
	);`,
}

// open returns a fresh database with the things table.
func open(t *testing.T, b metadbtest.Backend) *metadb.DB {
	t.Helper()
	db := b.New(t).Open(t)
	if err := db.Migrate(context.Background(), metadb.Component{Name: "test", Migrations: []metadb.Migration{things}}); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestPortableTypes checks that each type of the portable subset comes
// back as it went in, and that ids grow in insertion order.
func TestPortableTypes(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := open(t, b)
		ctx := context.Background()
		type thing struct {
			ID   int64
			Name string
			N    int64
			Data []byte
			Flag bool
		}
		in := []thing{
			{Name: "big", N: 1 << 53, Data: []byte{0, 1, 0xff, 0}, Flag: true},
			{Name: "negative", N: -(1 << 40), Data: []byte{}, Flag: false},
			{Name: "no data", N: 0},
		}
		for i := range in {
			err := db.QueryRowContext(ctx, `INSERT INTO things (name, n, data, flag) VALUES (?, ?, ?, ?) RETURNING id`,
				in[i].Name, in[i].N, in[i].Data, in[i].Flag).Scan(&in[i].ID)
			if err != nil {
				t.Fatal(err)
			}
		}
		rows, err := db.QueryContext(ctx, `SELECT id, name, n, data, flag FROM things ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []thing
		for rows.Next() {
			var th thing
			if err := rows.Scan(&th.ID, &th.Name, &th.N, &th.Data, &th.Flag); err != nil {
				t.Fatal(err)
			}
			got = append(got, th)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		// A nil []byte is NULL; an empty one may come back either way.
		eqBytes := cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })
		if diff := cmp.Diff(in, got, eqBytes); diff != "" {
			t.Errorf("things (-want +got):\n%s", diff)
		}
		if !(got[0].ID < got[1].ID && got[1].ID < got[2].ID) {
			t.Errorf("ids %d, %d, %d do not grow in insertion order", got[0].ID, got[1].ID, got[2].ID)
		}
		var n int64
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM things WHERE flag = TRUE`).Scan(&n); err != nil || n != 1 {
			t.Errorf("things with flag TRUE: %d, %v; want 1", n, err)
		}
	})
}

// TestPlaceholders checks numbered and repeated placeholders, and
// question marks in literals, on the database itself.
func TestPlaceholders(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := open(t, b)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO things (name, n) VALUES (?2, ?1), (?2 || '?', ?1)`, int64(7), "a"); err != nil {
			t.Fatal(err)
		}
		var names []string
		rows, err := db.QueryContext(ctx, `SELECT name FROM things WHERE n = ?1 AND (name = ?2 OR name = ?2 || '?') ORDER BY name`, int64(7), "a")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			names = append(names, s)
		}
		if diff := cmp.Diff([]string{"a", "a?"}, names); diff != "" {
			t.Errorf("names (-want +got):\n%s", diff)
		}
	})
}

// TestInTx checks commit, rollback on fn's error (returned as it is) and
// on a statement's.
func TestInTx(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := open(t, b)
		ctx := context.Background()
		insert := func(tx *metadb.Tx, name string) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO things (name, n) VALUES (?, 1)`, name)
			return err
		}
		if err := db.InTx(ctx, func(tx *metadb.Tx) error { return insert(tx, "kept") }); err != nil {
			t.Fatal(err)
		}
		boom := errors.New("boom")
		if err := db.InTx(ctx, func(tx *metadb.Tx) error {
			if err := insert(tx, "rolled back"); err != nil {
				return err
			}
			return boom
		}); err != boom {
			t.Errorf("InTx = %v, want fn's error as it is", err)
		}
		err := db.InTx(ctx, func(tx *metadb.Tx) error {
			if err := insert(tx, "rolled back too"); err != nil {
				return err
			}
			return insert(tx, "kept") // taken
		})
		if !metadb.IsUniqueViolation(err) {
			t.Errorf("InTx with a taken name = %v, want a unique violation", err)
		}
		var names []string
		rows, err := db.QueryContext(ctx, `SELECT name FROM things`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			names = append(names, s)
		}
		if diff := cmp.Diff([]string{"kept"}, names); diff != "" {
			t.Errorf("rows after the transactions (-want +got):\n%s", diff)
		}
	})
}

// TestClassifiers checks each classifier against the database's own
// error, and that it says no to the others.
func TestClassifiers(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		db := open(t, b)
		ctx := context.Background()
		if _, err := db.ExecContext(ctx, `INSERT INTO things (name, n) VALUES ('a', 1)`); err != nil {
			t.Fatal(err)
		}
		exec := func(q string) error {
			_, err := db.ExecContext(ctx, q)
			return err
		}
		classifiers := map[string]func(error) bool{
			"unique":      metadb.IsUniqueViolation,
			"foreign key": metadb.IsForeignKeyViolation,
			"not null":    metadb.IsNotNullViolation,
			"retryable":   metadb.IsRetryable,
		}
		tests := []struct {
			name string
			err  error
			want string // the one classifier that says yes; "" for none
		}{
			{name: "UniqueColumn", err: exec(`INSERT INTO things (name, n) VALUES ('a', 2)`), want: "unique"},
			{name: "PrimaryKey", err: exec(`INSERT INTO owners (name) VALUES ('o'), ('o')`), want: "unique"},
			{name: "ForeignKey", err: exec(`INSERT INTO things (name, n, owner) VALUES ('b', 1, 'nobody')`), want: "foreign key"},
			{name: "NotNull", err: exec(`INSERT INTO things (name) VALUES ('c')`), want: "not null"},
			{name: "Syntax", err: exec(`INSERT INTO nowhere VALUES (1)`)},
			{name: "Wrapped", err: fmt.Errorf("add: %w", exec(`INSERT INTO things (name, n) VALUES ('a', 3)`)), want: "unique"},
			{name: "Nil", err: nil},
		}
		for _, tt := range tests {
			if tt.name != "Nil" && tt.err == nil {
				t.Errorf("%s: the statement succeeded", tt.name)
				continue
			}
			for name, is := range classifiers {
				if got := is(tt.err); got != (name == tt.want) {
					t.Errorf("%s: %s classifier says %v for %v", tt.name, name, got, tt.err)
				}
			}
		}
	})
}

// TestInTx_Contention has transactions of two handles on one database
// increment counters at once, reading them with ForUpdate: no update is
// lost.
func TestInTx_Contention(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		t.Parallel()
		d := b.New(t)
		dbs := []*metadb.DB{d.Open(t), d.Open(t)}
		ctx := context.Background()
		if err := dbs[0].Migrate(ctx, metadb.Component{Name: "test", Migrations: []metadb.Migration{things}}); err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[0].ExecContext(ctx, `INSERT INTO things (name, n) VALUES ('x', 0), ('y', 0)`); err != nil {
			t.Fatal(err)
		}
		const each = 10
		var wg sync.WaitGroup
		errs := make(chan error, 2*each)
		for i := range 2 * each {
			db := dbs[i%2]
			wg.Go(func() {
				errs <- db.InTx(ctx, func(tx *metadb.Tx) error {
					return increment(ctx, tx, "x", "y")
				})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if x, y := counters(t, dbs[1]); x != 2*each || y != 2*each {
			t.Errorf("counters x = %d, y = %d; want %d each", x, y, 2*each)
		}
	})
}

// TestInTx_Deadlock has two PostgreSQL transactions lock two rows in
// opposite orders: the server aborts one (40P01), InTx runs it again, and
// both commit. (SQLite's write transactions take the whole file when they
// begin, so they cannot deadlock.)
func TestInTx_Deadlock(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		if b.Dialect != metadb.Postgres {
			t.Skip("SQLite transactions cannot deadlock")
		}
		t.Parallel()
		d := b.New(t)
		dbs := []*metadb.DB{d.Open(t), d.Open(t)}
		ctx := context.Background()
		if err := dbs[0].Migrate(ctx, metadb.Component{Name: "test", Migrations: []metadb.Migration{things}}); err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[0].ExecContext(ctx, `INSERT INTO things (name, n) VALUES ('x', 0), ('y', 0)`); err != nil {
			t.Fatal(err)
		}
		var (
			both     sync.WaitGroup // each first attempt holds its first row
			attempts [2]int
			errs     [2]error
			wg       sync.WaitGroup
		)
		both.Add(2)
		for i, order := range [][2]string{{"x", "y"}, {"y", "x"}} {
			wg.Go(func() {
				errs[i] = dbs[i].InTx(ctx, func(tx *metadb.Tx) error {
					attempts[i]++
					if err := increment(ctx, tx, order[0]); err != nil {
						return err
					}
					if attempts[i] == 1 {
						both.Done()
						both.Wait()
					}
					return increment(ctx, tx, order[1])
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("transaction %d: %v", i, err)
			}
		}
		if attempts[0]+attempts[1] < 3 {
			t.Errorf("attempts %v: neither transaction was retried, so none deadlocked", attempts)
		}
		if x, y := counters(t, dbs[1]); x != 2 || y != 2 {
			t.Errorf("counters x = %d, y = %d; want 2 each", x, y)
		}
	})
}

// increment adds one to each named counter, reading it for update.
func increment(ctx context.Context, tx *metadb.Tx, names ...string) error {
	for _, name := range names {
		var n int64
		if err := tx.QueryRowContext(ctx, `SELECT n FROM things WHERE name = ?`+tx.Dialect().ForUpdate(), name).Scan(&n); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE things SET n = ? WHERE name = ?`, n+1, name); err != nil {
			return err
		}
	}
	return nil
}

func counters(t *testing.T, db *metadb.DB) (x, y int64) {
	t.Helper()
	if err := db.QueryRowContext(context.Background(), `SELECT (SELECT n FROM things WHERE name = 'x'), (SELECT n FROM things WHERE name = 'y')`).Scan(&x, &y); err != nil {
		t.Fatal(err)
	}
	return x, y
}

// TestOpenPostgres_BadDSN checks that a DSN that does not parse is
// refused without being quoted: it may hold a password.
func TestOpenPostgres_BadDSN(t *testing.T) {
	for _, dsn := range []string{"postgres://vigil:s3cret@host:notaport/db", "host=h password=s3cret port=x"} {
		_, err := metadb.OpenPostgres(dsn)
		if err == nil {
			t.Errorf("OpenPostgres accepted %q", dsn)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("OpenPostgres error quotes the password: %v", err)
		}
	}
}

// TestString checks that a PostgreSQL database is named by host and
// database alone.
func TestString(t *testing.T) {
	db, err := metadb.OpenPostgres("postgres://vigil:s3cret@db.example.com:5433/meta?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got, want := db.String(), "postgres db.example.com:5433/meta"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if db.Dialect() != metadb.Postgres {
		t.Errorf("Dialect() = %v", db.Dialect())
	}
}
