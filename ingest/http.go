package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
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
	mem     *budget // the body bytes requests hold
	errs    httpapi.Mapper
}

// NewHandler returns the HTTP side of in.
func NewHandler(in *Ingester, creds Credentials) *Handler {
	return &Handler{in: in, creds: creds, limiter: newLimiter(in.cfg.DeviceRate, in.cfg.DeviceBurst),
		mem: newBudget(in.cfg.MaxInflightBytes), errs: httpapi.Mapper{Family: httpapi.Audit, Logger: in.logger}}
}

// withBodyDeadline gives the request body body_timeout to arrive: the
// connection's read deadline cuts a body that stalls, and a body that
// trickles is cut at its next read past the deadline.
func (h *Handler) withBodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		deadline := time.Now().Add(h.in.cfg.BodyTimeout)
		rc := http.NewResponseController(w)
		set := rc.SetReadDeadline(deadline) == nil
		r.Body = &deadlineBody{ReadCloser: r.Body, deadline: deadline, done: func() {
			if set {
				// Read past the body, the connection waits for the
				// next request under the server's own limits.
				_ = rc.SetReadDeadline(time.Time{})
				set = false
			}
		}}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody fails reads past its deadline, and calls done once the
// body has been read or failed.
type deadlineBody struct {
	io.ReadCloser
	deadline time.Time
	done     func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if time.Now().After(b.deadline) {
		b.done()
		return 0, errBodyTimeout
	}
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.done()
	}
	return n, err
}

// Routes returns the ingest routes:
//
//	POST /audit/v1/events              a batch (JSON array or NDJSON, gzip optional), device credentials
//	POST /event, POST /audit/event     one event, as the original service took it
//	GET  /audit/v1/quarantine          rejected events (admin)
//	POST /audit/v1/quarantine/replay   run them through ingest again (admin)
//
// The device routes check the device credential themselves (a bearer
// device token or a verified TLS client certificate).
func (h *Handler) Routes() []httpapi.Route {
	event := map[string]any{}
	single := func(path string) httpapi.Route {
		return httpapi.Route{Method: http.MethodPost, Pattern: path, Access: httpapi.Device, Handler: h.withBodyDeadline(h.errs.Handle(h.single)),
			Summary: "Submit one event, as the original audit service took it", Request: event, Response: Result{}}
	}
	return []httpapi.Route{
		{Method: http.MethodPost, Pattern: "/audit/v1/events", Access: httpapi.Device, Handler: h.withBodyDeadline(h.errs.Handle(h.batch)),
			Summary: "Submit a batch of events (a JSON array or NDJSON, gzip optional); answered once durable",
			Request: []map[string]any{}, Consumes: []string{"application/x-ndjson"}, Status: http.StatusAccepted, Response: Result{}},
		single("/event"),
		single("/audit/event"),
		{Method: http.MethodGet, Pattern: "/audit/v1/quarantine", Access: httpapi.Admin, Handler: h.errs.Handle(h.listQuarantine),
			Summary: "The rejected events, oldest first", Query: []string{"after", "limit", "replayed"}, Response: quarantineList{}},
		{Method: http.MethodPost, Pattern: "/audit/v1/quarantine/replay", Access: httpapi.Admin, Handler: h.errs.Handle(h.replayQuarantine),
			Summary: "Run rejected events through ingest again; no ids means all", Request: ReplayRequest{}, Response: ReplayResult{}},
	}
}

