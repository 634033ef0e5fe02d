package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigilaudit/vigil/schema"
)

// Config configures an Agent. The zero value of each field is its
// default.
type Config struct {
	// Input is an NDJSON stream to take in until EOF; nil for none.
	// When Run's context is done, an Input that is an io.Closer is
	// closed to interrupt a pending Read (see Interruptible).
	Input io.Reader
	// InputName names Input in messages (default "stdin").
	InputName string
	// WatchDir is a directory whose *.ndjson and *.json files are taken
	// in, in name order, and removed once their events are in the spool.
	// Producers should write each file under another name (or elsewhere
	// on the same file system) and rename it into WatchDir.
	WatchDir string
	// Interval is how often WatchDir is listed (default 2s).
	Interval time.Duration
	// Once takes in what is there now (Input to EOF, WatchDir's current
	// files), uploads everything and returns. Without it Run keeps
	// watching WatchDir until the context is done; with Input alone it
	// returns once Input ended and the spool is empty.
	Once bool
	// BatchSize is the most events per upload (default 1000).
	BatchSize int
	// MaxBatchBytes is the most bytes of events per upload, before
	// compression (default 4 MiB). An event larger than that is set
	// aside.
	MaxBatchBytes int
	// Check warns about events that the server's catalog will reject
	// (they are still sent, and the server quarantines them).
	Check bool
	// Logger receives what goes wrong and, every ProgressEvery, a
	// progress line (default: discard).
	Logger        *slog.Logger
	ProgressEvery time.Duration
	// Status, when set, shows a live progress line (a terminal).
	Status *StatusLine
}

// Agent takes events into a Spool and uploads them with an Uploader.
type Agent struct {
	spool *Spool
	up    *Uploader
	cfg   Config
	log   *slog.Logger
	check checker
	// woken is signalled when events were added to the spool.
	woken chan struct{}
	stats counters
	// unreadable holds the watched files that could not be opened, so
	// that each is reported once.
	unreadable map[string]bool
	// crash, set by tests, ends Run at the named point when it returns
	// true.
	crash func(point string) bool
}

type counters struct {
	spooled, invalid                        atomic.Int64
	uploaded, batches                       atomic.Int64
	accepted, duplicates, rejected, refused atomic.Int64
}

// Stats counts what an Agent did since it was made.
type Stats struct {
	Spooled int64 // events taken into the spool
	// Invalid counts input set aside in the spool's rejected.ndjson
	// (lines that are not JSON objects, events with their own seq or too
	// large) and .json files that start with '[' but are not a JSON
	// array, renamed NAME.invalid.
	Invalid int64
	// Uploaded events the server answered 202 for, in Batches requests:
	// Accepted + Duplicates + Rejected.
	Uploaded, Batches    int64
	Accepted, Duplicates int64
	// Rejected counts events the server quarantined, and the ones it
	// refused outright (Refused), which are kept in the spool's
	// rejected.ndjson.
	Rejected, Refused int64
	// Pending events are in the spool, not yet uploaded.
	Pending uint64
}

