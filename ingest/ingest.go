package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

// Config holds ingest's limits and windows. Zero values are the defaults.
type Config struct {
	// MaxBodyBytes bounds a request body after decompression (64 MiB).
	MaxBodyBytes int64 `yaml:"max_body_bytes" size:"bytes"`
	// MaxEvents bounds the events of one request (100,000).
	MaxEvents int `yaml:"max_events"`
	// MaxEventBytes bounds one event's JSON (1 MiB); a longer one is
	// rejected on its own.
	MaxEventBytes int `yaml:"max_event_bytes" size:"bytes"`
	// Limits are the schema's per-field limits (string length, extras).
	Limits schema.Limits `yaml:",inline"`
	// DedupWindow and DedupMaxIDs bound the event_ids remembered to
	// answer re-sent events as duplicates (24 h, 10 million).
	DedupWindow time.Duration `yaml:"dedup_window"`
	DedupMaxIDs int           `yaml:"dedup_max_ids"`
	// DeviceRate is the events per second one device may submit on
	// average (100,000), DeviceBurst how many at once (MaxEvents at
	// least). Over it: 429 with Retry-After.
	DeviceRate  float64 `yaml:"device_rate"`
	DeviceBurst int     `yaml:"device_burst"`
	// MaxInflightBytes bounds the body bytes all requests hold at once,
	// compressed and decoded (256 MiB, or twice MaxBodyBytes if more); a
	// request that would pass it is answered 503 overloaded with
	// Retry-After. At least twice MaxBodyBytes: a body may hold that
	// much while it is read.
	MaxInflightBytes int64 `yaml:"max_inflight_bytes" size:"bytes"`
	// BodyTimeout is how long a request body may take to arrive (60 s);
	// a slower one is cut off with 408 body_timeout.
	BodyTimeout time.Duration `yaml:"body_timeout"`
}

// Validate checks that no limit is negative.
func (c Config) Validate() error {
	var p config.Problems
	p.NotNegative("max_body_bytes", c.MaxBodyBytes)
	p.NotNegative("max_events", int64(c.MaxEvents))
	p.NotNegative("max_event_bytes", int64(c.MaxEventBytes))
	p.NotNegative("max_string_len", int64(c.Limits.MaxStringLen))
	p.NotNegative("max_extra_fields", int64(c.Limits.MaxExtraFields))
	p.NotNegative("max_extra_bytes", int64(c.Limits.MaxExtraBytes))
	p.NotNegative("dedup_window", int64(c.DedupWindow))
	p.NotNegative("dedup_max_ids", int64(c.DedupMaxIDs))
	if c.DeviceRate < 0 {
		p.Add("device_rate", "must not be negative")
	}
	p.NotNegative("device_burst", int64(c.DeviceBurst))
	p.NotNegative("max_inflight_bytes", c.MaxInflightBytes)
	p.NotNegative("body_timeout", int64(c.BodyTimeout))
	if c.MaxInflightBytes > 0 && c.MaxInflightBytes < 2*c.withDefaults().MaxBodyBytes {
		p.Add("max_inflight_bytes", "must be at least twice max_body_bytes")
	}
	if c.MaxEventBytes > 0 && c.MaxBodyBytes > 0 && int64(c.MaxEventBytes) > c.MaxBodyBytes {
		p.Add("max_event_bytes", "must not exceed max_body_bytes")
	}
	return p.Err()
}

func (c Config) withDefaults() Config {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 20
	}
	if c.MaxEvents <= 0 {
		c.MaxEvents = 100_000
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = 1 << 20
	}
	if c.DedupWindow <= 0 {
		c.DedupWindow = 24 * time.Hour
	}
	if c.DedupMaxIDs <= 0 {
		c.DedupMaxIDs = 10_000_000
	}
	if c.DeviceRate <= 0 {
		c.DeviceRate = 100_000
	}
	c.DeviceBurst = max(c.DeviceBurst, c.MaxEvents)
	if c.MaxInflightBytes <= 0 {
		c.MaxInflightBytes = max(256<<20, 2*c.MaxBodyBytes)
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = time.Minute
	}
	return c
}

