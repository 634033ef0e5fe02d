package contentapi

import (
	"context"
	"log/slog"
	"time"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
)

// DefaultSweepEvery is how often expired rows are deleted by default.
const DefaultSweepEvery = 5 * time.Minute

// SweepConfig is the content.sweep section: how often the expired
// sessions, tokens and codes are deleted.
type SweepConfig struct {
	// Every is the time between sweeps (default 5m).
	Every time.Duration `yaml:"every"`
}

// SetDefaults fills in the zero values.
func (c *SweepConfig) SetDefaults() {
	if c.Every == 0 {
		c.Every = DefaultSweepEvery
	}
}

// Validate checks a configuration after SetDefaults.
func (c SweepConfig) Validate() error {
	var p config.Problems
	if c.Every < time.Second {
		p.Add("every", "must be at least 1s")
	}
	return p.Err()
}

// ExpiredRows deletes the rows that can no longer be used
// (auth.Store's SweepExpired).
type ExpiredRows interface {
	SweepExpired(ctx context.Context, now time.Time) (auth.Swept, error)
}

// Sweeper deletes expired rows now and then.
type Sweeper struct {
	rows  ExpiredRows
	every time.Duration
	now   func() time.Time
	log   *slog.Logger
}

// NewSweeper sweeps rows every cfg.Every; nil now is time.Now, a nil
// logger discards.
func NewSweeper(rows ExpiredRows, cfg SweepConfig, now func() time.Time, log *slog.Logger) *Sweeper {
	cfg.SetDefaults()
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sweeper{rows: rows, every: cfg.Every, now: now, log: log}
}

// Run sweeps at once, then every period, until ctx is done; it returns
// nil then. A failed sweep is logged and tried again at the next one.
func (s *Sweeper) Run(ctx context.Context) error {
	t := time.NewTicker(s.every)
	defer t.Stop()
	for {
		w, err := s.rows.SweepExpired(ctx, s.now())
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("sweep expired rows", "err", err)
		case err == nil && w.Total() > 0:
			s.log.Info("swept expired rows", "sessions", w.Sessions, "access_tokens", w.AccessTokens, "oauth_codes", w.OAuthCodes,
				"refresh_tokens", w.RefreshTokens, "access_codes", w.AccessCodes, "password_resets", w.PasswordResets)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
