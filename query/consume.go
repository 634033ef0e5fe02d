package query

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/schema"
)

// Group is the consumer group of the log that feeds the store.
const Group = "store"

// Defaults of the store group's consume loop, for the zero values of its
// eventlog.ConsumerConfig: stores write big batches much faster per
// event.
const (
	DefaultBatchSize  = 10_000
	DefaultLinger     = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// consumerDefaults fills the zero values of the store group's loop.
func consumerDefaults(c eventlog.ConsumerConfig) eventlog.ConsumerConfig {
	c.Group = Group
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Linger <= 0 {
		c.Linger = DefaultLinger
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = DefaultMaxBackoff
	}
	return c
}

// NewConsumer returns the store group's consumer of l: it writes every
// batch of records to w and moves the group past the batch only once w
// stored it. metrics may be nil.
func NewConsumer(l eventlog.Log, w Writer, cfg eventlog.ConsumerConfig, logger *slog.Logger, metrics *eventlog.Metrics) *eventlog.Consumer {
	return eventlog.NewConsumer(l, consumerDefaults(cfg), NewWriterHandler(w), logger, metrics)
}

// NewWriterHandler returns the store group's handler: it reads the
// events of a batch of records, Vigil's own wire form read back as
// trusted input, and writes them to w.
func NewWriterHandler(w Writer) eventlog.Handler {
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