// SeqObserver records the per-device sequence numbers of uploaded events
// and returns the gaps it finds (internal/auth's store), raising their
// alerts itself.
type SeqObserver interface {
	ObserveSeq(ctx context.Context, deviceID string, seqs []int64) ([]auth.Gap, error)
}

// Result is the answer to one batch.
type Result struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []Rejection `json:"rejected"`
}

// Rejection says why the event at Index was not accepted.
type Rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id,omitempty"`
	Error   string `json:"error"`
}

// Ingester is the one way events enter the log: it normalizes, drops
// duplicates, quarantines what it rejects and appends the rest, returning
// only once they are durable.
type Ingester struct {
	cfg        Config
	log        eventlog.Appender
	quarantine *Quarantine
	seqs       SeqObserver
	window     *window
	pool       sync.Pool
	metrics    *Metrics
	logger     *slog.Logger
	now        func() time.Time
}

// New returns an Ingester appending to log. quarantine is required; seqs
// and metrics may be nil.
func New(log eventlog.Appender, quarantine *Quarantine, cfg Config, seqs SeqObserver, metrics *Metrics, logger *slog.Logger) *Ingester {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	in := &Ingester{
		cfg: cfg, log: log, quarantine: quarantine, seqs: seqs, metrics: metrics, logger: logger,
		window: newWindow(cfg.DedupWindow, cfg.DedupMaxIDs),
		now:    time.Now,
	}
	in.pool.New = func() any { return schema.NewNormalizer(cfg.Limits) }
	return in
}

