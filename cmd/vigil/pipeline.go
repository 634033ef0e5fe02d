package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// The files and directories under data_dir.
const (
	logDirName        = "log"
	quarantineDBName  = "quarantine.db"
	outboxRelayPeriod = time.Second
)

func logDir(dataDir string) string { return filepath.Join(dataDir, logDirName) }

// pipeline is the write path of one server: the credential store, the
// event log, ingest and its quarantine. open builds it; close releases it
// in reverse order.
type pipeline struct {
	auth       *auth.Store
	log        eventlog.Log
	store      query.Store
	consumer   *eventlog.Consumer
	sinks      *sinkSet
	quarantine *ingest.Quarantine
	ingester   *ingest.Ingester
	logger     *slog.Logger
	closers    []func() error
}

// openPipeline opens everything the write path needs under cfg.DataDir.
// On error it closes what it opened.
func openPipeline(ctx context.Context, cfg Config, reg prometheus.Registerer, logger *slog.Logger) (_ *pipeline, err error) {
	p := &pipeline{logger: logger}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	if p.auth, err = auth.Open(authDBPath(cfg.DataDir)); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.auth.Close)

	// The log's OnSkip callback emits through the ingester, which exists
	// only once the log does; emit closes over p.
	emitSkip := func(group string, skipped int64) {
		alert := fmt.Appendf(nil, `{"topic":"ALERT","event":"alert.log.skipped","timestamp":%d,"group":%q,"skipped":%d}`,
			time.Now().UnixMilli(), group, skipped)
		if err := p.ingester.Emit(context.Background(), alert); err != nil {
			logger.Error("raise skipped-records alert", "group", group, "err", err)
		}
	}
	var l eventlog.Log
	switch {
	case cfg.Log.Kafka != nil:
		kl, err := kafkalog.Open(ctx, kafkaConfig(*cfg.Log.Kafka, logger))
		if err != nil {
			return nil, err
		}
		l = kl
	default:
		fc := cfg.Log.File
		fl, err := filelog.Open(logDir(cfg.DataDir), filelog.Config{
			MaxBytes:     int64(fc.MaxBytes),
			SegmentBytes: int64(fc.SegmentBytes),
			Retention:    time.Duration(fc.Retention),
			Groups:       requiredGroups(cfg),
			OnSkip:       emitSkip,
			Logger:       logger.With("component", "log"),
		})
		if err != nil {
			return nil, err
		}
		reg.MustRegister(fl.Collectors()...)
		l = fl
	}
	p.log = l
	p.closers = append(p.closers, l.Close)
	reg.MustRegister(eventlog.NewLagCollector(l, consumerGroups(cfg)...))

	if p.quarantine, err = ingest.OpenQuarantine(filepath.Join(cfg.DataDir, quarantineDBName)); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.quarantine.Close)

	ic := cfg.Ingest
	p.ingester = ingest.New(l, p.quarantine, ingest.Config{
		MaxBodyBytes:  int64(ic.MaxBodyBytes),
		MaxEvents:     ic.MaxEvents,
		MaxEventBytes: int(ic.MaxEventBytes),
		Limits:        schema.Limits{MaxStringLen: ic.MaxStringLen},
		DedupWindow:   time.Duration(ic.DedupWindow),
		DedupMaxIDs:   ic.DedupMaxIDs,
		DeviceRate:    ic.DeviceRate,
		DeviceBurst:   ic.DeviceBurst,
	}, p.auth, ingest.NewMetrics(reg), logger.With("component", "ingest"))
	if p.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.store.Close)
	logMetrics := eventlog.NewMetrics(reg)
	p.consumer = newStoreConsumer(l, p.store, logger, logMetrics)
	if p.sinks, err = openSinks(cfg, l, reg, logMetrics, logger, &p.closers); err != nil {
		return nil, err
	}

	start := time.Now()
	n, err := p.ingester.Rebuild(ctx, l)
	if err != nil {
		return nil, err
	}
	logger.Info("dedup window rebuilt from the log", "ids", n, "took", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// mount adds the write path's routes (routes.go).
func (p *pipeline) mount(r chi.Router) {
	mountRoutes(r, p.routes(), p.auth)
}

// readyChecks are the write path's readiness checks.
func (p *pipeline) readyChecks(rd *readiness) {
	rd.add("auth", p.auth.Ping)
	if fl, ok := p.log.(interface{ Ready() error }); ok {
		rd.add("log", func(context.Context) error { return fl.Ready() })
	}
}

// relayOutbox appends the audit events of admin actions (written to the
// credential store's outbox, by this process or by `vigil admin` on the
// same data dir) to the log, until ctx is done.
func (p *pipeline) relayOutbox(ctx context.Context) error {
	t := time.NewTicker(outboxRelayPeriod)
	defer t.Stop()
	emit := func(event []byte) error { return p.ingester.Emit(ctx, event) }
	for {
		if _, err := p.auth.DrainOutbox(ctx, emit); err != nil && ctx.Err() == nil {
			p.logger.Warn("relay audit events", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (p *pipeline) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		if err := p.closers[i](); err != nil {
			p.logger.Warn("close", "err", err)
		}
	}
	p.closers = nil
}

// requiredGroups says which consumer groups retention must wait for: the
// store and every sink marked required.
func requiredGroups(cfg Config) map[string]bool {
	g := map[string]bool{storeGroup: true}
	for _, s := range cfg.Sinks {
		g["sink."+s.Name] = s.Required == nil || *s.Required
	}
	return g
}

// consumerGroups lists the groups whose lag is reported.
func consumerGroups(cfg Config) []string {
	out := []string{storeGroup}
	for _, s := range cfg.Sinks {
		out = append(out, "sink."+s.Name)
	}
	return out
}

// clientCAs loads the CA that signs device certificates.
func clientCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read tls.client_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("tls.client_ca_file %s: no PEM certificate in it", file)
	}
	return pool, nil
}

// withClientCAs asks for client certificates signed by pool: optional,
// since most clients use bearer tokens, but verified when given.
func withClientCAs(c *tls.Config, pool *x509.CertPool) {
	c.ClientCAs = pool
	c.ClientAuth = tls.VerifyClientCertIfGiven
}

// kafkaConfig maps the config file's log.kafka section.
func kafkaConfig(c KafkaLogConfig, logger *slog.Logger) kafkalog.Config {
	kc := kafkalog.Config{
		Brokers:           c.Brokers,
		Topic:             c.Topic,
		CreateTopic:       c.CreateTopic,
		Partitions:        c.Partitions,
		ReplicationFactor: c.ReplicationFactor,
		Logger:            logger.With("component", "log"),
	}
	if t := c.TLS; t != nil {
		kc.TLS = &kafkalog.TLSConfig{CAFile: t.CAFile, CAPEM: t.CAPEM, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName}
	}
	if s := c.SASL; s != nil {
		kc.SASL = &kafkalog.SASLConfig{Mechanism: s.Mechanism, Username: s.Username, Password: s.Password}
	}
	return kc
}
