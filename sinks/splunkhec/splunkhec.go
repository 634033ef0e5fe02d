package splunkhec

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
)

// maxReplyBytes bounds how much of a reply is read.
const maxReplyBytes = 1 << 20

// errClosed is returned by Write after Close.
var errClosed = errors.New("splunkhec sink is closed")

// Sink sends batches of events to a Splunk HTTP Event Collector. Write and
// WriteSettling are not safe for concurrent use with each other; Close and
// Connected may be called at any time.
//
// The sink holds up to MaxInFlight lanes: a lane is one HTTP connection
// with its own HEC channel and cookie jar. A batch goes out on one lane,
// and with Ack on the lane is the batch's until its acknowledgements are
// in, so the polls go over the connection, with the cookies, that carried
// the batch: a sticky load balancer sends them to the indexer that holds
// the ack ids, and ack ids of different indexers never meet on one
// channel.
type Sink struct {
	cfg      Config
	base     *url.URL
	eventURL string
	token    *tokenSource
	// now is the clock of acknowledgement timeouts and refusal retries.
	now func() time.Time

	enc *encoder

	// sem holds a value per lane in use; lanes are taken lowest first.
	sem   chan struct{}
	lanes []*lane

	// ctx ends at Close, ending the waits for acknowledgements.
	ctx    context.Context
	cancel context.CancelFunc
	waits  sync.WaitGroup

	// reached is whether the last request got an HTTP answer.
	reached atomic.Bool

	mu      sync.Mutex
	closed  bool
	tlsConf *tls.Config
	tlsDone bool
	busy    []bool // per lane
	refusal refusal
}

// lane is one connection with its channel and cookies.
type lane struct {
	i       int
	channel string
	ackURL  string
	client  *http.Client // nil until the lane is first used
	tr      *http.Transport
	parser  fastjson.Parser
	ackBuf  []byte
}

// refusal is the collector's last refusal of the sink for now: a
// disabled or invalid token, or a token without acknowledgement while Ack
// is on. Until RefusedRetryInterval passed, or the token changed, writes
// fail with it without asking the collector.
type refusal struct {
	err   error // nil when there is none
	at    time.Time
	token string
	// noAck is a refusal because of a missing ackId: the collector is
	// asked again with an acknowledgement poll, which indexes nothing.
	noAck bool
}

var (
	_ sinks.Sink      = (*Sink)(nil)
	_ sinks.Settler   = (*Sink)(nil)
	_ sinks.Connected = (*Sink)(nil)
)

// New returns a Sink for cfg. It makes no network call and reads no file:
// the first Write connects, and the token and TLS files are read then.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("splunkhec config: %w", err)
	}
	cfg = cfg.withDefaults()
	base, _ := baseURL(cfg.URL) // checked by Validate
	s := &Sink{
		cfg:      cfg,
		base:     base,
		eventURL: base.String() + eventPath,
		token:    &tokenSource{file: cfg.TokenFile, token: cfg.Token},
		now:      time.Now,
		enc:      newEncoder(cfg),
		sem:      make(chan struct{}, cfg.MaxInFlight),
		busy:     make([]bool, cfg.MaxInFlight),
	}
	for i := range cfg.MaxInFlight {
		channel := cfg.Channel
		if i > 0 {
			channel = newGUID()
		}
		ack := *base
		ack.Path += ackPath
		ack.RawQuery = url.Values{"channel": {channel}}.Encode()
		s.lanes = append(s.lanes, &lane{i: i, channel: channel, ackURL: ack.String()})
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// Channel returns the HEC channel of the sink's first connection, the one
// used whenever a single batch is in flight.
func (s *Sink) Channel() string { return s.lanes[0].channel }

// Connected reports whether the last request reached the collector and
// got an HTTP answer, whatever its status.
func (s *Sink) Connected() bool { return s.reached.Load() }

// Close ends the waits for acknowledgements (their batches are reported
// lost) and closes the connections. Write fails after Close.
func (s *Sink) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.waits.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ln := range s.lanes {
		if ln.tr != nil {
			ln.tr.CloseIdleConnections()
		}
	}
	s.reached.Store(false)
	return nil
}

