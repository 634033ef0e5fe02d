package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/time/rate"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

// Credentials resolves the credentials that may submit events.
type Credentials interface {
	auth.Authenticator
	// DeviceByID resolves a device from the common name of its verified
	// TLS client certificate.
	DeviceByID(ctx context.Context, id string) (auth.Principal, error)
}

// Handler serves the ingest routes.
type Handler struct {
	in      *Ingester
	creds   Credentials
	limiter *limiter
}

// NewHandler returns the HTTP side of in.
func NewHandler(in *Ingester, creds Credentials) *Handler {
	return &Handler{in: in, creds: creds, limiter: newLimiter(in.cfg.DeviceRate, in.cfg.DeviceBurst)}
}

// Mount adds the routes to r:
//
//	POST /audit/v1/events              a batch (JSON array or NDJSON, gzip optional), device credentials
//	POST /event, POST /audit/event     one event, as the original service took it
//	GET  /audit/v1/quarantine          rejected events (admin)
//	POST /audit/v1/quarantine/replay   run them through ingest again (admin)
func (h *Handler) Mount(r chi.Router) {
	r.Post("/audit/v1/events", h.batch)
	r.Post("/event", h.single)
	r.Post("/audit/event", h.single)
	r.Group(func(r chi.Router) {
		r.Use(auth.Middleware(h.creds), auth.RequireRole(auth.RoleAdmin))
		r.Get("/audit/v1/quarantine", h.listQuarantine)
		r.Post("/audit/v1/quarantine/replay", h.replayQuarantine)
	})
}

// device authenticates a submitter: a bearer device token, or a verified
// TLS client certificate whose common name is the device id. It writes
// the error response and returns false when there is none.
func (h *Handler) device(w http.ResponseWriter, r *http.Request) (schema.Submitter, bool) {
	var (
		p   auth.Principal
		err error
	)
	token, hasToken := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case hasToken && token != "":
		p, err = h.creds.Authenticate(r.Context(), strings.TrimSpace(token))
	case r.TLS != nil && len(r.TLS.VerifiedChains) > 0:
		p, err = h.creds.DeviceByID(r.Context(), r.TLS.VerifiedChains[0][0].Subject.CommonName)
	default:
		err = auth.ErrUnauthenticated
	}
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrRevoked):
		auth.WriteError(w, http.StatusForbidden, auth.CodeRevoked, "this credential was revoked")
		return schema.Submitter{}, false
	case errors.Is(err, auth.ErrUnauthenticated):
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		auth.WriteError(w, http.StatusUnauthorized, auth.CodeUnauthenticated, "a device token (Authorization: Bearer) or client certificate is required")
		return schema.Submitter{}, false
	default:
		auth.WriteError(w, http.StatusInternalServerError, auth.CodeInternal, "checking the credential failed")
		return schema.Submitter{}, false
	}
	if p.Kind != auth.KindDevice {
		auth.WriteError(w, http.StatusForbidden, auth.CodeForbidden, "only device credentials submit events; admin and auditor tokens cannot")
		return schema.Submitter{}, false
	}
	return schema.Submitter{UserID: p.UserID, DeviceID: p.DeviceID}, true
}

// read returns the request's events, or writes the error (and
// quarantines a body that is not events at all).
func (h *Handler) read(w http.ResponseWriter, r *http.Request, sub schema.Submitter) ([][]byte, bool) {
	cfg := h.in.cfg
	r.Body = http.MaxBytesReader(w, r.Body, cfg.MaxBodyBytes)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	if enc != "" && enc != "gzip" && enc != "identity" {
		auth.WriteError(w, http.StatusUnsupportedMediaType, CodeBadEncoding, "Content-Encoding "+enc+" is not supported; send gzip or none")
		return nil, false
	}
	gz := enc == "gzip"
	body, err := readBody(r.Body, gz, cfg.MaxBodyBytes)
	if err == nil {
		var raws [][]byte
		if raws, err = splitEvents(body, cfg.MaxEvents); err == nil {
			return raws, true
		}
	}
	var be *BodyError
	if !errors.As(err, &be) {
		auth.WriteError(w, http.StatusBadRequest, CodeMalformed, "reading the body failed")
		return nil, false
	}
	if be.Code == CodeMalformed && len(body) > 0 {
		// Not events at all: kept whole, for an admin to look at.
		q := []Quarantined{{ReceivedAt: h.in.now(), Submitter: sub, Reason: be.Message, Raw: string(body)}}
		if err := h.in.quarantine.Add(r.Context(), q); err != nil {
			auth.WriteError(w, http.StatusInternalServerError, auth.CodeInternal, "keeping the rejected body failed")
			return nil, false
		}
		h.in.metrics.rejected("malformed_body")
	}
	auth.WriteError(w, be.Status, be.Code, be.Message)
	return nil, false
}

// batch handles POST /audit/v1/events.
func (h *Handler) batch(w http.ResponseWriter, r *http.Request) {
	if res, ok := h.ingest(w, r, false); ok {
		writeJSON(w, http.StatusAccepted, res)
	}
}

