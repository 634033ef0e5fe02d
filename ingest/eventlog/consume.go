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

// Settlement tells a Consumer whether a handled batch settled: it yields
// one value, nil once the batch's side effect can no longer be undone, or
// the error that undid it (the connection that carried it ended too soon,
// say), after which the batch and every one handled after it are handled
// again. A nil Settlement means settled already.
type Settlement <-chan error

// SettlingHandler is a Handler whose side effect becomes final only some
// time after it returns: a stream sink's receiver may still lose what its
// kernel acknowledged. It returns nil with the batch's Settlement once the
// batch is written; the Consumer commits a batch only once it and every
// batch before it settled, and goes on handling the next batches
// meanwhile. On error the same batch is handed to it again after a
// backoff, as to a Handler.
type SettlingHandler func(ctx context.Context, batch []Record) (Settlement, error)

// maxUnsettled bounds the batches handled but not yet settled: with that
// many, the Consumer waits for the oldest to settle before handling more.
const maxUnsettled = 256

// Consumer runs a Handler over a consumer group of a Log: it fetches
// batches, hands them to the handler, retries a failed batch with
// exponential backoff and jitter, and commits only after the handler
// succeeded and, for a SettlingHandler, the batch settled. When a handled
// batch is reported lost, the Consumer reopens the group's subscription,
// which starts again at the committed position, so every batch not yet
// settled is handed over again.
type Consumer struct {
	log     Log
	cfg     ConsumerConfig
	handler SettlingHandler
	logger  *slog.Logger
	metrics *Metrics
}

// NewConsumer returns a consumer of group cfg.Group. metrics may be nil.
func NewConsumer(log Log, cfg ConsumerConfig, h Handler, logger *slog.Logger, metrics *Metrics) *Consumer {
	return NewSettlingConsumer(log, cfg, func(ctx context.Context, batch []Record) (Settlement, error) {
		return nil, h(ctx, batch)
	}, logger, metrics)
}

// NewSettlingConsumer returns a consumer of group cfg.Group whose handler
// reports when each batch settles. metrics may be nil.
func NewSettlingConsumer(log Log, cfg ConsumerConfig, h SettlingHandler, logger *slog.Logger, metrics *Metrics) *Consumer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Consumer{log: log, cfg: cfg.withDefaults(), handler: h, logger: logger.With("group", cfg.Group), metrics: metrics}
}

// Run consumes until ctx is done, then returns nil. It returns an error
// only when the log is closed under it or the group cannot be opened.
func (c *Consumer) Run(ctx context.Context) error {
	for {
		lost, err := c.run(ctx)
		if lost == nil {
			return err
		}
		c.metrics.rewound(c.cfg.Group)
		c.logger.Warn("a delivered batch was lost before it settled; reading again from the committed position", "err", lost)
	}
}

// unsettled is a handled batch waiting for its settlement: marks holds
// the batch's last record of each partition, which is what a commit
// needs.
type unsettled struct {
	marks   []Record
	settle  Settlement
	settled bool
}

