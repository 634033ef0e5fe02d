package main

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// newRouter returns the one HTTP handler: health, readiness and metrics
// now; ingest, the query API, the content API and the console mount here
// as they land.
func newRouter(reg *prometheus.Registry, ready *readiness, mounts ...func(chi.Router)) http.Handler {
	r := chi.NewRouter()
	r.Use(newHTTPMetrics(reg).middleware)
	r.With(httpapi.NoStore).Get("/healthz", handleHealthz)
	r.With(httpapi.NoStore).Get("/readyz", ready.ServeHTTP)
	r.Method(http.MethodGet, "/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	for _, mount := range mounts {
		mount(r)
	}
	return r
}

// newRegistry returns the registry /metrics serves: Go runtime and process
// metrics and vigil_build_info. It is not the global default registry, so
// nothing registers into it by side effect.
func newRegistry(b buildInfo) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "vigil_build_info",
		Help:        "Always 1; the labels describe the running binary.",
		ConstLabels: prometheus.Labels{"version": b.Version, "goversion": b.GoVersion},
	})
	buildInfo.Set(1)
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
	)
	return reg
}

func handleHealthz(w http.ResponseWriter, _ *http.Request) {
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// httpMetrics counts and times requests by route pattern (never by raw
// path, which would let clients create series).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_http_requests_total",
			Help: "HTTP requests served, by route pattern and status code.",
		}, []string{"route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "vigil_http_request_duration_seconds",
			Help:    "Time to serve HTTP requests, by route pattern.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *httpMetrics) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		code := ww.Status()
		if code == 0 {
			code = http.StatusOK
		}
		m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// readyCheck reports whether a component can do its work now; a non-nil
// error says why not.
type readyCheck func(ctx context.Context) error

// readiness answers /readyz from the checks components register: 200 when
// every one passes, 503 naming those that do not.
type readiness struct {
	mu     sync.Mutex
	checks map[string]readyCheck
}

func newReadiness() *readiness {
	return &readiness{checks: make(map[string]readyCheck)}
}

// add registers a component's check under name.
func (rd *readiness) add(name string, check readyCheck) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.checks[name] = check
}

// notReady runs every check and returns the failures by component.
func (rd *readiness) notReady(ctx context.Context) map[string]string {
	rd.mu.Lock()
	checks := maps.Clone(rd.checks)
	rd.mu.Unlock()

	failed := make(map[string]string)
	for name, check := range checks {
		if err := check(ctx); err != nil {
			failed[name] = err.Error()
		}
	}
	return failed
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	failed := rd.notReady(ctx)
	if len(failed) > 0 {
		httpapi.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "not ready", "not_ready": failed})
		return
	}
	httpapi.WriteJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
