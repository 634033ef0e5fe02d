package query

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

// Group is the consumer group of the log that feeds the store.
const Group = "store"

// ConsumerConfig tunes the store group's consume loop. Zero values are
// the defaults.
type ConsumerConfig struct {
	// BatchSize is the most events one Write takes (default 10000):
	// stores write big batches much faster per event.
	BatchSize int `yaml:"batch_size"`
	// Linger is how long to wait for more events once one is there
	// (default 500ms).
	Linger time.Duration `yaml:"linger"`
	// MaxBackoff bounds the wait between retries of a failed Write
	// (default 30s).
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Validate checks that no setting is negative.
func (c ConsumerConfig) Validate() error {
	var p config.Problems
	p.NotNegative("batch_size", int64(c.BatchSize))
	p.NotNegative("linger", int64(c.Linger))
	p.NotNegative("max_backoff", int64(c.MaxBackoff))
	return p.Err()
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 10_000
	}
	if c.Linger <= 0 {
		c.Linger = 500 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 30 * time.Second
	}
	return c
}

// NewConsumer returns the store group's consumer of l: it writes every
// batch of records to w and moves the group past the batch only once w
// stored it. metrics may be nil.
func NewConsumer(l eventlog.Log, w Writer, cfg ConsumerConfig, logger *slog.Logger, metrics *eventlog.Metrics) *eventlog.Consumer {
	cfg = cfg.withDefaults()
	return eventlog.NewConsumer(l, eventlog.ConsumerConfig{
		Group: Group, BatchSize: cfg.BatchSize, Linger: cfg.Linger, MaxBackoff: cfg.MaxBackoff,
	}, NewWriterHandler(w), logger, metrics)
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