// device authenticates a submitter: a bearer device token, or a verified
// TLS client certificate whose common name is the device id.
func (h *Handler) device(r *http.Request) (schema.Submitter, error) {
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
		return schema.Submitter{}, httpapi.NewError(http.StatusUnauthorized, auth.CodeCredentialReq,
			"credential required: send a device token (Authorization: Bearer TOKEN) or a client certificate").With("WWW-Authenticate", `Bearer realm="vigil"`)
	}
	switch {
	case err == nil:
	case errors.Is(err, auth.ErrRevoked):
		// "device unlinked" or "device erased" when its owner or an admin
		// removed it through the content API: the device learns it here.
		msg := "device revoked"
		if re := (*auth.RevokedError)(nil); errors.As(err, &re) && re.Removal != "" {
			msg = "device " + string(re.Removal)
		}
		return schema.Submitter{}, httpapi.NewError(http.StatusForbidden, auth.CodeRevoked, msg)
	case errors.Is(err, auth.ErrUnauthenticated):
		return schema.Submitter{}, httpapi.NewError(http.StatusUnauthorized, auth.CodeUnknownToken,
			"unknown token").With("WWW-Authenticate", `Bearer realm="vigil", error="invalid_token"`)
	default:
		return schema.Submitter{}, &httpapi.Error{Status: http.StatusInternalServerError, Code: auth.CodeInternal,
			Message: "checking the credential failed", Err: err}
	}
	if p.Kind != auth.KindDevice {
		return schema.Submitter{}, httpapi.NewError(http.StatusForbidden, auth.CodeForbidden,
			"only device credentials submit events; admin and auditor tokens cannot")
	}
	return schema.Submitter{UserID: p.UserID, DeviceID: p.DeviceID}, nil
}

// HTTPError answers with the body error's status and code.
func (e *BodyError) HTTPError() *httpapi.Error {
	return httpapi.NewError(e.Status, e.Code, e.Message)
}

// read returns the request's events, and a release that gives their
// bytes back to the in-flight budget once they are used. It quarantines
// a body it refuses (not events, an encoding it cannot read, over a
// limit, too slow), except one refused for want of memory.
func (h *Handler) read(r *http.Request, sub schema.Submitter) ([][]byte, func(), error) {
	cfg := h.in.cfg
	r.Body = http.MaxBytesReader(nil, r.Body, cfg.MaxBodyBytes)
	enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding")))
	// The declared length sizes the first chunk, up to a bound: a body
	// holds the budget for what it sent, not for what it announced.
	body, err := receive(r.Body, enc, min(r.ContentLength, 2*maxChunk), cfg.MaxBodyBytes, h.mem)
	if err == nil {
		var raws [][]byte
		if raws, err = splitEvents(body.data, cfg.MaxEvents); err == nil {
			return raws, body.release, nil
		}
	}
	defer body.release()
	var be *BodyError
	switch {
	case errors.Is(err, errOverloaded):
		return nil, nil, httpapi.NewError(http.StatusServiceUnavailable, CodeOverloaded,
			"ingest holds too many request bodies at once (limit max_inflight_bytes); nothing of this request was accepted, retry later").With("Retry-After", "1")
	case errors.Is(err, errBodyTimeout):
		be = &BodyError{Status: http.StatusRequestTimeout, Code: CodeBodyTimeout,
			Message: "the body did not arrive within " + cfg.BodyTimeout.String() + " (limit body_timeout)"}
	case !errors.As(err, &be):
		return nil, nil, httpapi.NewError(http.StatusBadRequest, CodeMalformed, "reading the body failed")
	}
	if len(body.kept) > 0 && len(body.kept[0]) > 0 {
		// Kept whole, for an admin to look at and replay.
		q := []Quarantined{{ReceivedAt: h.in.now(), Submitter: sub, Reason: be.Message, body: body.kept,
			WholeBody: true, ContentEncoding: body.encoding, Truncated: body.truncated}}
		if err := h.in.quarantine.Add(context.WithoutCancel(r.Context()), q); err != nil {
			return nil, nil, &httpapi.Error{Status: http.StatusInternalServerError, Code: auth.CodeInternal,
				Message: "keeping the rejected body failed", Err: err}
		}
		h.in.metrics.rejected(be.Code)
	}
	if be.Code == CodeBodyTimeout {
		// The rest of the body may still be on its way.
		return nil, nil, be.HTTPError().With("Connection", "close")
	}
	return nil, nil, be
}

// batch handles POST /audit/v1/events.
func (h *Handler) batch(r *http.Request) (any, error) {
	res, err := h.ingest(r, false)
	if err != nil {
		return nil, err
	}
	return httpapi.Accepted(res), nil
}

