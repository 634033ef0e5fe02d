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

// Sink sends batches of events to a Splunk HTTP Event Collector. Write is
// not safe for concurrent use with itself; Close and Connected may be
// called at any time.
type Sink struct {
	cfg      Config
	base     *url.URL
	eventURL string
	ackURL   string
	auth     string

	enc    *encoder
	parser fastjson.Parser
	ackBuf []byte

	// reached is whether the last request got an HTTP answer.
	reached atomic.Bool

	mu        sync.Mutex
	closed    bool
	transport *http.Transport
}

var (
	_ sinks.Sink      = (*Sink)(nil)
	_ sinks.Connected = (*Sink)(nil)
)

// New returns a Sink for cfg. It makes no network call and reads no file:
// the first Write connects, and TLS files are read then.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("splunkhec config: %w", err)
	}
	cfg = cfg.withDefaults()
	base, _ := baseURL(cfg.URL) // checked by Validate
	ack := *base
	ack.Path += ackPath
	ack.RawQuery = url.Values{"channel": {cfg.Channel}}.Encode()
	return &Sink{
		cfg:      cfg,
		base:     base,
		eventURL: base.String() + eventPath,
		ackURL:   ack.String(),
		auth:     "Splunk " + cfg.Token,
		enc:      newEncoder(cfg),
	}, nil
}

// Channel returns the HEC channel the sink sends on.
func (s *Sink) Channel() string { return s.cfg.Channel }

// Connected reports whether the last request reached the collector and
// got an HTTP answer, whatever its status.
func (s *Sink) Connected() bool { return s.reached.Load() }

// Close closes the sink's idle connections. Write fails after Close.
func (s *Sink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.transport != nil {
		s.transport.CloseIdleConnections()
	}
	s.reached.Store(false)
	return nil
}

// Write sends batch, in requests of at most MaxBatchBytes, and with Ack on
// waits until the indexers acknowledge every request. It returns nil only
// when all of that succeeded; an error wrapped by sinks.Permanent when the
// collector refuses the events in a way a retry cannot change; and a plain
// error otherwise, after which the whole batch is to be written again.
// Canceling ctx interrupts the requests and the wait for
// acknowledgements.
func (s *Sink) Write(ctx context.Context, batch []eventlog.Record) error {
	if len(batch) == 0 {
		return nil
	}
	return s.redact(s.write(ctx, batch))
}

func (s *Sink) write(ctx context.Context, batch []eventlog.Record) error {
	client, err := s.client()
	if err != nil {
		return err
	}
	var acks []int64
	for sent := 0; sent < len(batch); {
		n, err := s.enc.fill(batch[sent:])
		if err != nil {
			return err
		}
		body, err := s.enc.payload()
		if err != nil {
			return err
		}
		r, err := s.post(ctx, client, s.eventURL, body, s.cfg.Gzip)
		if err != nil {
			s.enc.forget()
			return fmt.Errorf("send events %d to %d of %d to %s: %w", sent+1, sent+n, len(batch), s.base.Host, err)
		}
		if s.cfg.Ack {
			if r.AckID < 0 {
				return sinks.PermanentAll(fmt.Errorf("send events %d to %d of %d to %s: collector returned no ackId; enable indexer acknowledgement on the token or turn ack off",
					sent+1, sent+n, len(batch), s.base.Host))
			}
			acks = append(acks, r.AckID)
		}
		sent += n
	}
	if len(acks) > 0 {
		return s.waitAcks(ctx, client, acks)
	}
	return nil
}

