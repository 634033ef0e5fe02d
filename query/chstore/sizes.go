package chstore

import (
	"context"
	"errors"
	"fmt"
)

// ColumnSize is the space one column of the events table takes on disk.
type ColumnSize struct {
	Name         string
	Type         string
	Compressed   uint64
	Uncompressed uint64
}

// Sizes merges the events table's parts (OPTIMIZE FINAL, which also
// collapses duplicates) and returns its rows and the size of each column,
// in table order, from system.columns. It is for benchmarks: the merge
// rewrites the whole table.
func (s *Store) Sizes(ctx context.Context) (rows uint64, cols []ColumnSize, err error) {
	if err := s.conn.Exec(ctx, "OPTIMIZE TABLE "+s.db+".events FINAL"); err != nil {
		return 0, nil, fmt.Errorf("optimize events: %w", err)
	}
	if err := s.conn.QueryRow(ctx, "SELECT count() FROM "+s.db+".events").Scan(&rows); err != nil {
		return 0, nil, fmt.Errorf("count events: %w", err)
	}
	r, err := s.conn.Query(ctx, "SELECT name, type, data_compressed_bytes, data_uncompressed_bytes FROM system.columns"+
		" WHERE database = ? AND table = 'events'", s.dbName)
	if err != nil {
		return 0, nil, fmt.Errorf("read column sizes: %w", err)
	}
	for r.Next() {
		var c ColumnSize
		if err := r.Scan(&c.Name, &c.Type, &c.Compressed, &c.Uncompressed); err != nil {
			r.Close()
			return 0, nil, fmt.Errorf("read column sizes: %w", err)
		}
		cols = append(cols, c)
	}
	if err := errors.Join(r.Err(), r.Close()); err != nil {
		return 0, nil, fmt.Errorf("read column sizes: %w", err)
	}
	return rows, cols, nil
}

// TableSize is the space one of the store's tables takes on disk.
type TableSize struct {
	Name         string
	Rows         uint64
	Compressed   uint64
	Uncompressed uint64
}

// TableSizes returns the size of every table of the store's database
// (the events table, its index, rollups and dictionary), from
// system.parts' active parts.
func (s *Store) TableSizes(ctx context.Context) ([]TableSize, error) {
	r, err := s.conn.Query(ctx, "SELECT table, sum(rows), sum(data_compressed_bytes), sum(data_uncompressed_bytes) FROM system.parts"+
		" WHERE database = ? AND active GROUP BY table ORDER BY table", s.dbName)
	if err != nil {
		return nil, fmt.Errorf("read table sizes: %w", err)
	}
	var out []TableSize
	for r.Next() {
		var t TableSize
		if err := r.Scan(&t.Name, &t.Rows, &t.Compressed, &t.Uncompressed); err != nil {
			r.Close()
			return nil, fmt.Errorf("read table sizes: %w", err)
		}
		out = append(out, t)
	}
	if err := errors.Join(r.Err(), r.Close()); err != nil {
		return nil, fmt.Errorf("read table sizes: %w", err)
	}
	return out, nil
}

// DropDatabase drops the store's database with every table in it, for a
// benchmark's or a test's throwaway database. The store is unusable after.
func (s *Store) DropDatabase(ctx context.Context) error {
	if err := s.conn.Exec(ctx, "DROP DATABASE IF EXISTS "+s.db); err != nil {
		return fmt.Errorf("drop database %s: %w", s.dbName, err)
	}
	return nil
}
