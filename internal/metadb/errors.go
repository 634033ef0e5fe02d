package metadb

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// IsUniqueViolation reports whether err is a database's refusal of a row
// whose key (primary or UNIQUE) another row has.
func IsUniqueViolation(err error) bool {
	return sqliteCode(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY) || pgCode(err, "23505")
}

// IsForeignKeyViolation reports whether err is a database's refusal of a
// row that refers to a missing one, or of deleting a row still referred
// to.
func IsForeignKeyViolation(err error) bool {
	return sqliteCode(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) || pgCode(err, "23503")
}

// IsNotNullViolation reports whether err is a database's refusal of a
// NULL in a NOT NULL column.
func IsNotNullViolation(err error) bool {
	return sqliteCode(err, sqlite3.SQLITE_CONSTRAINT_NOTNULL) || pgCode(err, "23502")
}

// IsRetryable reports whether err says that the transaction lost a race
// and may succeed when tried again: SQLite busy or locked past the busy
// timeout, a PostgreSQL serialization failure (40001) or deadlock
// (40P01). InTx retries these.
func IsRetryable(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
		return false
	}
	return pgCode(err, "40001", "40P01")
}

// sqliteCode reports whether err is a SQLite error with one of the
// extended result codes.
func sqliteCode(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

// pgCode reports whether err is a PostgreSQL error with one of the
// SQLSTATE codes.
func pgCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
