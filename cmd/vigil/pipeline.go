package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/contentapi"
	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/link"
	"github.com/vigilaudit/vigil/contentapi/mail"
	"github.com/vigilaudit/vigil/contentapi/transfer"
	"github.com/vigilaudit/vigil/contentapi/tree"
	"github.com/vigilaudit/vigil/dashboards/alerts"
	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/sinks"
)

// The files and directories under data_dir.
const (
	logDirName       = "log"
	detectDirName    = "detect"
	quarantineDBName = "quarantine.db"
	// uploadTTL is how long a resumable upload waits for its next
	// chunk before it is swept.
	uploadTTL = 24 * time.Hour
)

func logDir(dataDir string) string { return filepath.Join(dataDir, logDirName) }

// pipeline is everything one server runs besides its HTTP listener: the
// credential store, the event log, ingest and its quarantine, the store
// and the sinks. openPipeline builds it; its runners are the long-running
// parts, each a Run of the package that owns it; close releases what it
// opened in reverse order.
type pipeline struct {
	auth       *auth.Store
	log        eventlog.Log
	store      query.Store
	sinks      *sinks.Set
	quarantine *ingest.Quarantine
	ingester   *ingest.Ingester
	runners    []func(context.Context) error
	logger     *slog.Logger
	closers    []func() error
	// content is the content API's section: sign-in and password cost.
	content ContentConfig
	// directory and oidc are the external authorities of sign-in
	// (content.ldap, content.oidc); nil for none.
	directory contentapi.Directory
	oidc      *contentapi.OIDC
	// files is the content API's file tree, in the metadata database.
	files *tree.Store
	// blobs keeps file contents; uploads stages them as they arrive.
	blobs   blob.Store
	uploads *transfer.Uploads
	// links are the content API's links to files and folders.
	links *link.Store
	// alerts keeps the detections' alert states.
	alerts *alerts.Store
}

