package agent

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// EventsPath is the server's batch endpoint, relative to its base URL.
const EventsPath = "/audit/v1/events"

// ErrUnreachable is returned when the server could not be reached (or
// stayed busy) for longer than UploaderConfig.MaxWait.
var ErrUnreachable = errors.New("server unreachable")

// UploaderConfig configures an Uploader. Only Server and Token are
// required.
type UploaderConfig struct {
	// Server is the Vigil server's base URL, http or https.
	Server string
	// Token is the device token, sent as "Authorization: Bearer TOKEN".
	Token string
	// Client sends the requests (default: a client of its own).
	Client *http.Client
	// InitialBackoff is the first wait after a failed attempt (default
	// 1s); each further failure doubles it, up to MaxBackoff (default
	// 5m). Each wait is drawn between half and all of that, so that many
	// agents coming back online do not retry in step.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxWait bounds how long one batch is retried before Upload gives
	// up with ErrUnreachable; 0 retries until the context is done.
	MaxWait time.Duration
	// RequestTimeout bounds one attempt (default 1m).
	RequestTimeout time.Duration
	// UserAgent is sent with every request.
	UserAgent string
	// Logger receives retries and rejected events (default: discard).
	Logger *slog.Logger
}

// Uploader sends batches of events to the server and owns the retry
// policy: backoff with jitter, Retry-After, splitting what is too large.
type Uploader struct {
	cfg    UploaderConfig
	url    string
	client *http.Client
	log    *slog.Logger
	// sleep waits d or until ctx is done; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error

	mu      sync.Mutex
	waiting time.Time // when the current wait ends, zero when not waiting
	reason  string    // why it waits
}

// NewUploader returns an Uploader for cfg. It makes no network calls.
func NewUploader(cfg UploaderConfig) (*Uploader, error) {
	u, err := url.Parse(cfg.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server %q: want an http or https URL", cfg.Server)
	}
	if cfg.Token == "" {
		return nil, errors.New("no device token")
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Minute
	}
	cfg.MaxBackoff = max(cfg.MaxBackoff, cfg.InitialBackoff)
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = time.Minute
	}
	up := &Uploader{
		cfg:    cfg,
		url:    strings.TrimSuffix(u.String(), "/") + EventsPath,
		client: cfg.Client,
		log:    cfg.Logger,
		sleep:  sleepCtx,
	}
	if up.client == nil {
		up.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if up.log == nil {
		up.log = slog.New(slog.DiscardHandler)
	}
	return up, nil
}

// Close releases idle connections.
func (u *Uploader) Close() error {
	u.client.CloseIdleConnections()
	return nil
}

// Result is the server's answer for a run of events it accepted with 202.
type Result struct {
	// Offset and N locate the run in the events given to Upload.
	Offset, N int
	// Accepted, Duplicates and Rejected are the server's counts; the
	// server keeps rejected events in its quarantine.
	Accepted, Duplicates int
	Rejected             []Rejection
	// Refused are events the server turned down without keeping them: a
	// lone event answered 400 or 413. Their Error says why.
	Refused []Rejection
}

// Rejection is one event of a batch the server did not accept. Index is
// the event's place in the events given to Upload.
type Rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Error   string `json:"error"`
}

