package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/schema"
)

const (
	storeGroup      = "store"
	duckDBName      = "events.duckdb"
	storeBatch      = 10_000
	storeLinger     = 500 * time.Millisecond
	storeMaxBackoff = 30 * time.Second
)

// openStore opens the configured query store.
func openStore(ctx context.Context, cfg Config) (query.Store, error) {
	if c := cfg.Store.ClickHouse; c != nil {
		return chstore.Open(ctx, *c)
	}
	return duckstore.Open(filepath.Join(cfg.DataDir, duckDBName))
}

// storeHandler writes the records of the log's store group to the store.
// The records are Vigil's own wire form, read back as trusted input.
func storeHandler(w query.Writer) eventlog.Handler {
	n := schema.NewNormalizer(schema.Limits{MaxStringLen: 1 << 20, MaxExtraBytes: 1 << 20})
	return func(ctx context.Context, batch []eventlog.Record) error {
		events := make([]*schema.Event, 0, len(batch))
		for _, r := range batch {
			e, err := n.Normalize(r.Value, schema.Meta{Trusted: true})
			if err != nil {
				// The log holds only events ingest accepted; one that no
				// longer reads is a bug, not a reason to stop the store.
				return fmt.Errorf("read record %d:%d (%s): %w", r.Partition, r.Offset, r.ID, err)
			}
			events = append(events, e)
		}
		return w.Write(ctx, events)
	}
}

// newStoreConsumer runs the store group of the log.
func newStoreConsumer(l eventlog.Log, w query.Writer, logger *slog.Logger, m *eventlog.Metrics) *eventlog.Consumer {
	return eventlog.NewConsumer(l, eventlog.ConsumerConfig{
		Group: storeGroup, BatchSize: storeBatch, Linger: storeLinger, MaxBackoff: storeMaxBackoff,
	}, storeHandler(w), logger.With("component", "store"), m)
}

// retentionPeriod is how often expired partitions are looked for.
const retentionPeriod = time.Hour

// expirer is a store that drops what is past its retention.
type expirer interface {
	DropExpired(ctx context.Context, now time.Time) (int, error)
}

// runRetention drops expired partitions now and every retentionPeriod,
// until ctx is done. Stores without retention need nothing.
func runRetention(ctx context.Context, s query.Store, logger *slog.Logger) error {
	e, ok := s.(expirer)
	if !ok {
		return nil
	}
	t := time.NewTicker(retentionPeriod)
	defer t.Stop()
	for {
		n, err := e.DropExpired(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("drop expired events", "err", err)
		case n > 0:
			logger.Info("dropped expired partitions", "partitions", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