// Write sends batch, in requests of at most MaxBatchBytes, and with Ack on
// waits until the indexers acknowledge every request. It returns nil only
// when all of that succeeded. Its errors are those of WriteSettling, or a
// retryable one when the acknowledgements do not come. Canceling ctx
// interrupts the requests and the wait for acknowledgements.
func (s *Sink) Write(ctx context.Context, batch []eventlog.Record) error {
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.ctx, cancel)()
	done := make(chan error, 1)
	if err := s.start(ctx, waitCtx, batch, func(err error) { done <- err }); err != nil {
		return err
	}
	return <-done
}

// WriteSettling sends batch as Write does, but returns once the collector
// took every request, and reports the acknowledgements through settled:
// nil once the indexers acknowledged every request, an error when they
// did not within AckTimeout (the batch is to be written again). It waits
// while MaxInFlight batches wait for theirs. Without Ack, a batch is
// settled once taken.
//
// Its errors: a plain one is retryable, and the whole batch is to be
// written again; sinks.Refusing means the collector refuses the token, or
// gives no acknowledgement while Ack is on (the events wait, and the
// collector is asked again every RefusedRetryInterval, or as soon as the
// token file changed); sinks.RefusedAt names the first event the
// collector refused, all before it being indexed (and acknowledged); an
// error wrapped by sinks.Permanent or PermanentAll is a refusal that
// sending the same events again cannot change.
func (s *Sink) WriteSettling(ctx context.Context, batch []eventlog.Record, settled func(error)) error {
	return s.start(ctx, s.ctx, batch, settled)
}

// start sends batch and has its acknowledgements awaited within waitCtx.
func (s *Sink) start(ctx, waitCtx context.Context, batch []eventlog.Record, settled func(error)) error {
	if len(batch) == 0 {
		settled(nil)
		return nil
	}
	token, err := s.admit(ctx)
	if err != nil {
		return s.redact(err, token)
	}
	ln, err := s.acquire(ctx)
	if err != nil {
		return err
	}
	acks, err := s.send(ctx, ln, token, batch)
	if err != nil || len(acks) == 0 {
		s.release(ln)
		if err != nil {
			return s.redact(err, token)
		}
		settled(nil)
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.release(ln)
		return errClosed
	}
	s.waits.Add(1)
	s.mu.Unlock()
	deadline := s.now().Add(s.cfg.AckTimeout)
	go func() {
		defer s.waits.Done()
		err := s.waitAcks(waitCtx, ln, acks, deadline)
		s.release(ln)
		settled(s.redact(err, token))
	}()
	return nil
}

// admit reads the token and, while the collector refuses the sink,
// decides whether to ask it again. It returns the token to send.
func (s *Sink) admit(ctx context.Context) (string, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return "", errClosed
	}
	token, err := s.token.load()
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	r := s.refusal
	due := !s.now().Before(r.at.Add(s.cfg.RefusedRetryInterval))
	s.mu.Unlock()
	switch {
	case r.err == nil || r.token != token:
		return token, nil // nothing refused, or a new token to try
	case !due:
		return token, r.err
	case !r.noAck:
		return token, nil
	}
	// Ask whether the token acknowledges now, without sending events.
	ln, err := s.acquire(ctx)
	if err != nil {
		return token, err
	}
	defer s.release(ln)
	client, err := s.client(ln)
	if err != nil {
		return token, err
	}
	if _, err := s.pollAcks(ctx, ln, client, token, []int64{0}); err != nil {
		s.refuse(r.err, token, true)
		return token, r.err
	}
	s.mu.Lock()
	s.refusal = refusal{}
	s.mu.Unlock()
	return token, nil
}

// refuse records a refusal of the sink for now.
func (s *Sink) refuse(err error, token string, noAck bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusal = refusal{err: err, at: s.now(), token: token, noAck: noAck}
}

