package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"golang.org/x/sync/errgroup"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Configured is one sink of the config file, built: what every sink has,
// its kind's name and the Sink itself.
type Configured struct {
	Config Config
	Kind   string
	Sink   Sink
}

// SetConfig is what a Set needs besides its sinks.
type SetConfig struct {
	// DeadLetter keeps what the sinks refuse.
	DeadLetter *DeadLetter
	// Metrics and LogMetrics may be nil.
	Metrics    *Metrics
	LogMetrics *eventlog.Metrics
	Logger     *slog.Logger
	// OnOversize raises alert.sink.oversize; may be nil.
	OnOversize func(OversizeAlert)
}

// Set is the running sinks: a forwarder and a consume loop of the log
// over group sink.NAME each, and the Manager that reports on them.
type Set struct {
	Manager   *Manager
	forwarder []*Forwarder
	consumers []*eventlog.Consumer
}

// NewSet builds the forwarder and the consume loop of every sink; it
// makes no network call. On error it closes the sinks.
func NewSet(l eventlog.Log, sinks []Configured, cfg SetConfig) (*Set, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	logger := cfg.Logger.With("component", "sinks")
	s := &Set{}
	for i, c := range sinks {
		fc := c.Config.Forwarder(c.Kind, cfg.DeadLetter, cfg.Metrics, logger)
		fc.OnOversize = cfg.OnOversize
		fw, err := NewForwarder(c.Sink, fc)
		if err != nil {
			_ = c.Sink.Close()
			for _, c := range sinks[i+1:] {
				_ = c.Sink.Close()
			}
			return nil, errors.Join(fmt.Errorf("sinks[%d]: %w", i, err), s.Close())
		}
		s.forwarder = append(s.forwarder, fw)
		loop := c.Config.Loop
		loop.Group = c.Config.Group()
		s.consumers = append(s.consumers, eventlog.NewSettlingConsumer(l, loop, fw.HandleSettling, cfg.Logger, cfg.LogMetrics))
	}
	s.Manager = NewManager(s.forwarder, ManagerConfig{
		DeadLetter: cfg.DeadLetter, Lag: l.Lag, Replay: l.Replay, Logger: logger,
	})
	return s, nil
}

// Run runs every sink's consume loop and the manager until ctx is done.
func (s *Set) Run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Manager.Run(ctx) })
	for _, c := range s.consumers {
		g.Go(func() error { return c.Run(ctx) })
	}
	return g.Wait()
}

// Close closes the sinks; call it once Run returned.
func (s *Set) Close() error {
	var errs []error
	for _, fw := range s.forwarder {
		errs = append(errs, fw.Close())
	}
	return errors.Join(errs...)
}