// single handles the original service's one-event endpoints: 200 once
// durable, 400 for a body that is not a valid event.
func (h *Handler) single(w http.ResponseWriter, r *http.Request) {
	res, ok := h.ingest(w, r, true)
	if !ok {
		return
	}
	if len(res.Rejected) > 0 {
		auth.WriteError(w, http.StatusBadRequest, "invalid_event", res.Rejected[0].Error)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ingest authenticates the device, reads the body, applies the rate
// limit and ingests the events; on false it has written the error.
func (h *Handler) ingest(w http.ResponseWriter, r *http.Request, one bool) (Result, bool) {
	sub, ok := h.device(w, r)
	if !ok {
		return Result{}, false
	}
	raws, ok := h.read(w, r, sub)
	if !ok {
		return Result{}, false
	}
	if one && len(raws) != 1 {
		auth.WriteError(w, http.StatusBadRequest, CodeMalformed, "this endpoint takes one JSON object; batches go to /audit/v1/events")
		return Result{}, false
	}
	if !h.allow(w, sub.DeviceID, len(raws)) {
		return Result{}, false
	}
	res, err := h.in.Ingest(r.Context(), sub, raws)
	if err != nil {
		h.appendFailed(w, err)
		return Result{}, false
	}
	return res, true
}

func (h *Handler) appendFailed(w http.ResponseWriter, err error) {
	if errors.Is(err, eventlog.ErrFull) {
		w.Header().Set("Retry-After", "30")
		auth.WriteError(w, http.StatusServiceUnavailable, "log_full", "the event log is full; nothing of this request was accepted, retry later")
		return
	}
	h.in.logger.Error("ingest failed", "err", err)
	w.Header().Set("Retry-After", "5")
	auth.WriteError(w, http.StatusServiceUnavailable, "unavailable", "the event log could not accept the batch; nothing of this request was accepted, retry later")
}

// allow applies the device's rate limit, answering 429 when over it.
func (h *Handler) allow(w http.ResponseWriter, device string, n int) bool {
	wait := h.limiter.reserve(device, n)
	if wait <= 0 {
		return true
	}
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	auth.WriteError(w, http.StatusTooManyRequests, "rate_limited", "this device is over its event rate; retry later")
	return false
}

func (h *Handler) listQuarantine(w http.ResponseWriter, r *http.Request) {
	var o ListOptions
	q := r.URL.Query()
	if v := q.Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			auth.WriteError(w, http.StatusBadRequest, auth.CodeInvalid, "after: must be a non-negative integer")
			return
		}
		o.After = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			auth.WriteError(w, http.StatusBadRequest, auth.CodeInvalid, "limit: must be 1 to 1000")
			return
		}
		o.Limit = n
	}
	o.Replayed = q.Get("replayed") == "true"
	entries, err := h.in.quarantine.List(r.Context(), o)
	if err != nil {
		auth.WriteError(w, http.StatusInternalServerError, auth.CodeInternal, "listing the quarantine failed")
		return
	}
	if entries == nil {
		entries = []Quarantined{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": entries})
}

// ReplayRequest selects quarantined events to replay; no ids means all.
type ReplayRequest struct {
	IDs []int64 `json:"ids"`
}

// ReplayResult counts what a replay did.
type ReplayResult struct {
	Replayed int `json:"replayed"`
	Rejected int `json:"rejected"`
}

func (h *Handler) replayQuarantine(w http.ResponseWriter, r *http.Request) {
	var req ReplayRequest
	if r.ContentLength != 0 {
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			auth.WriteError(w, http.StatusBadRequest, auth.CodeInvalid, "body must be {\"ids\": [...]} or empty")
			return
		}
	}
	replayed, rejected, err := h.in.ReplayQuarantine(r.Context(), req.IDs)
	if err != nil {
		h.appendFailed(w, err)
		return
	}
	p, _ := auth.FromContext(r.Context())
	res := ReplayResult{Replayed: replayed, Rejected: rejected}
	if err := h.in.AuditReplay(r.Context(), p.Caller(), res); err != nil {
		h.in.logger.Warn("audit quarantine replay", "err", err)
	}
	writeJSON(w, http.StatusOK, res)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// limiter keeps one token bucket per device.
type limiter struct {
	rate  rate.Limit
	burst int
	mu    sync.Mutex
	byDev map[string]*rate.Limiter
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rate: rate.Limit(perSecond), burst: burst, byDev: map[string]*rate.Limiter{}}
}

// reserve takes n events from the device's bucket, or returns how long
// to wait (taking nothing).
func (l *limiter) reserve(device string, n int) time.Duration {
	l.mu.Lock()
	lim := l.byDev[device]
	if lim == nil {
		lim = rate.NewLimiter(l.rate, l.burst)
		l.byDev[device] = lim
	}
	l.mu.Unlock()
	now := time.Now()
	res := lim.ReserveN(now, n)
	if !res.OK() {
		return time.Second
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}