// StatusError is an answer of the server that is neither 202 nor retried.
type StatusError struct {
	Status  int
	Code    string // from the {"error": {"code", "message"}} body, if any
	Message string
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("server answered %d %s", e.Status, http.StatusText(e.Status))
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Credential reports whether the server refused the device token (401 or
// 403): the agent cannot go on until the device is enrolled again.
func (e *StatusError) Credential() bool {
	return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
}

// retryable is an attempt that failed in a way worth retrying.
type retryable struct {
	err        error
	retryAfter time.Duration // from the server; 0: use the backoff
}

func (e *retryable) Error() string { return e.err.Error() }
func (e *retryable) Unwrap() error { return e.err }

// tooLarge is a 400 or 413: the batch must be split.
type tooLarge struct{ err *StatusError }

func (e *tooLarge) Error() string { return e.err.Error() }

// Upload delivers events, in order, as one or more batches: it retries
// what failed in passing, splits in halves a batch the server answers 400
// or 413, and calls done for each run of events the server answered 202,
// in order. It returns when every event was answered, when done fails, on
// an answer it cannot retry (a *StatusError; see Credential), with
// ErrUnreachable after MaxWait, or when ctx is done.
func (u *Uploader) Upload(ctx context.Context, events [][]byte, done func(Result) error) error {
	type run struct{ off, n int }
	queue := []run{{0, len(events)}}
	for len(queue) > 0 {
		r := queue[0]
		res, err := u.deliver(ctx, events[r.off:r.off+r.n])
		var big *tooLarge
		if errors.As(err, &big) {
			if r.n > 1 {
				half := r.n / 2
				queue = append([]run{{r.off, half}, {r.off + half, r.n - half}}, queue[1:]...)
				u.log.Info("server refused a batch, splitting it", "events", r.n, "status", big.err.Status)
				continue
			}
			res, err = Result{Refused: []Rejection{{Index: 0, Error: big.err.Error()}}}, nil
		}
		if err != nil {
			return err
		}
		res.Offset, res.N = r.off, r.n
		for i := range res.Rejected {
			res.Rejected[i].Index += r.off
		}
		for i := range res.Refused {
			res.Refused[i].Index += r.off
		}
		if err := done(res); err != nil {
			return err
		}
		queue = queue[1:]
	}
	return nil
}

// deliver sends one batch until the server answers it.
func (u *Uploader) deliver(ctx context.Context, events [][]byte) (Result, error) {
	body, err := gzipLines(events)
	if err != nil {
		return Result{}, err
	}
	var failingSince time.Time
	for attempt := 0; ; attempt++ {
		res, err := u.post(ctx, body, len(events))
		var retry *retryable
		if err == nil || !errors.As(err, &retry) {
			return res, err
		}
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		now := time.Now()
		if failingSince.IsZero() {
			failingSince = now
		}
		wait := retry.retryAfter
		if wait == 0 {
			wait = u.backoff(attempt)
		}
		if u.cfg.MaxWait > 0 {
			left := failingSince.Add(u.cfg.MaxWait).Sub(now)
			if left <= 0 || (retry.retryAfter > 0 && wait > left) {
				return Result{}, fmt.Errorf("upload %d events: %w for %s: %w", len(events), ErrUnreachable, now.Sub(failingSince).Round(time.Millisecond), err)
			}
			wait = min(wait, left)
		}
		u.log.Warn("upload failed, retrying", "error", err, "retry_in", wait.Round(time.Millisecond), "events", len(events))
		u.setWaiting(now.Add(wait), err.Error())
		err = u.sleep(ctx, wait)
		u.setWaiting(time.Time{}, "")
		if err != nil {
			return Result{}, err
		}
	}
}

// backoff returns the wait after the given number of earlier failures:
// InitialBackoff doubled each time up to MaxBackoff, then drawn in
// [d/2, d].
func (u *Uploader) backoff(attempt int) time.Duration {
	d := u.cfg.InitialBackoff
	for range attempt {
		if d >= u.cfg.MaxBackoff/2 {
			d = u.cfg.MaxBackoff
			break
		}
		d *= 2
	}
	return d/2 + rand.N(d/2+1)
}

// post makes one attempt.
func (u *Uploader) post(ctx context.Context, body []byte, n int) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, u.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.url, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+u.cfg.Token)
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Accept", "application/json")
	if u.cfg.UserAgent != "" {
		req.Header.Set("User-Agent", u.cfg.UserAgent)
	}
	resp, err := u.client.Do(req)
	if err != nil {
		return Result{}, &retryable{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil && resp.StatusCode != http.StatusAccepted {
		return Result{}, &retryable{err: fmt.Errorf("read answer: %w", err)}
	}

	switch code := resp.StatusCode; {
	case code == http.StatusAccepted:
		// The whole batch is durable on the server, whatever the body
		// says, even if it could not be read to the end.
		return u.accepted(data, n), nil
	case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
		return Result{}, &retryable{err: statusError(code, data), retryAfter: retryAfter(resp.Header.Get("Retry-After"))}
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge:
		return Result{}, &tooLarge{statusError(code, data)}
	case code == http.StatusRequestTimeout || code >= 500 || code < 400:
		// A proxy's or a captive portal's answer is not an acceptance.
		return Result{}, &retryable{err: statusError(code, data)}
	default:
		return Result{}, statusError(code, data)
	}
}

func (u *Uploader) accepted(data []byte, n int) Result {
	var body struct {
		Accepted   int         `json:"accepted"`
		Duplicates int         `json:"duplicates"`
		Rejected   []Rejection `json:"rejected"`
	}
	if err := json.Unmarshal(data, &body); err != nil {
		u.log.Warn("server accepted a batch with an unreadable answer; counting it as accepted", "events", n, "error", err)
		return Result{Accepted: n}
	}
	res := Result{Accepted: body.Accepted, Duplicates: body.Duplicates}
	for _, r := range body.Rejected {
		if r.Index < 0 || r.Index >= n {
			u.log.Warn("server rejected an event outside the batch", "index", r.Index, "events", n)
			continue
		}
		res.Rejected = append(res.Rejected, r)
	}
	if got := res.Accepted + res.Duplicates + len(res.Rejected); got != n {
		u.log.Warn("server's counts do not add up to the batch", "events", n,
			"accepted", res.Accepted, "duplicates", res.Duplicates, "rejected", len(res.Rejected))
	}
	return res
}

// statusError reads the {"error": {"code", "message"}} body, if any.
func statusError(status int, data []byte) *StatusError {
	e := &StatusError{Status: status}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &body) == nil {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// gzipLines returns events as gzipped NDJSON.
func gzipLines(events [][]byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for _, e := range events {
		zw.Write(e) // a bytes.Buffer does not fail
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("compress batch: %w", err)
	}
	return buf.Bytes(), nil
}

func (u *Uploader) setWaiting(until time.Time, reason string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.waiting, u.reason = until, reason
}

// Waiting returns when the current wait before a retry ends and why, or
// a zero time when the uploader is not waiting.
func (u *Uploader) Waiting() (until time.Time, reason string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.waiting, u.reason
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
