package main

import (
	"context"
	"maps"
	"net/http"
	"slices"
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

// newRouter returns the one HTTP handler: health, readiness and metrics,
// and the routes the mounts add (ingest, the query, admin and sink APIs;
// the planned content API and console will mount here too).
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

// The states of /readyz, for the whole server and each component.
const (
	stateReady    = "ready"
	stateDegraded = "degraded"  // works, but a part waits (the store, a sink): its lag grows
	stateNotReady = "not_ready" // ingest cannot accept events
)

// component is one part's line in /readyz.
type component struct {
	Name   string `json:"name"`
	State  string `json:"state"`
	Detail string `json:"detail,omitempty"`
}

// degradedError is a check's error that leaves ingest working, from a
// component that ingest otherwise needs.
type degradedError struct{ error }

func (e degradedError) Unwrap() error { return e.error }

// degraded marks err as degrading its component rather than making it not
// ready.
func degraded(err error) error { return degradedError{err} }

// readyBody is /readyz's answer.
type readyBody struct {
	Status     string      `json:"status"`
	Components []component `json:"components"`
}

// readiness answers /readyz from the checks components register: 200
// while ingest can accept events (ready, or degraded when a part that
// only grows its lag fails), 503 when it cannot (not_ready).
type readiness struct {
	mu     sync.Mutex
	checks map[string]readyCheck
	// degrades are the components whose failure leaves ingest working.
	degrades map[string]bool
}

func newReadiness() *readiness {
	return &readiness{checks: make(map[string]readyCheck), degrades: make(map[string]bool)}
}

// add registers a component that ingest needs: its failure makes the
// server not_ready.
func (rd *readiness) add(name string, check readyCheck) {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.checks[name] = check
}

// addDegraded registers a component whose failure only degrades the
// server: it waits and catches up while ingest goes on.
func (rd *readiness) addDegraded(name string, check readyCheck) {
	rd.add(name, check)
	rd.mu.Lock()
	defer rd.mu.Unlock()
	rd.degrades[name] = true
}

// check runs every check: the components by name, and the whole state.
func (rd *readiness) check(ctx context.Context) readyBody {
	rd.mu.Lock()
	checks := maps.Clone(rd.checks)
	degrades := maps.Clone(rd.degrades)
	rd.mu.Unlock()

	body := readyBody{Status: stateReady, Components: []component{}}
	for _, name := range slices.Sorted(maps.Keys(checks)) {
		c := component{Name: name, State: stateReady}
		if err := checks[name](ctx); err != nil {
			c.State, c.Detail = stateNotReady, err.Error()
			if _, ok := err.(degradedError); ok || degrades[name] {
				c.State = stateDegraded
			}
		}
		switch {
		case c.State == stateNotReady:
			body.Status = stateNotReady
		case c.State == stateDegraded && body.Status == stateReady:
			body.Status = stateDegraded
		}
		body.Components = append(body.Components, c)
	}
	return body
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	body := rd.check(ctx)
	code := http.StatusOK
	if body.Status == stateNotReady {
		code = http.StatusServiceUnavailable
	}
	httpapi.WriteJSON(w, code, body)
}