// Replayer reads back recent records of the log.
type Replayer interface {
	Replay(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error
}

// Rebuild fills the dedup window from the log's records of the last
// window, so that duplicates are caught across restarts. It returns how
// many ids it read.
func (in *Ingester) Rebuild(ctx context.Context, r Replayer) (int, error) {
	n := 0
	err := r.Replay(ctx, in.now().Add(-in.cfg.DedupWindow), func(rec eventlog.Record) error {
		in.window.add(rec.ID, rec.Time)
		n++
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("rebuild dedup window: %w", err)
	}
	return n, nil
}

// Ingest takes the raw events of one batch from submitter (zero for
// Vigil's own events). Valid events are appended once, duplicates
// counted, and the rest quarantined with their reasons. It returns once
// everything accepted is durable; an error means nothing of the batch
// may be assumed accepted (eventlog.ErrFull: try again later).
func (in *Ingester) Ingest(ctx context.Context, submitter schema.Submitter, raws [][]byte) (Result, error) {
	now := in.now()
	meta := schema.Meta{Submitter: submitter, ReceivedAt: now}
	n := in.pool.Get().(*schema.Normalizer)
	res := Result{Rejected: []Rejection{}}
	events := make([]*schema.Event, 0, len(raws))
	var quarantined []Quarantined
	var rejectedSeqs []int64
	reject := func(i int, raw []byte, code, reason string) {
		// A rejected event still used its sequence number: without it,
		// the device would look as if it had withheld one.
		if seq := fastjson.GetInt(raw, "seq"); seq > 0 {
			rejectedSeqs = append(rejectedSeqs, int64(seq))
		}
		r := Rejection{Index: i, EventID: fastjson.GetString(raw, "event_id"), Error: reason}
		res.Rejected = append(res.Rejected, r)
		quarantined = append(quarantined, Quarantined{ReceivedAt: now, Submitter: submitter, Reason: reason, Raw: string(raw)})
		in.metrics.rejected(code)
	}
	size := 0
	for i, raw := range raws {
		size += len(raw)
		e, code, reason := in.check(n, raw, meta)
		if e == nil {
			reject(i, raw, code, reason)
			continue
		}
		events = append(events, e)
	}
	in.pool.Put(n)

	if submitter.DeviceID != "" && in.seqs != nil {
		in.observeSeqs(ctx, submitter, events, rejectedSeqs)
	}

	// What is rejected is kept before anything is acknowledged.
	if err := in.quarantine.Add(ctx, quarantined); err != nil {
		return Result{}, err
	}
	fresh, err := in.commit(ctx, events, now)
	if err != nil {
		return Result{}, err
	}
	res.Accepted = count(fresh)
	res.Duplicates = len(events) - res.Accepted
	in.metrics.batch(len(raws), size, res.Accepted, res.Duplicates)
	return res, nil
}

// check normalizes one raw event, or says why it is rejected: its
// metric code and its reason.
func (in *Ingester) check(n *schema.Normalizer, raw []byte, meta schema.Meta) (e *schema.Event, code, reason string) {
	if len(raw) > in.cfg.MaxEventBytes {
		return nil, "too_large", "event over " + strconv.Itoa(in.cfg.MaxEventBytes) + " bytes (limit max_event_bytes)"
	}
	e, err := n.Normalize(raw, meta)
	if err != nil {
		code, reason := "invalid", err.Error()
		var verr *schema.ValidationError
		if errors.As(err, &verr) {
			code = verr.Code
			if code == schema.CodeTooLong && verr.Reason == "longer than "+strconv.Itoa(n.Limits().MaxStringLen)+" bytes" {
				reason += " (limit max_string_len)"
			}
		}
		return nil, code, reason
	}
	return e, "", ""
}

// commit appends the events whose ids the dedup window has not seen, in
// one append, and returns which ones those were. On error nothing may be
// assumed appended.
func (in *Ingester) commit(ctx context.Context, events []*schema.Event, now time.Time) ([]bool, error) {
	ids := make([]string, len(events))
	for i, e := range events {
		ids[i] = e.ID()
	}
	fresh := in.window.reserve(ids, now)
	var recs []eventlog.Record
	var freshIDs []string
	for i, e := range events {
		if fresh[i] {
			recs = append(recs, eventlog.RecordOf(e))
			freshIDs = append(freshIDs, ids[i])
		}
	}
	if len(recs) == 0 {
		return fresh, nil
	}
	start := time.Now()
	err := in.append(ctx, recs)
	in.metrics.appended(time.Since(start), err)
	if err != nil {
		in.window.release(freshIDs)
		return nil, fmt.Errorf("append %d events: %w", len(recs), err)
	}
	in.window.keep(freshIDs, now)
	return fresh, nil
}

// appendTimeout bounds an append once begun.
const appendTimeout = time.Minute

// append appends recs, finishing even when the client goes away: an
// append cancelled half-way may still store the records, and their ids
// would then be released from the dedup window while they sit in the
// log, so that a retry appends them twice.
func (in *Ingester) append(ctx context.Context, recs []eventlog.Record) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), appendTimeout)
	defer cancel()
	return in.log.Append(ctx, recs)
}

// observeSeqs records the agent's sequence numbers of a batch, those of
// its rejected events included. The store raises the alert of each gap
// through its outbox; failures are logged: the events themselves are
// safe.
func (in *Ingester) observeSeqs(ctx context.Context, submitter schema.Submitter, events []*schema.Event, seqs []int64) {
	for _, e := range events {
		raw := e.Extra("seq")
		if raw == nil {
			continue
		}
		if s, err := strconv.ParseInt(string(raw), 10, 64); err == nil && s > 0 {
			seqs = append(seqs, s)
		}
	}
	if len(seqs) == 0 {
		return
	}
	gaps, err := in.seqs.ObserveSeq(ctx, submitter.DeviceID, seqs)
	if err != nil {
		in.logger.Warn("record sequence numbers", "device", submitter.DeviceID, "err", err)
		return
	}
	for range gaps {
		in.metrics.seqGap()
	}
}

