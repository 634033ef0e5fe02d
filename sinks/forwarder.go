package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// ForwarderConfig configures one sink's Forwarder.
type ForwarderConfig struct {
	// Name is the sink's name; its log consumer group is "sink.NAME".
	Name string
	// Kind is the sink's kind (tcp, tls, splunkhec, syslog, relp), for status.
	Kind string
	// Required sinks keep the log from deleting what they have not
	// delivered; for status.
	Required bool
	// Filter chooses the events the sink receives.
	Filter Filter
	// DeadLetter keeps the events the sink refuses permanently.
	DeadLetter *DeadLetter
	// Metrics may be nil.
	Metrics *Metrics
	Logger  *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time

	// The frame limit (oversize.go): over a sink that is a Framer, a
	// record whose frame is larger than MaxFrameBytes (0: no limit) is
	// handled by the Oversize policy, and OnOversize (may be nil) raises
	// alert.sink.oversize, at most once an hour.
	MaxFrameBytes int
	Oversize      string
	OnOversize    func(OversizeAlert)
}

// Forwarder is the handler of one sink's log consumer group: it filters
// each batch, writes it to the sink, and sorts failures into retryable
// ones (returned, so the consume loop backs off and hands it the same
// batch again) and permanent ones (the refused events are parked in the
// dead letter and the log moves on).
type Forwarder struct {
	sink   Sink
	cfg    ForwarderConfig
	logger *slog.Logger

	// mu serializes writes: the consume loop, replays from the log and
	// dead-letter replays share the sink.
	mu      sync.Mutex
	match   *matcher
	scratch []eventlog.Record
	// dlReplay is held by the one dead-letter replay that may run.
	dlReplay sync.Mutex

	stateMu sync.Mutex
	state   forwarderState

	oversize oversize // f.mu
}

type forwarderState struct {
	sent, retried, dead, bytes uint64
	// settled counts events whose delivery can no longer be undone,
	// resent those whose connection ended before they settled (they are
	// written again); unsettled is how many wait to settle now.
	settled, resent         uint64
	unsettled               int64
	lastError               string
	lastErrorAt, lastSentAt time.Time
	failing, refusing       bool
	replay                  *ReplayStatus
	// lost is set while the batches the receiver took are lost before
	// they settle (its connections end within the settle time), until
	// one settles: the sink then retries, though its writes succeed.
	lost     bool
	oversize oversizeState
}

// NewForwarder returns the Forwarder of sink. It owns sink from then on
// and closes it in Close.
func NewForwarder(sink Sink, cfg ForwarderConfig) (*Forwarder, error) {
	if cfg.Name == "" {
		return nil, errors.New("forwarder needs a sink name")
	}
	if cfg.DeadLetter == nil {
		return nil, fmt.Errorf("sink %s: a dead letter is required", cfg.Name)
	}
	if err := cfg.Filter.Validate(); err != nil {
		return nil, fmt.Errorf("sink %s filter: %w", cfg.Name, err)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	f := &Forwarder{sink: sink, cfg: cfg, logger: cfg.Logger.With("sink", cfg.Name), match: newMatcher(cfg.Filter)}
	f.oversize = newOversize(sink, cfg)
	if m := cfg.Metrics; m != nil {
		// Create the series at zero, so that dashboards see every sink.
		m.sent.WithLabelValues(cfg.Name)
		m.retried.WithLabelValues(cfg.Name)
		m.dead.WithLabelValues(cfg.Name)
		m.bytes.WithLabelValues(cfg.Name)
		m.resent.WithLabelValues(cfg.Name)
		m.unsettled.WithLabelValues(cfg.Name)
		m.connected.WithLabelValues(cfg.Name)
		m.oversize.WithLabelValues(cfg.Name)
	}
	return f, nil
}

// Name returns the sink's name.
func (f *Forwarder) Name() string { return f.cfg.Name }

// Group returns the sink's log consumer group.
func (f *Forwarder) Group() string { return "sink." + f.cfg.Name }

// Handle delivers the events of batch that pass the filter. It returns
// nil once they are delivered or parked in the dead letter, and an error
// when the batch should be handed to it again.
func (f *Forwarder) Handle(ctx context.Context, batch []eventlog.Record) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	recs, err := f.limitFrames(ctx, f.filter(batch))
	if err != nil || len(recs) == 0 {
		return err
	}
	return f.deliver(ctx, recs, nil)
}

// HandleSettling is Handle for a consume loop that goes on while batches
// settle (an eventlog.SettlingHandler): over a sink that is a Settler it
// returns once the receiver took the batch, with the batch's settlement;
// over any other sink, a batch settles when it is delivered.
func (f *Forwarder) HandleSettling(ctx context.Context, batch []eventlog.Record) (eventlog.Settlement, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, settle, err := f.deliverSettling(ctx, batch)
	return settle, err
}