// acquire takes the lowest free lane, waiting while every lane carries a
// batch that waits for its acknowledgements.
func (s *Sink) acquire(ctx context.Context) (*lane, error) {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("wait for one of %d batches to be acknowledged: %w", s.cfg.MaxInFlight, ctx.Err())
	case <-s.ctx.Done():
		return nil, errClosed
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, b := range s.busy {
		if !b {
			s.busy[i] = true
			return s.lanes[i], nil
		}
	}
	panic("splunkhec: no free lane behind the semaphore") // unreachable: sem counts busy lanes
}

func (s *Sink) release(ln *lane) {
	s.mu.Lock()
	s.busy[ln.i] = false
	s.mu.Unlock()
	<-s.sem
}

// send posts batch on ln and returns the requests' ack ids (none without
// Ack).
func (s *Sink) send(ctx context.Context, ln *lane, token string, batch []eventlog.Record) ([]int64, error) {
	client, err := s.client(ln)
	if err != nil {
		return nil, err
	}
	var acks []int64
	// refusedAt reports batch[i] refused with err, once the requests
	// before it are acknowledged.
	refusedAt := func(i int, err error) error {
		if len(acks) > 0 {
			if werr := s.waitAcks(ctx, ln, acks, s.now().Add(s.cfg.AckTimeout)); werr != nil {
				return werr
			}
		}
		return sinks.RefusedAt(i, err)
	}
	for sent := 0; sent < len(batch); {
		n, err := s.enc.fill(batch[sent:])
		if err != nil {
			return nil, refusedAt(sent, err)
		}
		body, err := s.enc.payload()
		if err != nil {
			return nil, err
		}
		r, err := s.post(ctx, ln, client, token, body)
		if err != nil {
			s.enc.forget()
			err = fmt.Errorf("send events %d to %d of %d to %s: %w", sent+1, sent+n, len(batch), s.base.Host, err)
			var se *statusError
			switch {
			case errors.As(err, &se) && se.class() == aboutEvents && se.InvalidEvent >= 0 && se.InvalidEvent < n:
				// HEC indexed the events before the invalid one.
				return nil, refusedAt(sent+se.InvalidEvent, err)
			case sinks.IsRefusing(err):
				s.refuse(err, token, false)
			}
			return nil, err
		}
		if s.cfg.Ack {
			if r.AckID < 0 {
				err := sinks.Refusing(fmt.Errorf("send events %d to %d of %d to %s: the collector answered without an ackId: "+
					"turn on indexer acknowledgement for the token, or set ack to false", sent+1, sent+n, len(batch), s.base.Host))
				s.refuse(err, token, true)
				return nil, err
			}
			acks = append(acks, r.AckID)
		}
		sent += n
	}
	s.mu.Lock()
	s.refusal = refusal{}
	s.mu.Unlock()
	return acks, nil
}

// client returns ln's HTTP client, built at its first use so that TLS
// files are read only then (and read again after a failure).
func (s *Sink) client(ln *lane) (*http.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ln.client != nil {
		return ln.client, nil
	}
	if !s.tlsDone {
		tc, err := s.tlsConfig()
		if err != nil {
			return nil, err
		}
		s.tlsConf, s.tlsDone = tc, true
	}
	jar, _ := cookiejar.New(nil) // never fails without options
	dialer := &net.Dialer{Timeout: s.cfg.Timeout, KeepAlive: 30 * time.Second}
	ln.tr = &http.Transport{
		// No proxy: nothing here reads the environment.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     s.tlsConf,
		TLSHandshakeTimeout: s.cfg.Timeout,
		// One connection per lane: its channel and its indexer.
		MaxConnsPerHost:     1,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1,
		IdleConnTimeout:     90 * time.Second,
	}
	ln.client = &http.Client{
		Transport: ln.tr,
		Jar:       jar,
		// A redirect would turn the POST into a GET; report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return ln.client, nil
}

func (s *Sink) tlsConfig() (*tls.Config, error) {
	if s.base.Scheme != "https" {
		return nil, nil
	}
	if s.cfg.TLS == nil {
		return &tls.Config{MinVersion: tls.VersionTLS12}, nil
	}
	port := s.base.Port()
	if port == "" {
		port = "443"
	}
	tc, err := s.cfg.TLS.ClientConfig(net.JoinHostPort(s.base.Hostname(), port))
	if err != nil {
		return nil, fmt.Errorf("load tls settings: %w", err)
	}
	return tc, nil
}

// post sends events to the collector over ln and returns its reply, or an
// error classified by checkReply. Transport errors are retryable.
func (s *Sink) post(ctx context.Context, ln *lane, client *http.Client, token string, body []byte) (reply, error) {
	status, data, err := s.do(ctx, ln, client, token, s.eventURL, body, s.cfg.Gzip)
	if err != nil {
		return reply{}, err
	}
	return checkReply(&ln.parser, status, data)
}

// do sends one request and returns the HTTP status and the reply's body.
// Its errors are the transport's, for the caller to wrap.
func (s *Sink) do(ctx context.Context, ln *lane, client *http.Client, token, target string, body []byte, gzipped bool) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, sinks.Permanent(err)
	}
	req.Header.Set("Authorization", "Splunk "+token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	req.Header.Set("X-Splunk-Request-Channel", ln.channel)
	if gzipped {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := client.Do(req)
	if err != nil {
		s.reached.Store(false)
		// The url.Error around err repeats the URL the caller names.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, err
	}
	defer resp.Body.Close()
	s.reached.Store(true)
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxReplyBytes))
	if err != nil {
		return 0, nil, err
	}
	// Drain what is left so that the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReplyBytes))
	return resp.StatusCode, data, nil
}

