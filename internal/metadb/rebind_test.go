package metadb

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestRebind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "None", in: `SELECT 1`, want: `SELECT 1`},
		{name: "Plain", in: `INSERT INTO t (a, b) VALUES (?, ?)`, want: `INSERT INTO t (a, b) VALUES ($1, $2)`},
		{name: "Numbered", in: `SELECT a FROM t WHERE h = ?1 UNION ALL SELECT b FROM u WHERE h = ?1`, want: `SELECT a FROM t WHERE h = $1 UNION ALL SELECT b FROM u WHERE h = $1`},
		{name: "NumberedOutOfOrder", in: `UPDATE t SET a = ?2 WHERE id = ?1`, want: `UPDATE t SET a = $2 WHERE id = $1`},
		{name: "PlainAfterNumbered", in: `SELECT ?3, ?`, want: `SELECT $3, $4`},
		{name: "InString", in: `SELECT '?', 'it''s ?', ? FROM t`, want: `SELECT '?', 'it''s ?', $1 FROM t`},
		{name: "InIdentifier", in: `SELECT "a?""b" FROM t WHERE x = ?`, want: `SELECT "a?""b" FROM t WHERE x = $1`},
		{name: "LineComment", in: "SELECT ? -- why?\n, ?", want: "SELECT $1 -- why?\n, $2"},
		{name: "BlockComment", in: `SELECT /* ? */ ?`, want: `SELECT /* ? */ $1`},
		{name: "DollarQuoted", in: `SELECT $$?$$, $tag$ ? $tag$, ?`, want: `SELECT $$?$$, $tag$ ? $tag$, $1`},
		{name: "UnterminatedString", in: `SELECT ?, '?`, want: `SELECT $1, '?`},
		{name: "Dollar", in: `SELECT $1x, ?`, want: `SELECT $1x, $1`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Rebind(Postgres, tt.in); got != tt.want {
				t.Errorf("Rebind(Postgres, %q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := Rebind(SQLite, tt.in); got != tt.in {
				t.Errorf("Rebind(SQLite, %q) = %q, want it unchanged", tt.in, got)
			}
		})
	}
}

// FuzzRebind checks that rebinding never loses or invents text: only
// question marks (and the digits after them) change.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{`SELECT ?`, `'?' ?1 "?" -- ?` + "\n?", `$a$?$a$ /* ? */ ?`, `?12345678901234567890`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := Rebind(Postgres, q)
		strip := func(s string, mark byte) string {
			var b strings.Builder
			for i := 0; i < len(s); i++ {
				if s[i] == mark {
					for i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9' {
						i++
					}
					continue
				}
				b.WriteByte(s[i])
			}
			return b.String()
		}
		// Placeholders became $N and nothing else changed, so removing
		// every ?N and $N from both sides leaves the same text.
		if a, b := strip(strip(q, '?'), '$'), strip(strip(got, '?'), '$'); a != b {
			t.Errorf("Rebind(%q) = %q: text other than placeholders changed", q, got)
		}
		if strings.Count(got, "?") > strings.Count(q, "?") {
			t.Errorf("Rebind(%q) = %q added question marks", q, got)
		}
	})
}

// TestInTx_Retries checks the retry loop: a retryable error is tried
// again with growing waits up to the bound; another error is not.
func TestInTx_Retries(t *testing.T) {
	db, err := OpenSQLite(t.TempDir() + "/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	serialization := &pgconn.PgError{Code: "40001"}
	deadlock := &pgconn.PgError{Code: "40P01"}
	other := errors.New("boom")

	tests := []struct {
		name      string
		fails     []error // what fn returns on successive attempts; nil after
		wantCalls int
		wantErr   error
	}{
		{name: "FirstTime", wantCalls: 1},
		{name: "AfterConflicts", fails: []error{serialization, deadlock, serialization}, wantCalls: 4},
		{name: "OtherError", fails: []error{other}, wantCalls: 1, wantErr: other},
		{name: "ConflictThenOther", fails: []error{deadlock, other}, wantCalls: 2, wantErr: other},
		{name: "GivesUp", fails: repeat(serialization, maxAttempts+3), wantCalls: maxAttempts, wantErr: serialization},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			var waits []time.Duration
			wait := func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}
			err := db.inTx(ctx, func(*Tx) error {
				calls++
				if calls <= len(tt.fails) {
					return tt.fails[calls-1]
				}
				return nil
			}, wait)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("InTx = %v, want %v", err, tt.wantErr)
			}
			if calls != tt.wantCalls {
				t.Errorf("fn ran %d times, want %d", calls, tt.wantCalls)
			}
			if len(waits) != max(tt.wantCalls-1, 0) && tt.wantErr != other {
				t.Errorf("waited %d times, want %d", len(waits), tt.wantCalls-1)
			}
			for i, w := range waits {
				ceiling := min(firstBackoff<<i, maxBackoff)
				if w < ceiling/2 || w >= ceiling {
					t.Errorf("wait %d = %v, want in [%v, %v)", i, w, ceiling/2, ceiling)
				}
			}
		})
	}
}

// TestInTx_CanceledWhileWaiting checks that a done context ends the
// retries with the error that caused them.
func TestInTx_CanceledWhileWaiting(t *testing.T) {
	db, err := OpenSQLite(t.TempDir() + "/x.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	conflict := &pgconn.PgError{Code: "40001"}
	calls := 0
	err = db.InTx(ctx, func(*Tx) error {
		calls++
		cancel()
		return conflict
	})
	if !errors.Is(err, conflict) || calls != 1 {
		t.Errorf("InTx = %v after %d calls, want the conflict after 1", err, calls)
	}
}

func repeat(err error, n int) []error {
	out := make([]error, n)
	for i := range out {
		out[i] = err
	}
	return out
}
