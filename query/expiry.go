package query

import (
	"context"
	"log/slog"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// ExpiryConfig tunes an Expiry. Zero values are the defaults.
type ExpiryConfig struct {
	// Period is how often expired events are looked for (default 1h).
	Period time.Duration `yaml:"period"`
}

// Validate checks that the period is not negative.
func (c ExpiryConfig) Validate() error {
	var p config.Problems
	p.NotNegative("period", int64(c.Period))
	return p.Err()
}

// Expiry drops what a store keeps past its retention: at start, then
// every Period.
type Expiry struct {
	store  Expirer
	period time.Duration
	logger *slog.Logger
}

// NewExpiry returns the expiry of s. logger may be nil.
func NewExpiry(s Expirer, cfg ExpiryConfig, logger *slog.Logger) *Expiry {
	if cfg.Period <= 0 {
		cfg.Period = time.Hour
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Expiry{store: s, period: cfg.Period, logger: logger}
}

// Run drops expired events until ctx is done, then returns nil. A failed
// drop is logged and tried again the next period.
func (x *Expiry) Run(ctx context.Context) error {
	t := time.NewTicker(x.period)
	defer t.Stop()
	for {
		n, err := x.store.DropExpired(ctx, time.Now())
		switch {
		case err != nil && ctx.Err() == nil:
			x.logger.Warn("drop expired events", "err", err)
		case n > 0:
			x.logger.Info("dropped expired partitions", "partitions", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
