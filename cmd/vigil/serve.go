package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/vigilaudit/vigil/internal/config"
)

func newServeCmd(a *app) *cobra.Command {
	var configPath, listen, dataDir string
	cmd := &cobra.Command{
		Use:   "serve [--config FILE] [--listen ADDR] [--data-dir DIR]",
		Short: "Run the Vigil server",
		Long: `Run the Vigil server on one HTTP listener (TLS when tls.cert_file and
tls.key_file are set), serving the audit APIs under /audit/v1 (ingest,
queries, the quarantine, credentials, sinks), the original service's
POST /event and /audit/event, /openapi.json, /healthz, /readyz and
/metrics (Prometheus).

With no config file, serve uses the embedded event log and the DuckDB
store under --data-dir, and no sinks. Each configured sink (tcp, tls,
splunkhec, syslog, relp) reads the log as its own consumer group, sink.NAME,
and gets every event at least once; GET /audit/v1/sinks and
"vigil admin sinks" show how each one is doing. --config names a YAML file; an
unknown key in it is an error, and ${VAR} in a value reads the
environment variable VAR ($$ is a literal $). --listen and --data-dir
override the file.

Serve returns when it receives SIGINT or SIGTERM, after in-flight
requests finish.`,
		Example: `  vigil serve
  vigil serve --listen 0.0.0.0:8080 --data-dir /var/lib/vigil
  CLICKHOUSE_PASSWORD=... vigil serve --config /etc/vigil/vigil.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var o overrides
			if cmd.Flags().Changed("listen") {
				o.Listen = &listen
			}
			if cmd.Flags().Changed("data-dir") {
				o.DataDir = &dataDir
			}
			cfg, err := loadConfig(configPath, o)
			if err != nil {
				return err
			}
			return serve(cmd.Context(), a, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&configPath, "config", "c", "", "YAML config `file` (default: built-in defaults)")
	f.StringVar(&listen, "listen", defaultListen, "HTTP listen `address`, host:port (port 0 picks a free port)")
	f.StringVar(&dataDir, "data-dir", defaultDataDir, "`directory` for the event log, the store and other state")
	return cmd
}

// serve runs every component cfg asks for until ctx is done.
func serve(ctx context.Context, a *app, cfg Config) error {
	log := a.log()
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	var tlsConfig *tls.Config
	if cfg.TLS.Enabled() {
		cert, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return fmt.Errorf("load tls certificate: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if cfg.TLS.ClientCAFile != "" {
			pool, err := clientCAs(cfg.TLS.ClientCAFile)
			if err != nil {
				return err
			}
			withClientCAs(tlsConfig, pool)
		}
	}

	build := readBuildInfo()
	reg := newRegistry(build)
	ready := newReadiness()
	ready.add("data_dir", dirCheck(cfg.DataDir))

	p, err := openPipeline(ctx, cfg, reg, log)
	if err != nil {
		return err
	}
	defer p.close()
	p.readyChecks(ready)

	mount, err := p.mount()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("start http listener: %w", err)
	}
	srv := newServer(ln, newRouter(reg, ready, mount), tlsConfig, log)

	log.Info("vigil serving",
		"addr", ln.Addr().String(),
		"tls", tlsConfig != nil,
		"data_dir", absPath(cfg.DataDir),
		"log", config.Kind(cfg.Log),
		"store", config.Kind(cfg.Store),
		"version", build.Version,
	)
	if a.listening != nil {
		a.listening(ln.Addr())
	}

	g, ctx := errgroup.WithContext(ctx)
	for _, run := range append(p.runners, srv.Run) {
		g.Go(func() error { return run(ctx) })
	}
	err = g.Wait()
	log.Info("vigil stopped")
	return err
}

// dirCheck is ready while dir exists and is a directory.
func dirCheck(dir string) readyCheck {
	return func(context.Context) error {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return errors.New("not a directory")
		}
		return nil
	}
}

// server is the HTTP server on an already bound listener.
type server struct {
	ln              net.Listener
	http            *http.Server
	shutdownTimeout time.Duration
}

// newServer returns a server for ln, serving TLS when tlsConfig is not nil.
// Run owns ln from then on and closes it.
func newServer(ln net.Listener, h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *server {
	return &server{
		ln: ln,
		http: &http.Server{
			Handler:           h,
			TLSConfig:         tlsConfig,
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
		shutdownTimeout: 15 * time.Second,
	}
}

// Run serves until ctx is done, then stops accepting connections and waits
// for in-flight requests, up to the shutdown timeout.
func (s *server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() {
		if s.http.TLSConfig != nil {
			errc <- s.http.ServeTLS(s.ln, "", "")
			return
		}
		errc <- s.http.Serve(s.ln)
	}()

	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.shutdownTimeout)
	defer cancel()
	err := s.http.Shutdown(shutdownCtx)
	if err != nil {
		_ = s.http.Close() // the shutdown error is the one to report
		err = fmt.Errorf("shut down http server: %w", err)
	}
	<-errc // http.ErrServerClosed
	return err
}