// deliverSettling filters batch and delivers what passes, returning how
// many records that is and their settlement (nil when settled already).
// f.mu is held.
func (f *Forwarder) deliverSettling(ctx context.Context, batch []eventlog.Record) (int, eventlog.Settlement, error) {
	recs, err := f.limitFrames(ctx, f.filter(batch))
	if err != nil || len(recs) == 0 {
		return len(recs), nil, err
	}
	if _, ok := f.sink.(Settler); !ok {
		return len(recs), nil, f.deliver(ctx, recs, nil)
	}
	j := newJoin(f)
	if err := f.deliver(ctx, recs, j); err != nil {
		return len(recs), nil, err
	}
	return len(recs), j.seal(), nil
}

// filter returns the records that pass, in a slice reused between calls.
func (f *Forwarder) filter(batch []eventlog.Record) []eventlog.Record {
	if f.cfg.Filter.IsZero() {
		return batch
	}
	f.scratch = f.scratch[:0]
	for _, r := range batch {
		if f.match.keep(r.Value) {
			f.scratch = append(f.scratch, r)
		}
	}
	return f.scratch
}

// deliver writes recs. On a permanent refusal of several records it
// writes each half again, down to single records, so that only the
// records the sink refuses are parked; a refusal of the sink itself
// (PermanentAll) parks them all at once. With j, the sink is a Settler
// and each write's settlement joins j. f.mu is held.
func (f *Forwarder) deliver(ctx context.Context, recs []eventlog.Record, j *join) error {
	var err error
	if j != nil {
		settled := j.part(len(recs))
		if err = f.sink.(Settler).WriteSettling(ctx, recs, settled); err != nil {
			j.unpart(len(recs))
		}
	} else {
		err = f.sink.Write(ctx, recs)
	}
	f.observeConnection()
	switch {
	case err == nil:
		f.delivered(recs, j == nil)
		return nil
	case ctx.Err() != nil:
		return err
	case IsRefusing(err):
		f.refused(err, len(recs))
		return fmt.Errorf("sink %s: %w", f.cfg.Name, err)
	case !IsPermanent(err):
		f.failed(err, len(recs))
		return fmt.Errorf("sink %s: %w", f.cfg.Name, err)
	}
	if i, ok := RefusedIndex(err); ok && i >= 0 && i < len(recs) {
		return f.deliverPast(ctx, recs, i, err, j)
	}
	switch {
	case len(recs) > 1 && !IsPermanentAll(err):
		half := len(recs) / 2
		if err := f.deliver(ctx, recs[:half], j); err != nil {
			return err
		}
		return f.deliver(ctx, recs[half:], j)
	}
	return f.park(ctx, recs, err)
}

// deliverPast handles a write of recs of which the sink took recs[:i]
// and refused recs[i] (RefusedAt): it counts the first delivered, parks
// the refused one alone and writes the rest again. f.mu is held.
func (f *Forwarder) deliverPast(ctx context.Context, recs []eventlog.Record, i int, reason error, j *join) error {
	if i > 0 {
		f.delivered(recs[:i], true)
	}
	if err := f.park(ctx, recs[i:i+1], reason); err != nil {
		return err
	}
	if rest := recs[i+1:]; len(rest) > 0 {
		return f.deliver(ctx, rest, j)
	}
	return nil
}

// park stores refused records in the dead letter; an error there is
// retryable (the batch is handed over again, and nothing moves on).
func (f *Forwarder) park(ctx context.Context, recs []eventlog.Record, reason error) error {
	now := f.cfg.Now()
	if err := f.cfg.DeadLetter.Park(ctx, f.cfg.Name, recs, reason.Error(), now); err != nil {
		f.failed(err, len(recs))
		return fmt.Errorf("sink %s: %w", f.cfg.Name, err)
	}
	f.logger.Warn("event refused permanently; parked in the dead letter", "event_id", recs[0].ID, "events", len(recs), "err", reason)
	f.stateMu.Lock()
	f.state.dead += uint64(len(recs))
	f.state.lastError, f.state.lastErrorAt = reason.Error(), now
	f.state.refusing = IsPermanentAll(reason)
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.dead.WithLabelValues(f.cfg.Name).Add(float64(len(recs)))
		m.lastError.WithLabelValues(f.cfg.Name).Set(float64(now.UnixMilli()) / 1e3)
	}
	return nil
}

