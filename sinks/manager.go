package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Errors the Manager returns that callers branch on.
var (
	ErrNotFound = errors.New("no such sink")
	ErrBusy     = errors.New("a replay is already running for this sink")
	// ErrNoReplay means the log cannot replay from a time.
	ErrNoReplay = errors.New("this event log cannot replay")
	// ErrStopping means the server is shutting down.
	ErrStopping = errors.New("shutting down")
)

// DeliveryError is a failure of the downstream system during a replay,
// as opposed to one of Vigil's own.
type DeliveryError struct{ Err error }

func (e *DeliveryError) Error() string { return e.Err.Error() }
func (e *DeliveryError) Unwrap() error { return e.Err }

// LagFunc returns how many records a consumer group has not committed.
type LagFunc func(ctx context.Context, group string) (int64, error)

// ReplayFunc calls fn, in order per key, for the log's records stored at
// or after since.
type ReplayFunc func(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error

// Status is what an operator sees of one sink.
type Status struct {
	Name     string `json:"name"`
	Kind     string `json:"kind"`
	Group    string `json:"group"`
	Required bool   `json:"required"`
	// State is "ok" (the last write succeeded), "retrying" (it failed,
	// or the receiver keeps ending connections before what it took
	// settled; events wait and are sent again), "refusing" (the
	// downstream refuses the sink itself: an unknown index parks events
	// in the dead letter, while a disabled or invalid Splunk token, or a
	// token without the acknowledgement the sink needs, keeps them
	// waiting and retried) or "idle" (nothing written yet).
	State     string `json:"state"`
	Connected *bool  `json:"connected,omitempty"`
	// Lag is how many records of the log the sink has not yet delivered.
	Lag      int64  `json:"lag"`
	LagError string `json:"lag_error,omitempty"`
	// Counters since start.
	Sent         uint64 `json:"sent"`
	Retried      uint64 `json:"retried"`
	DeadLettered uint64 `json:"dead_lettered"`
	BytesSent    uint64 `json:"bytes_sent"`
	// Settled counts events whose delivery is final; Unsettled is how
	// many the receiver took that wait for the settle time now (stream
	// kinds), and Resent how many were written again because their
	// connection ended before they settled.
	Settled   uint64 `json:"settled"`
	Unsettled int64  `json:"unsettled"`
	Resent    uint64 `json:"resent"`
	// Oversize counts events larger than MaxFrameBytes, the sink's
	// frame limit (0: none), handled by its OversizePolicy.
	Oversize       uint64 `json:"oversize"`
	MaxFrameBytes  int    `json:"max_frame_bytes,omitempty"`
	OversizePolicy string `json:"oversize_policy,omitempty"`
	// DeadLetter is how many events wait in the dead letter now.
	DeadLetter      int64         `json:"dead_letter"`
	DeadLetterError string        `json:"dead_letter_error,omitempty"`
	LastError       string        `json:"last_error,omitempty"`
	LastErrorAt     *time.Time    `json:"last_error_at,omitempty"`
	LastSentAt      *time.Time    `json:"last_sent_at,omitempty"`
	Replay          *ReplayStatus `json:"replay,omitempty"`
}

// ReplayStatus is the progress of re-sending a sink's events from a
// point in the log.
type ReplayStatus struct {
	Since      time.Time  `json:"since"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// State is "running", "done", "failed" or "cancelled".
	State   string `json:"state"`
	Scanned int64  `json:"scanned"`
	Sent    int64  `json:"sent"`
	Error   string `json:"error,omitempty"`
}

// DeadLetterReplay is the outcome of re-sending a sink's dead letter.
type DeadLetterReplay struct {
	Replayed  int   `json:"replayed"`
	Remaining int64 `json:"remaining"`
}

// ManagerConfig gives the Manager what it needs of the log.
type ManagerConfig struct {
	DeadLetter *DeadLetter
	Lag        LagFunc
	Replay     ReplayFunc
	Logger     *slog.Logger
}

// Manager holds the running forwarders: it reports their status, and
// runs replays from the log and from the dead letters.
type Manager struct {
	cfg    ManagerConfig
	list   []*Forwarder
	byName map[string]*Forwarder

	base   context.Context
	cancel context.CancelFunc
	// mu guards stopped and wg.Add, so that no replay starts after Run
	// began waiting for them.
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// NewManager returns a manager of fs.
func NewManager(fs []*Forwarder, cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, list: fs, byName: make(map[string]*Forwarder, len(fs))}
	for _, f := range fs {
		m.byName[f.Name()] = f
	}
	m.base, m.cancel = context.WithCancel(context.Background())
	return m
}

// Forwarders returns the forwarders in configuration order.
func (m *Manager) Forwarders() []*Forwarder { return m.list }

// Run waits for ctx to end, then stops the replays and waits for them.
func (m *Manager) Run(ctx context.Context) error {
	<-ctx.Done()
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
	return nil
}

// start runs fn in a goroutine that Run waits for; false when stopping.
func (m *Manager) start(fn func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return false
	}
	m.wg.Go(fn)
	return true
}

// Status returns every sink's status, in configuration order.
func (m *Manager) Status(ctx context.Context) []Status {
	out := make([]Status, 0, len(m.list))
	for _, f := range m.list {
		out = append(out, m.status(ctx, f))
	}
	return out
}

// SinkStatus returns one sink's status.
func (m *Manager) SinkStatus(ctx context.Context, name string) (Status, error) {
	f, ok := m.byName[name]
	if !ok {
		return Status{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return m.status(ctx, f), nil
}

// Healthy returns nil while the named sink delivers (or has had nothing
// to deliver yet), and its last error while it retries or is refused,
// for readiness checks.
func (m *Manager) Healthy(ctx context.Context, name string) error {
	st, err := m.SinkStatus(ctx, name)
	if err != nil {
		return err
	}
	switch st.State {
	case "retrying", "refusing":
		return fmt.Errorf("%s: %s", st.State, st.LastError)
	}
	return nil
}

func (m *Manager) status(ctx context.Context, f *Forwarder) Status {
	st := Status{Name: f.cfg.Name, Kind: f.cfg.Kind, Group: f.Group(), Required: f.cfg.Required, State: "idle"}
	if c, ok := f.sink.(Connected); ok {
		v := c.Connected()
		st.Connected = &v
	}
	f.stateMu.Lock()
	s := f.state
	if s.replay != nil {
		r := *s.replay
		st.Replay = &r
	}
	f.stateMu.Unlock()
	switch {
	case s.failing, s.lost:
		st.State = "retrying"
	case s.refusing:
		st.State = "refusing"
	case !s.lastSentAt.IsZero():
		st.State = "ok"
	}
	st.Sent, st.Retried, st.DeadLettered, st.BytesSent = s.sent, s.retried, s.dead, s.bytes
	st.Settled, st.Unsettled, st.Resent = s.settled, s.unsettled, s.resent
	st.Oversize = s.oversize.count
	if o := &f.oversize; o.framer != nil { // fields set once, in NewForwarder
		st.MaxFrameBytes, st.OversizePolicy = o.limit, o.policy
	}
	st.LastError = s.lastError
	if !s.lastErrorAt.IsZero() {
		t := s.lastErrorAt.UTC()
		st.LastErrorAt = &t
	}
	if !s.lastSentAt.IsZero() {
		t := s.lastSentAt.UTC()
		st.LastSentAt = &t
	}
	if m.cfg.Lag != nil {
		lag, err := m.cfg.Lag(ctx, f.Group())
		if err != nil {
			st.LagError = err.Error()
		}
		st.Lag = lag
	}
	n, err := m.cfg.DeadLetter.Count(ctx, f.cfg.Name)
	if err != nil {
		st.DeadLetterError = err.Error()
		return st
	}
	st.DeadLetter = n
	if met := f.cfg.Metrics; met != nil {
		met.deadLetter.WithLabelValues(f.cfg.Name).Set(float64(n))
	}
	return st
}

// replayBatch is how many records a replay from the log writes at once.
const replayBatch = 1000

// StartReplay begins re-sending, in the background, the events of the
// log stored at or after since that pass sink name's filter. The sink's
// own position in the log does not move. One replay runs per sink.
func (m *Manager) StartReplay(name string, since time.Time) (ReplayStatus, error) {
	f, ok := m.byName[name]
	if !ok {
		return ReplayStatus{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if m.cfg.Replay == nil {
		return ReplayStatus{}, ErrNoReplay
	}
	f.stateMu.Lock()
	if f.state.replay != nil && f.state.replay.State == "running" {
		f.stateMu.Unlock()
		return ReplayStatus{}, fmt.Errorf("sink %s: %w", name, ErrBusy)
	}
	st := &ReplayStatus{Since: since.UTC(), StartedAt: f.cfg.Now().UTC(), State: "running"}
	f.state.replay = st
	snapshot := *st
	f.stateMu.Unlock()

	started := m.start(func() {
		err := m.resend(m.base, f, since, st)
		now := f.cfg.Now().UTC()
		f.stateMu.Lock()
		st.FinishedAt = &now
		switch {
		case err == nil:
			st.State = "done"
		case m.base.Err() != nil:
			st.State, st.Error = "cancelled", "the server stopped"
		default:
			st.State, st.Error = "failed", err.Error()
		}
		done := *st
		f.stateMu.Unlock()
		f.logger.Info("replay from the log finished", "since", since, "state", done.State, "scanned", done.Scanned, "sent", done.Sent, "err", done.Error)
	})
	if !started {
		f.stateMu.Lock()
		f.state.replay = nil
		f.stateMu.Unlock()
		return ReplayStatus{}, ErrStopping
	}
	f.logger.Info("replay from the log started", "since", since)
	return snapshot, nil
}

// resend feeds the log's records since since through f in batches,
// retrying each batch until it is delivered or ctx ends. Over a sink
// whose batches settle later, it writes on while they settle, and ends
// once every batch settled; when one is lost, the replay fails (the
// events may not all have arrived) and is to be started again.
func (m *Manager) resend(ctx context.Context, f *Forwarder, since time.Time, st *ReplayStatus) error {
	batch := make([]eventlog.Record, 0, replayBatch)
	var settling []eventlog.Settlement
	// settled drops the settled batches at the head of settling; with
	// wait, it waits for all of them.
	settled := func(wait bool) error {
		for len(settling) > 0 {
			var err error
			if wait {
				select {
				case err = <-settling[0]:
				case <-ctx.Done():
					return ctx.Err()
				}
			} else {
				select {
				case err = <-settling[0]:
				default:
					return nil
				}
			}
			if err != nil {
				return fmt.Errorf("sink %s: a connection ended before replayed events settled: %w", f.cfg.Name, err)
			}
			settling = settling[1:]
		}
		return nil
	}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		var sent int
		var settle eventlog.Settlement
		err := retry(ctx, func() error {
			f.mu.Lock()
			defer f.mu.Unlock()
			var err error
			sent, settle, err = f.deliverSettling(ctx, batch)
			return err
		})
		if err != nil {
			return err
		}
		if settle != nil {
			settling = append(settling, settle)
		}
		if err := settled(false); err != nil {
			return err
		}
		f.stateMu.Lock()
		st.Scanned += int64(len(batch))
		st.Sent += int64(sent)
		f.stateMu.Unlock()
		batch = batch[:0]
		return nil
	}
	var sinkErr error
	err := m.cfg.Replay(ctx, since, func(r eventlog.Record) error {
		// The log may reuse its buffers after fn returns.
		r.Key, r.Value = append([]byte(nil), r.Key...), append([]byte(nil), r.Value...)
		batch = append(batch, r)
		if len(batch) == replayBatch {
			sinkErr = flush()
			return sinkErr
		}
		return nil
	})
	switch {
	case sinkErr != nil:
		return sinkErr // the forwarder's error names the sink
	case err != nil:
		return fmt.Errorf("read the log: %w", err)
	}
	if err := flush(); err != nil {
		return err
	}
	return settled(true)
}

// retry calls fn until it returns nil or ctx ends, waiting with
// exponential backoff and jitter (100ms to 30s) between calls.
func retry(ctx context.Context, fn func() error) error {
	wait := 100 * time.Millisecond
	for {
		err := fn()
		if err == nil {
			return nil
		}
		t := time.NewTimer(wait/2 + rand.N(wait/2+1))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// deadLetterPage is how many parked events a dead-letter replay reads and
// writes at once.
const deadLetterPage = 500

// ListDeadLetter returns up to limit of sink name's parked events after
// the id after.
func (m *Manager) ListDeadLetter(ctx context.Context, name string, after int64, limit int) ([]Parked, error) {
	if _, ok := m.byName[name]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	return m.cfg.DeadLetter.List(ctx, name, after, limit)
}

// ReplayDeadLetter writes sink name's parked events to it again, oldest
// first, and removes those it delivers. Events it still refuses
// permanently stay parked; a retryable failure stops the replay with an
// error (what was delivered until then is removed).
func (m *Manager) ReplayDeadLetter(ctx context.Context, name string) (DeadLetterReplay, error) {
	f, ok := m.byName[name]
	if !ok {
		return DeadLetterReplay{}, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if !f.dlReplay.TryLock() {
		return DeadLetterReplay{}, fmt.Errorf("sink %s dead letter: %w", name, ErrBusy)
	}
	defer f.dlReplay.Unlock()
	var out DeadLetterReplay
	var after int64
	for {
		page, err := m.cfg.DeadLetter.List(ctx, name, after, deadLetterPage)
		if err != nil {
			return out, err
		}
		if len(page) == 0 {
			break
		}
		after = page[len(page)-1].ID
		delivered, err := f.redeliver(ctx, page)
		if rmErr := m.cfg.DeadLetter.Remove(ctx, name, delivered); rmErr != nil {
			return out, rmErr
		}
		out.Replayed += len(delivered)
		if err != nil {
			return out, &DeliveryError{Err: fmt.Errorf("replay dead letter of sink %s: %w", name, err)}
		}
	}
	n, err := m.cfg.DeadLetter.Count(ctx, name)
	if err != nil {
		return out, err
	}
	out.Remaining = n
	f.logger.Info("dead letter replayed", "replayed", out.Replayed, "remaining", out.Remaining)
	return out, nil
}

// redeliver writes parked events and returns the ids of those delivered.
// A page refused permanently is written one event at a time, so that only
// the refused ones stay parked.
func (f *Forwarder) redeliver(ctx context.Context, page []Parked) ([]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs := make([]eventlog.Record, 0, len(page))
	ids := make([]int64, 0, len(page))
	for _, p := range page {
		// An event still over the frame limit stays parked (oversize.go).
		if r, still := f.stillOversize(p.record()); !still {
			recs, ids = append(recs, r), append(ids, p.ID)
		}
	}
	if len(recs) == 0 {
		return nil, nil
	}
	err := f.sink.Write(ctx, recs)
	switch {
	case err == nil:
		f.delivered(recs, true)
		return ids, nil
	case !IsPermanent(err):
		return nil, err
	case len(recs) == 1:
		return nil, nil // still refused: it stays parked
	}
	var done []int64
	start := 0
	if i, ok := RefusedIndex(err); ok && i >= 0 && i < len(recs) {
		// The sink took the records before i: only the rest is tried.
		if i > 0 {
			f.delivered(recs[:i], true)
		}
		done, start = append(done, ids[:i]...), i+1
	}
	for i := start; i < len(recs); i++ {
		err := f.sink.Write(ctx, recs[i:i+1])
		switch {
		case err == nil:
			f.delivered(recs[i:i+1], true)
			done = append(done, ids[i])
		case !IsPermanent(err):
			return done, err
		}
	}
	return done, nil
}
