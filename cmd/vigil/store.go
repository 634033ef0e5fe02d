package main

import (
	"context"
	"log/slog"
	"path/filepath"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
)

const (
	storeGroup = query.Group
	duckDBName = "events.duckdb"
)

// openStore opens the configured query store.
func openStore(ctx context.Context, cfg Config) (query.Store, error) {
	if c := cfg.Store.ClickHouse; c != nil {
		return chstore.Open(ctx, *c)
	}
	return duckstore.Open(filepath.Join(cfg.DataDir, duckDBName))
}

// newStoreConsumer runs the store group of the log.
func newStoreConsumer(l eventlog.Log, w query.Writer, logger *slog.Logger, m *eventlog.Metrics) *eventlog.Consumer {
	return query.NewConsumer(l, w, query.ConsumerConfig{}, logger.With("component", "store"), m)
}

// runRetention runs the store's expiry until ctx is done. Stores without
// retention need nothing.
func runRetention(ctx context.Context, s query.Store, logger *slog.Logger) error {
	e, ok := s.(query.Expirer)
	if !ok {
		return nil
	}
	return query.NewExpiry(e, query.ExpiryConfig{}, logger).Run(ctx)
}