// client returns the HTTP client, built at the first call so that TLS
// files are read only then (and read again after a failure).
func (s *Sink) client() (*http.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	if s.transport == nil {
		tr, err := s.newTransport()
		if err != nil {
			return nil, err
		}
		s.transport = tr
	}
	return &http.Client{
		Transport: s.transport,
		// A redirect would turn the POST into a GET; report it instead.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func (s *Sink) newTransport() (*http.Transport, error) {
	var tc *tls.Config
	if s.base.Scheme == "https" {
		port := s.base.Port()
		if port == "" {
			port = "443"
		}
		tc = &tls.Config{MinVersion: tls.VersionTLS12}
		if s.cfg.TLS != nil {
			var err error
			tc, err = s.cfg.TLS.ClientConfig(net.JoinHostPort(s.base.Hostname(), port))
			if err != nil {
				return nil, fmt.Errorf("load tls settings: %w", err)
			}
		}
	}
	dialer := &net.Dialer{Timeout: s.cfg.Timeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		// No proxy: nothing here reads the environment.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tc,
		TLSHandshakeTimeout: s.cfg.Timeout,
		MaxIdleConns:        4,
		MaxIdleConnsPerHost: 4,
		IdleConnTimeout:     90 * time.Second,
	}, nil
}

// post sends one request with body to target and returns the collector's
// reply, or an error classified by checkReply. Transport errors are
// retryable.
func (s *Sink) post(ctx context.Context, client *http.Client, target string, body []byte, gzipped bool) (reply, error) {
	status, data, err := s.do(ctx, client, target, body, gzipped)
	if err != nil {
		return reply{}, err
	}
	return checkReply(&s.parser, status, data)
}

// do sends one request and returns the HTTP status and the reply's body.
// Its errors are the transport's, for the caller to wrap.
func (s *Sink) do(ctx context.Context, client *http.Client, target string, body []byte, gzipped bool) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, nil, sinks.Permanent(err)
	}
	req.Header.Set("Authorization", s.auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil")
	req.Header.Set("X-Splunk-Request-Channel", s.cfg.Channel)
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

// waitAcks polls the ack endpoint until every id in pending is
// acknowledged, AckTimeout passes, ctx is done or the collector refuses
// the poll for good. Failed polls are tried again until AckTimeout.
func (s *Sink) waitAcks(ctx context.Context, client *http.Client, pending []int64) error {
	total := len(pending)
	deadline := time.Now().Add(s.cfg.AckTimeout)
	wait := min(firstAckPoll, s.cfg.AckPollInterval)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var lastErr error
	for {
		timer.Reset(min(wait, max(time.Until(deadline), 0)))
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for acknowledgement of %d of %d requests: %w", len(pending), total, ctx.Err())
		case <-timer.C:
		}
		wait = min(2*wait, s.cfg.AckPollInterval)

		acked, err := s.pollAcks(ctx, client, pending)
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
		if !time.Now().Before(deadline) {
			if lastErr != nil {
				return fmt.Errorf("no acknowledgement of %d of %d requests within %s (last poll: %w)", len(pending), total, s.cfg.AckTimeout, lastErr)
			}
			return fmt.Errorf("no acknowledgement of %d of %d requests within %s", len(pending), total, s.cfg.AckTimeout)
		}
	}
}

// pollAcks asks the collector which of ids are acknowledged.
func (s *Sink) pollAcks(ctx context.Context, client *http.Client, ids []int64) ([]int64, error) {
	b := append(s.ackBuf[:0], `{"acks":[`...)
	for i, id := range ids {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, id, 10)
	}
	b = append(b, "]}"...)
	s.ackBuf = b

	status, data, err := s.do(ctx, client, s.ackURL, b, false)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		_, err := checkReply(&s.parser, status, data)
		if err == nil {
			err = fmt.Errorf("unexpected status %d", status)
		}
		return nil, err
	}
	return parseAcks(&s.parser, data)
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

// redact removes the token from err's message. The collector and the
// libraries below never put it there, but an error message ends up in
// logs and status pages, where a token must not.
func (s *Sink) redact(err error) error {
	if err == nil || !strings.Contains(err.Error(), s.cfg.Token) {
		return err
	}
	clean := errors.New(strings.ReplaceAll(err.Error(), s.cfg.Token, "[token]"))
	switch {
	case sinks.IsPermanentAll(err):
		return sinks.PermanentAll(clean)
	case sinks.IsPermanent(err):
		return sinks.Permanent(clean)
	}
	return clean
}