// waitAcks polls the ack endpoint over ln until every id in pending is
// acknowledged, deadline passes, ctx is done or the collector refuses the
// poll for good. Failed polls are tried again until deadline.
func (s *Sink) waitAcks(ctx context.Context, ln *lane, pending []int64, deadline time.Time) error {
	client, err := s.client(ln)
	if err != nil {
		return err
	}
	total := len(pending)
	wait := min(firstAckPoll, s.cfg.AckPollInterval)
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for acknowledgement of %d of %d requests: %w", len(pending), total, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, s.cfg.AckPollInterval)

		token, _ := s.token.current()
		acked, err := s.pollAcks(ctx, ln, client, token, pending)
		switch {
		case err == nil:
			lastErr = nil
			pending = without(pending, acked)
			if len(pending) == 0 {
				return nil
			}
		case sinks.IsPermanent(err) || ctx.Err() != nil:
			return fmt.Errorf("poll acknowledgements from %s: %w", s.base.Host, err)
		default:
			lastErr = err
		}
		left := deadline.Sub(s.now())
		if left <= 0 {
			if lastErr != nil {
				return fmt.Errorf("no acknowledgement of %d of %d requests within %s (last poll: %w)", len(pending), total, s.cfg.AckTimeout, lastErr)
			}
			return fmt.Errorf("no acknowledgement of %d of %d requests within %s", len(pending), total, s.cfg.AckTimeout)
		}
		timer.Reset(min(wait, left))
	}
}

// pollAcks asks the collector, over ln, which of ids are acknowledged.
func (s *Sink) pollAcks(ctx context.Context, ln *lane, client *http.Client, token string, ids []int64) ([]int64, error) {
	b := append(ln.ackBuf[:0], `{"acks":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, "]}"...)
	ln.ackBuf = b

	status, data, err := s.do(ctx, ln, client, token, ln.ackURL, b, false)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		_, err := checkReply(&ln.parser, status, data)
		if err == nil {
			err = fmt.Errorf("unexpected status %d", status)
		}
		return nil, err
	}
	return parseAcks(&ln.parser, data)
}

// without returns ids less those in acked, reusing ids' array.
func without(ids, acked []int64) []int64 {
	out := ids[:0]
	for _, id := range ids {
		found := false
		for _, a := range acked {
			if a == id {
				found = true
				break
			}
		}
		if !found {
			out = append(out, id)
		}
	}
	return out
}

// redactedError is an error whose message had the token removed; it
// still wraps the original, so that its marks (Permanent, Refusing,
// RefusedAt) are kept.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redact removes token from err's message. The collector and the
// libraries below never put it there, but an error message ends up in
// logs and status pages, where a token must not.
func (s *Sink) redact(err error, token string) error {
	if err == nil || token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), token, "[token]"), err: err}
}
