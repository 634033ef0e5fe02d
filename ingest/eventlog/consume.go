package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// Handler processes one batch of records. It returns nil only once its
// side effect is done (the rows are stored, the sink acknowledged); the
// group's position then moves past the batch. On error the same batch is
// handed to it again after a backoff.
type Handler func(ctx context.Context, batch []Record) error

// ConsumerConfig configures one consumer group's loop. Zero values are
// the defaults.
type ConsumerConfig struct {
	// Group names the consumer group: "store", "sink.NAME", "detect".
	// The group's owner sets it; it is not a configuration key.
	Group string `yaml:"-"`
	// BatchSize is the most records handed to the handler at once
	// (default 1000).
	BatchSize int `yaml:"batch_size"`
	// Linger is how long to wait for more records once one is available
	// (default 200ms).
	Linger time.Duration `yaml:"linger"`
	// MinBackoff and MaxBackoff bound the wait between retries of a
	// failed batch (defaults 100ms and 30s); the wait doubles each time,
	// with jitter.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// Validate checks that no setting is negative and the backoffs are in
// order.
func (c ConsumerConfig) Validate() error {
	var p config.Problems
	p.NotNegative("batch_size", int64(c.BatchSize))
	p.NotNegative("linger", int64(c.Linger))
	p.NotNegative("min_backoff", int64(c.MinBackoff))
	p.NotNegative("max_backoff", int64(c.MaxBackoff))
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MaxBackoff < c.MinBackoff {
		p.Add("max_backoff", "must not be shorter than min_backoff")
	}
	return p.Err()
}

func (c ConsumerConfig) withDefaults() ConsumerConfig {
	if c.BatchSize <= 0 {
		c.BatchSize = 1000
	}
	if c.Linger <= 0 {
		c.Linger = 200 * time.Millisecond
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = 100 * time.Millisecond
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(30*time.Second, c.MinBackoff)
	}
	return c
}

// commitTimeout bounds a commit made while shutting down.
const commitTimeout = 10 * time.Second

// Consumer runs a Handler over a consumer group of a Log: it fetches
// batches, hands them to the handler, retries a failed batch with
// exponential backoff and jitter, and commits only after the handler
// succeeded.
type Consumer struct {
	log     Log
	cfg     ConsumerConfig
	handler Handler
	logger  *slog.Logger
	metrics *Metrics
}

// NewConsumer returns a consumer of group cfg.Group. metrics may be nil.
func NewConsumer(log Log, cfg ConsumerConfig, h Handler, logger *slog.Logger, metrics *Metrics) *Consumer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{log: log, cfg: cfg.withDefaults(), handler: h, logger: logger.With("group", cfg.Group), metrics: metrics}
}

// Run consumes until ctx is done, then returns nil. It returns an error
// only when the log is closed under it or the group cannot be opened.
func (c *Consumer) Run(ctx context.Context) error {
	var sub Subscription
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	for attempt := 0; ; attempt++ {
		var err error
		sub, err = c.log.Subscribe(ctx, c.cfg.Group)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, ErrClosed) {
			return fmt.Errorf("subscribe %s: %w", c.cfg.Group, err)
		}
		c.logger.Warn("subscribe failed; retrying", "err", err)
		if !c.sleep(ctx, attempt) {
			return nil
		}
	}

	// The next batch is fetched while the handler works on this one, so
	// that reading the log and the handler's side effect overlap. Fetch
	// returns fresh records, and a fetched batch that is never handled
	// (at shutdown) is simply not committed.
	type fetched struct {
		batch []Record
		err   error
	}
	var pending chan fetched
	defer func() {
		if pending != nil {
			<-pending // Run returns only when ctx ended or the log closed: it ends soon
		}
	}()
	prefetch := func() {
		ch := make(chan fetched, 1)
		go func() {
			batch, err := c.fetch(ctx, sub)
			ch <- fetched{batch, err}
		}()
		pending = ch
	}
	prefetch()
	for {
		f := <-pending
		pending = nil
		if f.err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return f.err
		}
		prefetch()
		if !c.handle(ctx, f.batch) {
			return nil
		}
		if !c.commit(ctx, sub, f.batch) {
			return nil
		}
	}
}

// fetch returns the next batch, retrying transient errors.
func (c *Consumer) fetch(ctx context.Context, sub Subscription) ([]Record, error) {
	for attempt := 0; ; attempt++ {
		batch, err := sub.Fetch(ctx, c.cfg.BatchSize, c.cfg.Linger)
		if err == nil && len(batch) > 0 {
			return batch, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if err == nil {
			// Nothing, and no error: wait a little rather than spin.
			if !c.sleep(ctx, 0) {
				return nil, ctx.Err()
			}
			continue
		}
		if errors.Is(err, ErrClosed) {
			return nil, fmt.Errorf("fetch %s: %w", c.cfg.Group, err)
		}
		c.logger.Warn("fetch failed; retrying", "err", err)
		if !c.sleep(ctx, attempt) {
			return nil, ctx.Err()
		}
	}
}

// handle runs the handler until it succeeds; false means ctx ended first.
func (c *Consumer) handle(ctx context.Context, batch []Record) bool {
	for attempt := 0; ; attempt++ {
		err := c.handler(ctx, batch)
		if err == nil {
			c.metrics.consumed(c.cfg.Group, len(batch))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.metrics.failed(c.cfg.Group)
		c.logger.Warn("handler failed; retrying the batch", "records", len(batch), "attempt", attempt+1, "err", err)
		if !c.sleep(ctx, attempt) {
			return false
		}
	}
}

// commit commits the batch, retrying errors; false means ctx ended first.
// A handled batch is committed even when ctx ended while the handler ran
// (shutdown drains, then commits), within commitTimeout. A batch handled
// but never committed is handled again after a restart.
func (c *Consumer) commit(ctx context.Context, sub Subscription, batch []Record) bool {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	for attempt := 0; ; attempt++ {
		err := sub.Commit(cctx, batch)
		if err == nil {
			c.metrics.committed(c.cfg.Group)
			return ctx.Err() == nil
		}
		if ctx.Err() != nil || errors.Is(err, ErrClosed) {
			return false
		}
		c.logger.Warn("commit failed; retrying", "err", err)
		if !c.sleep(ctx, attempt) {
			return false
		}
	}
}

// sleep waits the backoff of the given attempt; false means ctx ended.
func (c *Consumer) sleep(ctx context.Context, attempt int) bool {
	t := time.NewTimer(Backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Backoff returns the wait before retry number attempt (from 0): it
// doubles from min up to max, and is drawn uniformly from its upper half
// so that retrying clients spread out.
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	half := d / 2
	return half + rand.N(d-half+1)
}