// single handles the original service's one-event endpoints: 200 once
// durable, 400 for a body that is not a valid event.
func (h *Handler) single(r *http.Request) (any, error) {
	res, err := h.ingest(r, true)
	if err != nil {
		return nil, err
	}
	if len(res.Rejected) > 0 {
		return nil, httpapi.NewError(http.StatusBadRequest, "invalid_event", res.Rejected[0].Error)
	}
	return res, nil
}

// ingest authenticates the device, reads the body, applies the rate
// limit and ingests the events.
func (h *Handler) ingest(r *http.Request, one bool) (Result, error) {
	sub, err := h.device(r)
	if err != nil {
		return Result{}, err
	}
	raws, release, err := h.read(r, sub)
	if err != nil {
		return Result{}, err
	}
	defer release()
	if one && len(raws) != 1 {
		return Result{}, httpapi.NewError(http.StatusBadRequest, CodeMalformed, "this endpoint takes one JSON object; batches go to /audit/v1/events")
	}
	if err := h.allow(sub.DeviceID, len(raws)); err != nil {
		return Result{}, err
	}
	res, err := h.in.Ingest(r.Context(), sub, raws)
	if err != nil {
		return Result{}, appendFailed(err)
	}
	return res, nil
}

// appendFailed is the answer when the log did not take a request's
// events: 503 with Retry-After, nothing of it accepted.
func appendFailed(err error) error {
	if errors.Is(err, eventlog.ErrFull) {
		return httpapi.NewError(http.StatusServiceUnavailable, "log_full",
			"the event log is full; nothing of this request was accepted, retry later").With("Retry-After", "30")
	}
	return (&httpapi.Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
		Message: "the event log could not accept the batch; nothing of this request was accepted, retry later",
		Err:     fmt.Errorf("ingest: %w", err)}).With("Retry-After", "5")
}

// allow applies the device's rate limit: 429 when over it.
func (h *Handler) allow(device string, n int) error {
	wait := h.limiter.reserve(device, n)
	if wait <= 0 {
		return nil
	}
	return httpapi.NewError(http.StatusTooManyRequests, "rate_limited", "this device is over its event rate; retry later").
		With("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
}

// quarantineList is the body of GET /audit/v1/quarantine.
type quarantineList struct {
	Events []Quarantined `json:"events"`
}

func (h *Handler) listQuarantine(r *http.Request) (any, error) {
	q := r.URL.Query()
	pg, err := httpapi.Paging{Default: 100, Max: 1000, After: true}.Parse(q)
	if err != nil {
		return nil, err
	}
	o := ListOptions{After: pg.After, Limit: pg.Limit, Replayed: q.Get("replayed") == "true"}
	entries, err := h.in.quarantine.List(r.Context(), o)
	if err != nil {
		return nil, &httpapi.Error{Status: http.StatusInternalServerError, Code: auth.CodeInternal,
			Message: "listing the quarantine failed", Err: err}
	}
	if entries == nil {
		entries = []Quarantined{}
	}
	return quarantineList{Events: entries}, nil
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

func (h *Handler) replayQuarantine(r *http.Request) (any, error) {
	var req ReplayRequest
	if r.ContentLength != 0 {
		if err := httpapi.DecodeJSON(r, &req, 1<<20); err != nil {
			return nil, httpapi.NewError(http.StatusBadRequest, auth.CodeInvalid, "body must be {\"ids\": [...]} or empty")
		}
	}
	replayed, rejected, err := h.in.ReplayQuarantine(r.Context(), req.IDs)
	if err != nil {
		return nil, appendFailed(err)
	}
	p, _ := auth.FromContext(r.Context())
	res := ReplayResult{Replayed: replayed, Rejected: rejected}
	if err := h.in.AuditReplay(r.Context(), p.Caller(), res); err != nil {
		h.in.logger.Warn("audit quarantine replay", "err", err)
	}
	return res, nil
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
