package main

import (
	"context"
	"path/filepath"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
)

// duckDBName is the DuckDB store's file in the data directory.
const duckDBName = "events.duckdb"

// openStore opens the configured query store.
func openStore(ctx context.Context, cfg Config) (query.Store, error) {
	if c := cfg.Store.ClickHouse; c != nil {
		return chstore.New(*c)
	}
	return duckstore.Open(filepath.Join(cfg.DataDir, duckDBName))
}