// ReplayQuarantine runs quarantined events through ingest again (after a
// fix): those accepted now (or found to be duplicates) are marked
// replayed; the others keep their entry and first reason, with the new
// reason as replay_error. A whole body is split again: its valid events
// are accepted and the rest become entries of their own, unless none is
// valid, when the body's entry stays as it is. It counts events.
func (in *Ingester) ReplayQuarantine(ctx context.Context, ids []int64) (replayed, rejected int, err error) {
	after := int64(0)
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for {
		page, err := in.quarantine.List(ctx, ListOptions{After: after, Limit: 100})
		if err != nil {
			return replayed, rejected, err
		}
		if len(page) == 0 {
			return replayed, rejected, nil
		}
		for _, q := range page {
			after = q.ID
			if len(want) > 0 && !want[q.ID] {
				continue
			}
			replayOne := in.replayOne
			if q.WholeBody {
				replayOne = in.replayBody
			}
			r, a, err := replayOne(ctx, q)
			if err != nil {
				return replayed, rejected, err
			}
			replayed += r
			rejected += a
		}
	}
}

func (in *Ingester) replayOne(ctx context.Context, q Quarantined) (replayed, rejected int, err error) {
	n := in.pool.Get().(*schema.Normalizer)
	e, _, reason := in.check(n, []byte(q.Raw), schema.Meta{Submitter: q.Submitter, ReceivedAt: in.now()})
	in.pool.Put(n)
	if e == nil {
		return 0, 1, in.quarantine.setReplayError(ctx, q.ID, reason)
	}
	fresh := in.window.reserve([]string{e.ID()}, in.now())
	if fresh[0] {
		if err := in.append(ctx, []eventlog.Record{eventlog.RecordOf(e)}); err != nil {
			in.window.release([]string{e.ID()})
			return 0, 0, fmt.Errorf("replay quarantined event %d: %w", q.ID, err)
		}
		in.window.keep([]string{e.ID()}, in.now())
	}
	return 1, 0, in.quarantine.markReplayed(ctx, q.ID, e.ID(), in.now())
}

// replayBody splits a quarantined whole body again.
func (in *Ingester) replayBody(ctx context.Context, q Quarantined) (replayed, rejected int, err error) {
	body := []byte(q.Raw)
	if q.ContentEncoding == "gzip" {
		// What decodes of a truncated stream; a body that was not gzip
		// at all is split as it came.
		if d := gunzipPrefix(body, in.cfg.MaxBodyBytes); len(d) > 0 {
			body = d
		}
	}
	now := in.now()
	meta := schema.Meta{Submitter: q.Submitter, ReceivedAt: now}
	n := in.pool.Get().(*schema.Normalizer)
	var (
		events  []*schema.Event
		rejects []Quarantined
	)
	for _, raw := range splitLenient(body) {
		e, _, reason := in.check(n, raw, meta)
		if e == nil {
			rejects = append(rejects, Quarantined{ReceivedAt: q.ReceivedAt, Submitter: q.Submitter, Reason: reason, Raw: string(raw)})
			continue
		}
		events = append(events, e)
	}
	in.pool.Put(n)
	if len(events) == 0 {
		reason := "no valid event in the body"
		if len(rejects) > 0 {
			reason += "; the first part: " + rejects[0].Reason
		}
		return 0, 1, in.quarantine.setReplayError(ctx, q.ID, reason)
	}
	if err := in.quarantine.Add(ctx, rejects); err != nil {
		return 0, 0, fmt.Errorf("replay quarantined body %d: %w", q.ID, err)
	}
	for len(events) > 0 {
		batch := events[:min(len(events), in.cfg.MaxEvents)]
		events = events[len(batch):]
		if _, err := in.commit(ctx, batch, now); err != nil {
			return replayed, 0, fmt.Errorf("replay quarantined body %d: %w", q.ID, err)
		}
		replayed += len(batch)
	}
	return replayed, len(rejects), in.quarantine.markReplayed(ctx, q.ID, "", now)
}