// New returns an Agent. It uses spool and up; the caller closes them
// after Run.
func New(spool *Spool, up *Uploader, cfg Config) *Agent {
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 1000
	}
	if cfg.MaxBatchBytes <= 0 {
		cfg.MaxBatchBytes = 4 << 20
	}
	if cfg.InputName == "" {
		cfg.InputName = "stdin"
	}
	a := &Agent{spool: spool, up: up, cfg: cfg, log: cfg.Logger, woken: make(chan struct{}, 1), unreadable: map[string]bool{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Check {
		a.check.norm = schema.NewNormalizer(schema.Limits{})
	}
	return a
}

// Stats returns what the agent did so far.
func (a *Agent) Stats() Stats {
	c := &a.stats
	return Stats{
		Spooled: c.spooled.Load(), Invalid: c.invalid.Load(),
		Uploaded: c.uploaded.Load(), Batches: c.batches.Load(),
		Accepted: c.accepted.Load(), Duplicates: c.duplicates.Load(),
		Rejected: c.rejected.Load(), Refused: c.refused.Load(),
		Pending: a.spool.Pending(),
	}
}

// Run takes events in and uploads them until the work Config asks for is
// done or ctx is done; see Config.Once. The spool keeps whatever is not
// uploaded for the next run. Run returns an error when the server
// refuses the credential (a *StatusError), when it stays unreachable past
// the uploader's MaxWait (ErrUnreachable), when the spool cannot be
// written, and, with Once, when ctx ends before the spool is empty.
func (a *Agent) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	intakeDone := make(chan struct{})
	uploadDone := make(chan struct{})
	g.Go(func() error {
		defer close(intakeDone)
		return a.intake(gctx)
	})
	if c, ok := a.cfg.Input.(io.Closer); ok {
		// Interrupt a Read waiting for input when Run must stop.
		g.Go(func() error {
			select {
			case <-gctx.Done():
				c.Close()
			case <-intakeDone:
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(uploadDone)
		return a.upload(gctx, intakeDone)
	})
	g.Go(func() error {
		a.progress(gctx, uploadDone)
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		if n := a.spool.Pending(); a.cfg.Once && n > 0 {
			return fmt.Errorf("stopped with %d events still in the spool: %w", n, context.Cause(ctx))
		}
		return nil
	}
	return err
}

func (a *Agent) intake(ctx context.Context) error {
	if err := a.resumeSource(ctx); err != nil {
		return err
	}
	if a.cfg.WatchDir != "" {
		if a.cfg.Once {
			return a.takeDir(ctx, a.cfg.WatchDir)
		}
		return a.pollDir(ctx, a.cfg.WatchDir, a.cfg.Interval)
	}
	if a.cfg.Input != nil {
		return a.takeStream(ctx, a.cfg.Input, a.cfg.InputName)
	}
	return nil
}

// wake tells the uploader that events were added.
func (a *Agent) wake() {
	select {
	case a.woken <- struct{}{}:
	default:
	}
}

// hook reports whether a test asked to crash at point.
func (a *Agent) hook(point string) bool {
	return a.crash != nil && a.crash(point)
}

// upload sends the spool's events until intake is done and the spool is
// empty (or forever, while intake runs).
func (a *Agent) upload(ctx context.Context, intakeDone <-chan struct{}) error {
	for {
		finished := isClosed(intakeDone)
		b, err := a.spool.Next(a.cfg.BatchSize, a.cfg.MaxBatchBytes)
		if err != nil {
			return err
		}
		if len(b.Events) == 0 {
			if b.Last > a.spool.Acked() {
				// Only damaged records: skip them.
				if err := a.spool.Ack(b.Last); err != nil {
					return err
				}
				continue
			}
			if finished {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-a.woken:
			case <-intakeDone:
			}
			continue
		}
		if err := a.up.Upload(ctx, b.Events, func(r Result) error { return a.uploaded(b, r) }); err != nil {
			if errors.Is(err, errCrash) {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var se *StatusError
			if errors.As(err, &se) && se.Credential() {
				return fmt.Errorf("device token refused, %d events kept in the spool (enroll the device again): %w", a.spool.Pending(), err)
			}
			return fmt.Errorf("upload: %w", err)
		}
	}
}

// uploaded records that the server has a run of batch b.
func (a *Agent) uploaded(b *Batch, r Result) error {
	if a.hook("upload.answered") {
		return errCrash
	}
	var refused []Rejected
	for _, rej := range r.Refused {
		refused = append(refused, Rejected{Seq: b.Seqs[rej.Index], Error: rej.Error, Event: b.Events[rej.Index]})
		a.log.Error("server refused an event; set aside in the spool's "+rejectedName, "seq", b.Seqs[rej.Index], "error", rej.Error)
	}
	if err := a.spool.Reject(refused...); err != nil {
		return err
	}
	for _, rej := range r.Rejected {
		a.log.Warn("server rejected an event (kept in its quarantine)", "seq", b.Seqs[rej.Index], "event_id", rej.EventID, "error", rej.Error)
	}
	last := b.Seqs[r.Offset+r.N-1]
	if r.Offset+r.N == len(b.Events) {
		last = b.Last
	}
	if err := a.spool.Ack(last); err != nil {
		return err
	}
	c := &a.stats
	c.batches.Add(1)
	c.uploaded.Add(int64(r.N))
	c.accepted.Add(int64(r.Accepted))
	c.duplicates.Add(int64(r.Duplicates))
	c.rejected.Add(int64(len(r.Rejected) + len(r.Refused)))
	c.refused.Add(int64(len(r.Refused)))
	if a.hook("upload.acked") {
		return errCrash
	}
	return nil
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
