package main

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/splunkhec"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// deadLetterDBName is the sinks' dead letter in the data directory.
const deadLetterDBName = "deadletter.db"

// openSinks builds the sink of every configured kind (no network call
// yet) and the set that runs them. It appends to closers what it opened.
func openSinks(cfg Config, l eventlog.Log, onOversize func(sinks.OversizeAlert), reg prometheus.Registerer, logMetrics *eventlog.Metrics, logger *slog.Logger, closers *[]func() error) (*sinks.Set, error) {
	dl, err := sinks.OpenDeadLetter(filepath.Join(cfg.DataDir, deadLetterDBName))
	if err != nil {
		return nil, err
	}
	*closers = append(*closers, dl.Close)
	var built []sinks.Configured
	for i, sc := range cfg.Sinks {
		s, err := newSink(sc)
		if err != nil {
			for _, b := range built {
				_ = b.Sink.Close()
			}
			return nil, fmt.Errorf("sinks[%d] (%s): %w", i, sc.Name, err)
		}
		built = append(built, sinks.Configured{Config: sc.Config, Kind: sc.kind(), Sink: s})
	}
	set, err := sinks.NewSet(l, built, sinks.SetConfig{
		DeadLetter: dl, Metrics: sinks.NewMetrics(reg), LogMetrics: logMetrics, Logger: logger,
		OnOversize: onOversize,
	})
	if err != nil {
		return nil, err
	}
	*closers = append(*closers, set.Close)
	return set, nil
}

// newSink builds the sink of sc's kind. The config was validated.
func newSink(sc SinkConfig) (sinks.Sink, error) {
	switch {
	case sc.TCP != nil:
		return tcp.New(*sc.TCP)
	case sc.TLS != nil:
		return tcp.New(sc.TLS.Sink())
	case sc.SplunkHEC != nil:
		return splunkhec.New(*sc.SplunkHEC)
	case sc.Syslog != nil:
		return syslogsink.New(*sc.Syslog)
	case sc.Relp != nil:
		return relp.New(*sc.Relp)
	}
	return nil, fmt.Errorf("sink %q has no kind", sc.Name)
}
