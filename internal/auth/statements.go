package auth

import (
	"context"
	"database/sql"
)

// execer and querier are what the store's statements run on: the
// database or a transaction (*metadb.DB, *metadb.Tx).
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// rowScanner is a *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(...any) error }

// execOne runs a statement that must change a row; changing none is the
// error none (ErrNotFound, ErrExists, ErrRefused, ...).
func execOne(ctx context.Context, e execer, none error, query string, args ...any) error {
	res, err := e.ExecContext(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return none
	}
	return nil
}

// execEach runs each of queries with the same args, in order.
func execEach(ctx context.Context, e execer, queries []string, args ...any) error {
	for _, q := range queries {
		if _, err := e.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// queryAll runs query and returns its rows as scan reads them; no rows
// is an empty slice, not nil, so that JSON shows [].
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}
