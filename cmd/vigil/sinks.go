package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/splunkhec"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// deadLetterDBName is the sinks' dead letter in the data directory.
const deadLetterDBName = "deadletter.db"

// Defaults of a sink's consume loop.
const (
	sinkBatchSize = 1000
	sinkLinger    = 100 * time.Millisecond
)

// sinkSet is the running sinks: one forwarder and consume loop each, and
// the manager that reports on them.
type sinkSet struct {
	manager   *sinks.Manager
	consumers []*eventlog.Consumer
}

// openSinks builds the sink of every configured kind (no network call
// yet), its forwarder and its consume loop over group sink.NAME. It
// appends to closers what it opened.
func openSinks(cfg Config, l eventlog.Log, reg prometheus.Registerer, logMetrics *eventlog.Metrics, logger *slog.Logger, closers *[]func() error) (*sinkSet, error) {
	dl, err := sinks.OpenDeadLetter(filepath.Join(cfg.DataDir, deadLetterDBName))
	if err != nil {
		return nil, err
	}
	*closers = append(*closers, dl.Close)
	metrics := sinks.NewMetrics(reg)
	set := &sinkSet{}
	var fws []*sinks.Forwarder
	for i, sc := range cfg.Sinks {
		s, err := newSink(sc)
		if err != nil {
			return nil, fmt.Errorf("sinks[%d] (%s): %w", i, sc.Name, err)
		}
		fw, err := sinks.NewForwarder(s, sinks.ForwarderConfig{
			Name:       sc.Name,
			Kind:       sc.Kind(),
			Required:   sc.Required == nil || *sc.Required,
			Filter:     sinks.Filter{Topics: sc.Filter.Topics, Events: sc.Filter.Events, Match: sc.Filter.Match},
			DeadLetter: dl,
			Metrics:    metrics,
			Logger:     logger.With("component", "sinks"),
		})
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("sinks[%d]: %w", i, err)
		}
		*closers = append(*closers, fw.Close)
		fws = append(fws, fw)
		batch, linger := sinkBatchSize, sinkLinger
		if sc.BatchSize > 0 {
			batch = sc.BatchSize
		}
		if sc.Linger > 0 {
			linger = time.Duration(sc.Linger)
		}
		set.consumers = append(set.consumers, eventlog.NewConsumer(l,
			eventlog.ConsumerConfig{Group: fw.Group(), BatchSize: batch, Linger: linger},
			forwardHandler(fw), logger, logMetrics))
	}
	set.manager = sinks.NewManager(fws, sinks.ManagerConfig{
		DeadLetter: dl,
		Lag:        l.Lag,
		Replay: func(ctx context.Context, since time.Time, fn func(sinks.Record) error) error {
			return l.Replay(ctx, since, func(r eventlog.Record) error { return fn(sinkRecord(r)) })
		},
		Logger: logger.With("component", "sinks"),
	})
	return set, nil
}

// forwardHandler adapts a forwarder to the log's consume loop. The loop
// calls it one batch at a time, so one buffer of records serves every
// call.
func forwardHandler(fw *sinks.Forwarder) eventlog.Handler {
	var buf []sinks.Record
	return func(ctx context.Context, batch []eventlog.Record) error {
		buf = buf[:0]
		for _, r := range batch {
			buf = append(buf, sinkRecord(r))
		}
		return fw.Handle(ctx, buf)
	}
}

func sinkRecord(r eventlog.Record) sinks.Record {
	return sinks.Record{ID: r.ID, Key: r.Key, Value: r.Value, Time: r.Time}
}

// newSink builds the sink of sc's kind. The config was validated.
func newSink(sc SinkConfig) (sinks.Sink, error) {
	switch {
	case sc.TCP != nil:
		return tcp.New(tcp.Config{Address: sc.TCP.Address})
	case sc.TLS != nil:
		return tcp.New(tcp.Config{Address: sc.TLS.Address, TLS: sinkTLS(&sc.TLS.ClientTLSConfig)})
	case sc.SplunkHEC != nil:
		h := sc.SplunkHEC
		return splunkhec.New(splunkhec.Config{
			URL: h.URL, Token: h.Token, Index: h.Index, Source: h.Source, SourceType: h.SourceType, Host: h.Host,
			Ack: h.Ack, AckTimeout: time.Duration(h.AckTimeout), Channel: h.Channel, Gzip: h.Gzip,
			TLS: sinkTLS(h.TLS),
		})
	case sc.Syslog != nil:
		s := sc.Syslog
		return syslogsink.New(syslogsink.Config{Address: s.Address, Facility: s.Facility, AppName: s.AppName, TLS: sinkTLS(s.TLS)})
	}
	return nil, fmt.Errorf("sink %q has no kind", sc.Name)
}

func sinkTLS(c *ClientTLSConfig) *sinks.TLSConfig {
	if c == nil {
		return nil
	}
	return &sinks.TLSConfig{CAFile: c.CAFile, CAPEM: c.CAPEM, CertFile: c.CertFile, KeyFile: c.KeyFile, ServerName: c.ServerName}
}