// delivered counts recs sent; settled says that their delivery is final
// already (the sink is no Settler, or its Write waited for that).
func (f *Forwarder) delivered(recs []eventlog.Record, settled bool) {
	var n uint64
	for _, r := range recs {
		n += uint64(len(r.Value))
	}
	now := f.cfg.Now()
	f.stateMu.Lock()
	if f.state.failing {
		f.logger.Info("sink delivering again")
	}
	f.state.sent += uint64(len(recs))
	if settled {
		f.state.settled += uint64(len(recs))
		f.state.lost = false
	}
	f.state.bytes += n
	f.state.lastSentAt = now
	f.state.failing, f.state.refusing = false, false
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.sent.WithLabelValues(f.cfg.Name).Add(float64(len(recs)))
		m.bytes.WithLabelValues(f.cfg.Name).Add(float64(n))
		m.lastSent.WithLabelValues(f.cfg.Name).Set(float64(now.UnixMilli()) / 1e3)
	}
}

// settling counts n events written and waiting to settle.
func (f *Forwarder) settling(n int) {
	f.stateMu.Lock()
	f.state.unsettled += int64(n)
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.unsettled.WithLabelValues(f.cfg.Name).Add(float64(n))
	}
}

// settle counts n events that settled, or were lost with err and will be
// written again.
func (f *Forwarder) settle(n int, err error) {
	now := f.cfg.Now()
	f.stateMu.Lock()
	f.state.unsettled -= int64(n)
	f.state.lost = err != nil
	if err == nil {
		f.state.settled += uint64(n)
	} else {
		f.state.resent += uint64(n)
		f.state.lastError, f.state.lastErrorAt = err.Error(), now
	}
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.unsettled.WithLabelValues(f.cfg.Name).Sub(float64(n))
		if err != nil {
			m.resent.WithLabelValues(f.cfg.Name).Add(float64(n))
			m.lastError.WithLabelValues(f.cfg.Name).Set(float64(now.UnixMilli()) / 1e3)
		}
	}
}

// refused counts n events refused with the sink itself for now
// (Refusing): they wait, and the status says the sink is refused.
func (f *Forwarder) refused(err error, n int) {
	f.failed(err, n)
	f.stateMu.Lock()
	f.state.failing, f.state.refusing = false, true
	f.stateMu.Unlock()
}

func (f *Forwarder) failed(err error, n int) {
	now := f.cfg.Now()
	f.stateMu.Lock()
	f.state.retried += uint64(n)
	f.state.lastError, f.state.lastErrorAt = err.Error(), now
	f.state.failing = true
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.retried.WithLabelValues(f.cfg.Name).Add(float64(n))
		m.lastError.WithLabelValues(f.cfg.Name).Set(float64(now.UnixMilli()) / 1e3)
	}
}

func (f *Forwarder) observeConnection() {
	c, ok := f.sink.(Connected)
	if !ok || f.cfg.Metrics == nil {
		return
	}
	v := 0.0
	if c.Connected() {
		v = 1
	}
	f.cfg.Metrics.connected.WithLabelValues(f.cfg.Name).Set(v)
}

// Close closes the sink.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.sink.Close(); err != nil {
		return fmt.Errorf("close sink %s: %w", f.cfg.Name, err)
	}
	return nil
}

// join is the settlement of one handled batch, which took one write, or
// several when refusals split it: it settles once every write did, and
// is lost as soon as one is.
type join struct {
	f  *Forwarder
	ch chan error

	mu     sync.Mutex
	open   int // writes not settled yet, plus one until sealed
	writes int
	done   bool
}

func newJoin(f *Forwarder) *join { return &join{f: f, ch: make(chan error, 1), open: 1} }

// part adds a write of n events and returns its settled callback.
func (j *join) part(n int) func(error) {
	j.mu.Lock()
	j.open++
	j.writes++
	j.mu.Unlock()
	j.f.settling(n)
	return func(err error) {
		j.f.settle(n, err)
		j.report(err)
	}
}

// unpart takes back a write that failed: its callback is never called.
func (j *join) unpart(n int) {
	j.mu.Lock()
	j.open--
	j.writes--
	j.mu.Unlock()
	j.f.settling(-n)
}

// seal returns the batch's settlement once every write was made; nil
// when none was (every record was parked).
func (j *join) seal() eventlog.Settlement {
	j.mu.Lock()
	writes := j.writes
	j.mu.Unlock()
	j.report(nil)
	if writes == 0 {
		return nil
	}
	return j.ch
}

func (j *join) report(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.open--
	if j.done {
		return
	}
	if err != nil || j.open == 0 {
		j.done = true
		j.ch <- err // buffered: the one value sent
	}
}
