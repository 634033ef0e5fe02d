package detect

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/schema"
)

// Emitter makes Vigil's own events durable (ingest's Emit).
type Emitter interface {
	Emit(ctx context.Context, events ...*schema.Event) error
}

// Detector runs the engine as the log's consumer group "detect": each
// batch's alerts are emitted (durable) before the handler returns, and
// the batch settles, so that the group's offset moves past it, once a
// checkpoint of the state holds it.
type Detector struct {
	log     eventlog.Log
	cfg     Config
	emit    Emitter
	path    string
	logger  *slog.Logger
	metrics *eventlog.Metrics
	alerts  *prometheus.CounterVec

	mu      sync.Mutex
	eng     *Engine
	saved   []byte       // the last checkpoint written
	pending []chan error // settlements of batches handled since
	dirty   bool
}

// NewDetector opens the engine with the state checkpointed in dir (made
// if missing). reg and metrics may be nil.
func NewDetector(log eventlog.Log, cfg Config, dir string, emit Emitter, logger *slog.Logger, reg prometheus.Registerer, metrics *eventlog.Metrics) (*Detector, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	eng, err := cfg.engine()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("make detection directory: %w", err)
	}
	d := &Detector{log: log, cfg: cfg, emit: emit, path: filepath.Join(dir, checkpointName), logger: logger, metrics: metrics, eng: eng}
	d.saved, err = readFile(d.path)
	if err != nil {
		return nil, err
	}
	if d.saved != nil {
		if err := eng.decodeState(d.saved); err != nil {
			return nil, err
		}
	}
	d.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_detect_alerts_total",
		Help: "Alerts the detection rules raised, by rule.",
	}, []string{"rule"})
	if reg != nil {
		reg.MustRegister(d.alerts, prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "vigil_detect_late_events_total",
			Help: "Events skipped by the detection rules for a timestamp older than the late horizon.",
		}, func() float64 {
			d.mu.Lock()
			defer d.mu.Unlock()
			return float64(d.eng.st.Late)
		}))
	}
	return d, nil
}

// Rules returns how many rules run.
func (d *Detector) Rules() int { return len(d.eng.rules) }

// Run consumes the detect group until ctx is done, checkpointing every
// CheckpointInterval, and writes a last checkpoint on the way out.
func (d *Detector) Run(ctx context.Context) error {
	cc := d.cfg.Consumer
	cc.Group = Group
	c := eventlog.NewSettlingConsumer(d.log, cc, d.handle, d.logger, d.metrics)
	var wg sync.WaitGroup
	wg.Add(1)
	flushCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() {
		defer wg.Done()
		every := d.cfg.checkpointInterval()
		t := time.NewTimer(every)
		defer t.Stop()
		for {
			select {
			case <-flushCtx.Done():
				return
			case <-t.C:
				d.mu.Lock()
				start := time.Now()
				if err := d.flush(); err != nil {
					d.logger.Warn("checkpoint detection state", "err", err)
				}
				took := time.Since(start)
				d.mu.Unlock()
				t.Reset(checkpointPause(every, took))
			}
		}
	}()
	// The consumer drains at shutdown, waiting for its batches to
	// settle: the flusher goes on until it returned.
	err := c.Run(ctx)
	stop()
	wg.Wait()
	d.mu.Lock()
	defer d.mu.Unlock()
	if ferr := d.flush(); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// handle runs a batch through the engine and emits its alerts. When
// shutting down it checkpoints at once, so the batch settles before the
// consumer stops waiting.
func (d *Detector) handle(ctx context.Context, batch []eventlog.Record) (eventlog.Settlement, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	var alerts []Alert
	for _, r := range batch {
		alerts = append(alerts, d.eng.Record(r)...)
	}
	d.eng.PruneDue()
	d.dirty = true
	if len(alerts) > 0 {
		events := make([]*schema.Event, 0, len(alerts))
		for _, a := range alerts {
			e, err := a.Event()
			if err != nil {
				d.rollback(err)
				return nil, err
			}
			events = append(events, e)
		}
		if err := d.emit.Emit(ctx, events...); err != nil {
			d.rollback(err)
			return nil, fmt.Errorf("emit %d alerts: %w", len(events), err)
		}
		for _, a := range alerts {
			d.alerts.WithLabelValues(a.Rule).Inc()
			d.logger.Info("alert raised", "rule", a.Rule, "severity", a.Severity, "group", a.Group, "alert", a.ID)
		}
	}
	if ctx.Err() != nil {
		return nil, d.flush()
	}
	ch := make(chan error, 1)
	d.pending = append(d.pending, ch)
	return ch, nil
}

// rollback returns the engine to the last checkpoint after a batch whose
// alerts could not be emitted: the batches handled since are reported
// lost, so the consumer hands them over again from the committed
// position, and the failed batch is retried.
func (d *Detector) rollback(cause error) {
	eng, err := d.cfg.engine()
	if err == nil && d.saved != nil {
		err = eng.decodeState(d.saved)
	}
	if err == nil {
		d.eng = eng
	}
	for _, ch := range d.pending {
		ch <- fmt.Errorf("detection state rolled back: %w", cause)
	}
	d.pending, d.dirty = nil, false
}

// flush writes a checkpoint of the state, if it changed, and settles the
// batches it holds. d.mu is held.
func (d *Detector) flush() error {
	if !d.dirty {
		return nil
	}
	b, err := d.eng.encodeState()
	if err == nil {
		err = writeFile(d.path, b)
	}
	if err != nil {
		return err
	}
	d.saved, d.dirty = b, false
	for _, ch := range d.pending {
		ch <- nil
	}
	d.pending = nil
	return nil
}

// checkpointPause is the wait before the next checkpoint: the interval,
// or longer when writing the state took more than a fifth of it, so that
// a large state costs the engine at most about a sixth of its time.
func checkpointPause(every, took time.Duration) time.Duration {
	return max(every, 5*took)
}