// run subscribes and consumes until ctx is done, the log fails, or a
// handled batch is lost (returned as lost, for Run to subscribe again).
func (c *Consumer) run(ctx context.Context) (lost, err error) {
	sub, err := c.subscribe(ctx)
	if sub == nil {
		return nil, err
	}
	defer func() { _ = sub.Close() }() // nothing more is committed through it

	// The next batch is fetched while the handler works on this one, so
	// that reading the log and the handler's side effect overlap. Fetch
	// returns fresh records, and a fetched batch that is never handled
	// (at shutdown, or when the subscription is reopened) is simply not
	// committed.
	type fetched struct {
		batch []Record
		err   error
	}
	fetchCtx, stopFetch := context.WithCancel(ctx)
	var pending chan fetched
	defer func() {
		stopFetch()
		if pending != nil {
			<-pending // the fetch ends with its context
		}
	}()
	prefetch := func() {
		ch := make(chan fetched, 1)
		go func() {
			batch, err := c.fetch(fetchCtx, sub)
			ch <- fetched{batch, err}
		}()
		pending = ch
	}
	prefetch()

	var (
		queue   []unsettled
		current []Record // the batch being handled, between retries
		attempt int
		retry   *time.Timer
		retryC  <-chan time.Time
	)
	defer func() {
		if retry != nil {
			retry.Stop()
		}
	}()
	for {
		var head Settlement
		if len(queue) > 0 {
			head = queue[0].settle
		}
		var fetchC chan fetched
		if current == nil && len(queue) < maxUnsettled {
			fetchC = pending
		}
		try := false
		select {
		case <-ctx.Done():
			return nil, c.drain(ctx, sub, queue)
		case err := <-head:
			if err != nil {
				return err, nil
			}
			queue[0].settled = true
		case f := <-fetchC:
			pending = nil
			if f.err != nil {
				if ctx.Err() != nil {
					return nil, c.drain(ctx, sub, queue)
				}
				return nil, f.err
			}
			prefetch()
			current, attempt, try = f.batch, 0, true
		case <-retryC:
			retryC, try = nil, true
		}
		if try {
			settle, err := c.handler(ctx, current)
			switch {
			case err == nil:
				c.metrics.consumed(c.cfg.Group, len(current))
				if settle == nil && len(queue) == 0 {
					if !c.commit(ctx, sub, current) {
						return nil, nil
					}
				} else {
					queue = append(queue, unsettled{marks: marks(current), settle: settle, settled: settle == nil})
				}
				current = nil
			case ctx.Err() != nil:
				return nil, c.drain(ctx, sub, queue)
			default:
				c.metrics.failed(c.cfg.Group)
				c.logger.Warn("handler failed; retrying the batch", "records", len(current), "attempt", attempt+1, "err", err)
				retry = time.NewTimer(Backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff))
				retryC = retry.C
				attempt++
			}
		}
		var recs []Record
		queue, recs, lost = popSettled(queue)
		if len(recs) > 0 && !c.commit(ctx, sub, recs) {
			if ctx.Err() != nil {
				return nil, c.drain(ctx, sub, queue)
			}
			return nil, nil
		}
		if lost != nil {
			return lost, nil
		}
	}
}

// subscribe opens the group's subscription, retrying errors; a nil
// subscription means ctx ended (with a nil error) or the log is closed.
func (c *Consumer) subscribe(ctx context.Context) (Subscription, error) {
	for attempt := 0; ; attempt++ {
		sub, err := c.log.Subscribe(ctx, c.cfg.Group)
		if err == nil {
			return sub, nil
		}
		if ctx.Err() != nil {
			return nil, nil
		}
		if errors.Is(err, ErrClosed) {
			return nil, fmt.Errorf("subscribe %s: %w", c.cfg.Group, err)
		}
		c.logger.Warn("subscribe failed; retrying", "err", err)
		if !c.sleep(ctx, attempt) {
			return nil, nil
		}
	}
}

// marks returns the last record of each partition in batch, without its
// key and value.
func marks(batch []Record) []Record {
	var out []Record
	for _, r := range batch {
		r.Key, r.Value = nil, nil
		found := false
		for i := range out {
			if out[i].Partition == r.Partition {
				found = true
				if r.Offset > out[i].Offset {
					out[i] = r
				}
			}
		}
		if !found {
			out = append(out, r)
		}
	}
	return out
}

// popSettled removes the settled batches at the head of queue and returns
// the rest, the marks to commit for them, and the error of the first
// batch found lost.
func popSettled(queue []unsettled) (rest []unsettled, recs []Record, lost error) {
	for len(queue) > 0 {
		u := &queue[0]
		if !u.settled {
			select {
			case err := <-u.settle:
				if err != nil {
					return queue, recs, err
				}
				u.settled = true
			default:
				return queue, recs, nil
			}
		}
		recs = append(recs, u.marks...)
		queue = queue[1:]
	}
	return queue, recs, nil
}

// drain is the end of run at shutdown: it waits, within commitTimeout,
// for the handled batches to settle and commits those that did, in
// order. What is left is handled again after a restart.
func (c *Consumer) drain(ctx context.Context, sub Subscription, queue []unsettled) error {
	wait := time.NewTimer(commitTimeout)
	defer wait.Stop()
	for len(queue) > 0 {
		var recs []Record
		var lost error
		queue, recs, lost = popSettled(queue)
		if len(recs) > 0 {
			c.commit(ctx, sub, recs)
		}
		if lost != nil || len(queue) == 0 {
			return nil
		}
		select {
		case err := <-queue[0].settle:
			if err != nil {
				return nil
			}
			queue[0].settled = true
		case <-wait.C:
			c.logger.Warn("stopping with batches that have not settled; they are delivered again at the next start", "batches", len(queue))
			return nil
		}
	}
	return nil
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