// openPipeline opens everything the write path needs under cfg.DataDir.
// On error it closes what it opened.
func openPipeline(ctx context.Context, cfg Config, reg prometheus.Registerer, logger *slog.Logger) (_ *pipeline, err error) {
	p := &pipeline{logger: logger, content: cfg.Content}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	db, err := openMetaDB(cfg.DataDir, cfg.Content)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, db.Close)
	logger.Info("metadata database", "kind", db.Dialect().String(), "db", db.String())
	if p.auth, err = auth.New(ctx, db); err != nil {
		return nil, err
	}
	// The server submits the tree's FILE events as the organization's
	// Team Server (its pseudo-user, and a device id kept in the
	// database).
	if p.blobs, err = openBlobs(cfg.DataDir, cfg.Content.Blobs); err != nil {
		return nil, err
	}
	if p.uploads, err = transfer.NewUploads(filepath.Join(contentDir(cfg.DataDir), "uploads"), p.blobs, uploadTTL); err != nil {
		return nil, err
	}
	if p.files, err = tree.New(ctx, p.auth, tree.Config{ServerUser: contentapi.OrgAdminID, Blobs: p.blobs,
		Revisions: cfg.Content.Revisions.Keep}); err != nil {
		return nil, err
	}
	// Blobs whose last reference went while the server was down.
	if n, err := p.files.SweepBlobs(ctx); err != nil || n > 0 {
		logger.Info("swept unreferenced blobs", "blobs", n, "err", err)
	}
	if p.links, err = link.New(ctx, p.auth, nil); err != nil {
		return nil, err
	}
	if p.alerts, err = alerts.New(ctx, p.auth); err != nil {
		return nil, err
	}
	if p.directory, p.oidc, err = signInAuthorities(cfg.Content); err != nil {
		return nil, err
	}

	// The log raises its alerts through the ingester, which needs the log
	// first: they wait until it is there (Open may find damage at once),
	// and are dropped if the pipeline does not open.
	ingesterSet := make(chan struct{})
	var setOnce sync.Once
	ingesterDone := func() { setOnce.Do(func() { close(ingesterSet) }) }
	defer ingesterDone() // before p.close, which waits for the log's callbacks
	withIngester := func(fn func(*ingest.Ingester)) {
		<-ingesterSet
		if p.ingester != nil {
			fn(p.ingester)
		}
	}
	alerts := logAlerts{
		skip: func(group string, skipped int64) {
			withIngester(func(in *ingest.Ingester) { in.RaiseLogSkipped(group, skipped) })
		},
		corrupt: func(c filelog.Corruption) {
			withIngester(func(in *ingest.Ingester) {
				in.RaiseLogCorrupt(c.Segment, c.Pos, c.Bytes, c.FirstRecord, c.Records)
			})
		},
	}
	if p.log, err = openLog(ctx, cfg, alerts, reg, logger.With("component", "log")); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.log.Close)
	reg.MustRegister(eventlog.NewLagCollector(p.log, consumerGroups(cfg)...))

	if p.quarantine, err = ingest.OpenQuarantine(filepath.Join(cfg.DataDir, quarantineDBName)); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.quarantine.Close)
	p.ingester = ingest.New(p.log, p.quarantine, cfg.Ingest, p.auth, ingest.NewMetrics(reg), logger.With("component", "ingest"))
	ingesterDone()

	if p.store, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.store.Close)
	logMetrics := eventlog.NewMetrics(reg)
	// The sinks raise their oversize alerts through the ingester too.
	onOversize := func(a sinks.OversizeAlert) {
		p.ingester.RaiseSinkOversize(a.Sink, a.EventID, a.Size, a.Limit, a.Count, a.Policy)
	}
	if p.sinks, err = openSinks(cfg, p.log, onOversize, reg, logMetrics, logger, &p.closers); err != nil {
		return nil, err
	}

	storeLogger := logger.With("component", "store")
	p.runners = []func(context.Context) error{
		func(ctx context.Context) error { return p.auth.RelayOutbox(ctx, p.ingester.Emit, logger) },
		query.NewConsumer(p.log, p.store, cfg.Store.Consumer, storeLogger, logMetrics).Run,
		p.sinks.Run,
		p.uploads.Run,
	}
	if !cfg.Detect.Disabled {
		d, err := detect.NewDetector(p.log, cfg.Detect, filepath.Join(cfg.DataDir, detectDirName), p.alerts.Recording(p.ingester), logger.With("component", "detect"), reg, logMetrics)
		if err != nil {
			return nil, err
		}
		p.runners = append(p.runners, d.Run)
	}
	if e, ok := p.store.(query.Expirer); ok {
		p.runners = append(p.runners, query.NewExpiry(e, cfg.Store.Expiry, storeLogger).Run)
	}
	p.runners = append(p.runners, contentapi.NewSweeper(p.auth, cfg.Content.Sweep, nil, logger.With("component", "sweep")).Run)
	// Without SMTP, mail stays in the outbox (vigil admin mail list).
	if sc := cfg.Content.Mail.SMTP; sc != nil {
		p.runners = append(p.runners, mail.NewSender(*sc, p.auth, logger.With("component", "mail")).Run)
	}

	start := time.Now()
	n, err := p.ingester.Rebuild(ctx, p.log)
	if err != nil {
		return nil, err
	}
	logger.Info("dedup window rebuilt from the log", "ids", n, "took", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// logAlerts are the embedded log's callbacks that raise alerts.
type logAlerts struct {
	skip    func(group string, skipped int64)
	corrupt func(filelog.Corruption)
}

// openLog opens the configured event log.
func openLog(ctx context.Context, cfg Config, alerts logAlerts, reg prometheus.Registerer, logger *slog.Logger) (eventlog.Log, error) {
	switch {
	case cfg.Log.Kafka != nil:
		kc := *cfg.Log.Kafka
		kc.Logger = logger
		return kafkalog.Open(ctx, kc)
	default:
		fc := *cfg.Log.File
		fc.Groups, fc.OnSkip, fc.OnCorrupt, fc.Logger = requiredGroups(cfg), alerts.skip, alerts.corrupt, logger
		fl, err := filelog.Open(logDir(cfg.DataDir), fc)
		if err != nil {
			return nil, err
		}
		reg.MustRegister(fl.Collectors()...)
		return fl, nil
	}
}

// mount returns what adds the server's routes to its router (routes.go).
func (p *pipeline) mount() (func(chi.Router), error) {
	rt, err := p.routes()
	if err != nil {
		return nil, err
	}
	return rt.mount(p.auth, p.auth), nil
}

// readyChecks are the write path's readiness checks.
func (p *pipeline) readyChecks(rd *readiness) {
	rd.add("auth", p.auth.Ping)
	rd.add("log", func(context.Context) error {
		if err := p.log.Ready(); err != nil {
			return err
		}
		if d, ok := p.log.(damager); ok {
			if err := d.Damaged(); err != nil {
				return degraded(err)
			}
		}
		return nil
	})
	if s, ok := p.store.(query.Pinger); ok {
		rd.addDegraded("store", s.Ping)
	}
	for _, fw := range p.sinks.Manager.Forwarders() {
		rd.addDegraded(fw.Group(), func(ctx context.Context) error { return p.sinks.Manager.Healthy(ctx, fw.Name()) })
	}
}

// damager is a log that can have skipped damaged regions (filelog): ingest
// works, but the records they held are lost.
type damager interface{ Damaged() error }

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
	g := map[string]bool{query.Group: true}
	for _, s := range cfg.Sinks {
		g[s.Group()] = s.IsRequired()
	}
	return g
}

// consumerGroups lists the groups whose lag is reported.
func consumerGroups(cfg Config) []string {
	out := []string{query.Group}
	if !cfg.Detect.Disabled {
		out = append(out, detect.Group)
	}
	for _, s := range cfg.Sinks {
		out = append(out, s.Group())
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
