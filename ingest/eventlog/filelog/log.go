package filelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Log is the embedded event log. It implements eventlog.Log.
type Log struct {
	dir     string
	cfg     Config
	logger  *slog.Logger
	metrics *metrics
	unlock  func() error
	offsets *os.File // the offsets directory, kept open to fsync it

	mu     sync.Mutex
	segs   []*segment // retained segments, oldest first; the last is written to
	oldest int64      // offset of the oldest retained record
	next   int64      // records below next are durable and readable
	groups map[string]*group
	notify chan struct{} // closed and replaced when records are published
	closed bool
	full   error // why appends are refused, while they are
	failed error // the write error that stopped the writer

	closedCh chan struct{} // closed by Close

	qmu      sync.Mutex
	queue    []*appendReq
	stopping bool

	wake       chan struct{} // an append was queued
	nudge      chan struct{} // a group committed while the log was full
	stop       chan struct{} // Close: finish the queue and return
	writerDone chan struct{}
	w          writer // the writer goroutine's own state

	corruptMu sync.Mutex
	corrupt   []Corruption // damaged regions found since Open

	noteMu    sync.Mutex
	notes     []func() // OnSkip and OnCorrupt calls not made yet
	noteWake  chan struct{}
	noteStop  chan struct{}
	notesDone chan struct{}
}

// group is a consumer group the log knows of: listed in Config.Groups,
// found in the offsets directory, or subscribed to since Open.
type group struct {
	name string
	file string
	// committed is the group's next offset, -1 if it never committed;
	// guarded by Log.mu. It changes only once the offsets file says so
	// (or retention moved a group that is not required ahead).
	committed int64
	sub       *subscription // the open subscription, guarded by Log.mu

	mu sync.Mutex // serializes writes of the offsets file
}

// writer is the state only the writer goroutine touches.
type writer struct {
	f        *os.File // the active segment's file
	active   *segment
	next     int64 // offset of the next record written
	lastMs   int64 // time of the last record written
	disk     int64 // bytes of all segment files
	unsynced bool  // the active segment has writes not yet fsynced
	needed   int64 // size of the last refused append while full, else 0
	full     bool  // an append was refused and usage has not fallen below the low-water mark since
	dirty    []*segment
	failed   error
	closeErr error
}

// appendReq is one Append call waiting for the writer.
type appendReq struct {
	ctx  context.Context
	buf  []byte // frames, their times and checksums unset
	n    int
	done chan error // buffered: the writer never blocks on it
}

// Open opens the log in dir, creating it if needed. It recovers the tail of
// the last segment (see the package documentation) and starts the log's
// writer; Close stops it.
func Open(dir string, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	cfg = cfg.withDefaults()
	l := &Log{
		dir:        dir,
		cfg:        cfg,
		logger:     cfg.Logger,
		metrics:    newMetrics(),
		groups:     make(map[string]*group),
		notify:     make(chan struct{}),
		closedCh:   make(chan struct{}),
		wake:       make(chan struct{}, 1),
		nudge:      make(chan struct{}, 1),
		stop:       make(chan struct{}),
		writerDone: make(chan struct{}),
		noteWake:   make(chan struct{}, 1),
		noteStop:   make(chan struct{}),
		notesDone:  make(chan struct{}),
	}
	if err := l.load(); err != nil {
		return nil, fmt.Errorf("open event log: %w", err)
	}
	go l.run()
	go l.runNotes()
	return l, nil
}

// load reads the directory: segments, tail, offsets.
func (l *Log) load() (err error) {
	offsetsDir := filepath.Join(l.dir, offsetsDirName)
	if err := os.MkdirAll(offsetsDir, 0o755); err != nil {
		return err
	}
	if l.unlock, err = lockDir(l.dir); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			if l.w.f != nil {
				_ = l.w.f.Close()
			}
			if l.offsets != nil {
				_ = l.offsets.Close()
			}
			_ = l.unlock()
		}
	}()
	offsets, err := loadOffsets(offsetsDir)
	if err != nil {
		return err
	}
	if l.offsets, err = os.Open(offsetsDir); err != nil {
		return err
	}
	segs, err := listSegments(l.dir)
	if err != nil {
		return err
	}
	if len(segs) == 0 {
		// A new log. Should offsets have outlived the segments, the log
		// goes on from the furthest, so that no group reads a new record
		// under an offset it committed.
		var base int64
		for _, next := range offsets {
			base = max(base, next)
		}
		s, f, err := createSegment(l.dir, base)
		if err != nil {
			return err
		}
		segs, l.w.f = []*segment{s}, f
	} else {
		for i, s := range segs[:len(segs)-1] {
			if err := s.openSealed(segs[i+1].base-s.base, l.report); err != nil {
				return err
			}
		}
		last := segs[len(segs)-1]
		if l.w.f, err = last.recoverTail(l.logger.Warn, l.report); err != nil {
			return err
		}
		// Times are monotonic in offset order, so a sealed segment's last
		// record is no later than the next segment's first: that bound
		// serves Replay and age retention without reading the segment.
		// Only the last sealed segment can be followed by an empty one.
		for i, s := range segs[:len(segs)-1] {
			if nxt := segs[i+1]; nxt.wcount > 0 {
				s.wlast = nxt.wfirst
			} else if _, s.wlast, err = s.scanIndex(s.wcount, l.report); err != nil {
				return err
			}
			s.last = s.wlast
		}
		if last.version != formatVersion {
			if segs, err = l.sealOld(segs); err != nil {
				return err
			}
		}
	}

	last := segs[len(segs)-1]
	l.segs = segs
	l.oldest = segs[0].base
	l.next = last.base + last.wcount
	l.w.active, l.w.next = last, l.next
	for _, s := range segs {
		l.w.disk += s.wsize
		if s.wcount > 0 {
			l.w.lastMs = s.wlast
		}
	}
	for name := range l.cfg.Groups {
		l.groupLocked(name)
	}
	for name, next := range offsets {
		if next > l.next {
			l.logger.Warn("a consumer group committed past the end of the log; it will read from the end",
				"group", name, "committed", next, "end", l.next)
			next = l.next
		}
		l.groupLocked(name).committed = max(next, l.oldest)
		if _, listed := l.cfg.Groups[name]; !listed && l.cfg.Groups != nil && defaultRequired(name) {
			l.logger.Warn("a consumer group that is not configured holds retention by its name; remove its offsets file if it is gone for good",
				"group", name, "file", filepath.Join(offsetsDir, groupFile(name)))
		}
	}
	l.metrics.maxBytes.Set(float64(l.cfg.MaxBytes))
	l.setGauges()
	return nil
}

// sealOld starts a segment in the current format after the last one, of an
// older format, which is sealed as it is: frames of one format are never
// appended to a segment of another. A last segment that holds no record is
// written again in the current format instead. Open calls it with the
// last segment's file in l.w.f.
func (l *Log) sealOld(segs []*segment) ([]*segment, error) {
	last := segs[len(segs)-1]
	if last.wcount == 0 {
		return segs, last.writeHeader(l.w.f)
	}
	if err := l.w.f.Close(); err != nil {
		return segs, fmt.Errorf("close %s: %w", last.path, err)
	}
	l.w.f = nil
	s, f, err := createSegment(l.dir, last.base+last.wcount)
	if err != nil {
		return segs, err
	}
	l.logger.Info("sealed the last segment, of an older format; new records go to a new segment",
		"segment", filepath.Base(last.path), "version", last.version, "records", last.wcount, "next", filepath.Base(s.path))
	l.w.f = f
	return append(segs, s), nil
}

// groupLocked returns the named group, adding it if it is new. l.mu must
// be held (or Open running).
func (l *Log) groupLocked(name string) *group {
	g, ok := l.groups[name]
	if !ok {
		g = &group{name: name, file: groupFile(name), committed: -1}
		l.groups[name] = g
	}
	return g
}

// Append stores recs and returns once they are durable. It returns an
// error wrapping eventlog.ErrFull when they do not fit the disk budget, and
// eventlog.ErrClosed after Close. Records appended by one call are seen by
// readers all together or not at all.
func (l *Log) Append(ctx context.Context, recs []eventlog.Record) error {
	start := time.Now()
	size := 0
	for i := range recs {
		n := frameSize(&recs[i])
		if n-frameHeaderSize > maxBodySize {
			return fmt.Errorf("append %d records: record %d takes %d bytes, more than the %d one record may", len(recs), i, n, maxBodySize)
		}
		size += n
	}
	req := &appendReq{ctx: ctx, buf: make([]byte, 0, size), n: len(recs), done: make(chan error, 1)}
	for i := range recs {
		req.buf = appendFrame(req.buf, &recs[i])
	}

	l.qmu.Lock()
	if l.stopping {
		l.qmu.Unlock()
		return fmt.Errorf("append %d records: %w", len(recs), eventlog.ErrClosed)
	}
	if len(recs) == 0 {
		l.qmu.Unlock()
		return nil
	}
	l.queue = append(l.queue, req)
	l.qmu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}

	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("append %d records: %w", len(recs), err)
		}
	case <-ctx.Done():
		// The writer skips the request if it has not taken it yet; if it
		// has, the records may still become durable.
		return fmt.Errorf("append %d records: %w", len(recs), ctx.Err())
	}
	l.metrics.appendSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// Ready returns nil while the log accepts appends, and otherwise why not:
// an error wrapping eventlog.ErrFull while the disk budget is used up and
// retention may not free it, eventlog.ErrClosed after Close, or the write
// error that stopped the log.
func (l *Log) Ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return eventlog.ErrClosed
	case l.failed != nil:
		return l.failed
	}
	return l.full
}

// Lag returns how many retained records the group has not committed.
func (l *Log) Lag(ctx context.Context, group string) (int64, error) {
	if err := checkGroup(group); err != nil {
		return 0, fmt.Errorf("lag of %q: %w", group, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return 0, fmt.Errorf("lag of %s: %w", group, eventlog.ErrClosed)
	}
	return l.next - l.startLocked(group), nil
}

// startLocked is where the group reads from: its committed offset, or the
// oldest retained record.
func (l *Log) startLocked(group string) int64 {
	if g, ok := l.groups[group]; ok && g.committed > l.oldest {
		return g.committed
	}
	return l.oldest
}

// Replay calls fn with every retained record stored at or after since, in
// offset order, up to the last record durable when it was called.
func (l *Log) Replay(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error {
	sinceMs := since.UnixMilli()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return fmt.Errorf("replay: %w", eventlog.ErrClosed)
	}
	end := l.next
	var (
		start *segment
		count int64
	)
	for i, s := range l.segs {
		if s.count > 0 && s.last >= sinceMs {
			start, count = s, s.count
			if i+1 < len(l.segs) {
				count = l.segs[i+1].base - s.base
			}
			break
		}
	}
	l.mu.Unlock()
	if start == nil {
		return nil
	}
	if err := start.ensureIndex(count, l.report); err != nil {
		return fmt.Errorf("replay: %w", err)
	}

	rd := reader{l: l}
	defer rd.close()
	var a arena
	for pos, n := start.lookupTime(sinceMs).off, 0; pos < end; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		f, off, err := rd.next(pos, end)
		if errors.Is(err, errEnd) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
		pos = off + 1
		if f.ms < sinceMs {
			continue
		}
		if err := fn(a.record(f, off)); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the writer once the appends already queued are done, ends
// every subscription and releases the directory.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.closedCh)
	var subs []*subscription
	for _, g := range l.groups {
		if g.sub != nil {
			subs = append(subs, g.sub)
		}
	}
	l.mu.Unlock()

	l.qmu.Lock()
	l.stopping = true
	l.qmu.Unlock()
	close(l.stop)
	<-l.writerDone
	close(l.noteStop)
	<-l.notesDone
	for _, s := range subs {
		_ = s.Close()
	}
	err := l.w.closeErr
	if e := l.offsets.Close(); err == nil {
		err = e
	}
	if e := l.unlock(); err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("close event log: %w", err)
	}
	return nil
}

// run is the writer goroutine: it writes queued appends, and runs
// retention when asked and on a timer.
func (l *Log) run() {
	defer close(l.writerDone)
	every := time.Minute
	if r := l.cfg.Retention; r > 0 {
		every = min(every, max(r/4, 10*time.Millisecond))
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-l.wake:
			l.cycle(l.take())
		case <-l.nudge:
			l.housekeep()
		case <-tick.C:
			l.housekeep()
		case <-l.stop:
			l.cycle(l.take())
			if l.w.f != nil {
				l.w.closeErr = l.w.f.Close()
			}
			return
		}
	}
}

func (l *Log) take() []*appendReq {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	q := l.queue
	l.queue = nil
	return q
}

// cycle writes every request, fsyncs once, publishes the records to
// readers and wakes the callers.
func (l *Log) cycle(reqs []*appendReq) {
	if len(reqs) == 0 {
		return
	}
	w := &l.w
	ms := max(time.Now().UnixMilli(), w.lastMs)
	written := reqs[:0]
	for _, r := range reqs {
		if err := r.ctx.Err(); err != nil {
			r.done <- err
			continue
		}
		if err := l.write(r, ms); err != nil {
			r.done <- err
			continue
		}
		written = append(written, r)
	}
	if len(written) == 0 {
		return
	}
	// Even after a write error, what was written before it is made
	// durable and acknowledged.
	if err := l.sync(); err != nil {
		err = l.fail(err)
		for _, r := range written {
			r.done <- err
		}
		return
	}
	l.publish()
	// Count before answering, so that a caller sees its own records in
	// the metrics once its Append returned.
	var recs, bytes int
	for _, r := range written {
		recs += r.n
		bytes += len(r.buf)
	}
	l.metrics.appendedRecs.Add(float64(recs))
	l.metrics.appendedBytes.Add(float64(bytes))
	for _, r := range written {
		r.done <- nil
	}
}

// write writes one request's frames, stamped with time ms, sealing the
// active segment first if they would take it past SegmentBytes and
// making room if they would take the log past MaxBytes.
func (l *Log) write(r *appendReq, ms int64) error {
	w := &l.w
	if w.failed != nil {
		return w.failed
	}
	size := int64(len(r.buf))
	if w.active.wcount > 0 && w.active.wsize+size > l.cfg.SegmentBytes {
		if err := l.rotate(); err != nil {
			return err
		}
		l.retain(ms, 0)
	}
	if w.disk+size > l.cfg.MaxBytes {
		if held := l.retain(ms, size); w.disk+size > l.cfg.MaxBytes {
			return l.refuse(size, held)
		}
	}

	s := w.active
	start, off := s.wsize, w.next
	sealFrames(r.buf, off, ms, func(pos int) {
		s.addIndex(off, start+int64(pos), ms)
		off++
	})
	w.unsynced = true
	if _, err := w.f.Write(r.buf); err != nil {
		return l.fail(fmt.Errorf("write %s: %w", s.path, err))
	}
	if s.wcount == 0 {
		s.wfirst = ms
	}
	s.wlast = ms
	s.wcount += int64(r.n)
	s.wsize += size
	w.disk += size
	w.next += int64(r.n)
	w.lastMs = ms
	if len(w.dirty) == 0 || w.dirty[len(w.dirty)-1] != s {
		w.dirty = append(w.dirty, s)
	}
	if w.full {
		// An append that fits does not end the full state: only falling
		// below the low-water mark does, so that readiness does not flap
		// with every small batch.
		w.needed = 0
		l.clearFull()
	}
	return nil
}

// sync fsyncs the active segment if it has unsynced writes. (A segment
// is fsynced when it is sealed, so the only unsynced writes are in the
// active one.)
func (l *Log) sync() error {
	w := &l.w
	if !w.unsynced {
		return nil
	}
	l.metrics.fsyncs.Inc()
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", w.active.path, err)
	}
	w.unsynced = false
	return nil
}

// publish makes what was written and fsynced visible to readers and wakes
// the ones waiting.
func (l *Log) publish() {
	l.mu.Lock()
	for _, s := range l.w.dirty {
		s.count, s.first, s.last, s.size = s.wcount, s.wfirst, s.wlast, s.wsize
	}
	l.next = l.w.next
	close(l.notify)
	l.notify = make(chan struct{})
	l.mu.Unlock()
	l.w.dirty = l.w.dirty[:0]
	l.setGauges()
}

// rotate seals the active segment and starts a new one.
func (l *Log) rotate() error {
	w := &l.w
	if err := l.sync(); err != nil {
		return l.fail(err)
	}
	if err := w.f.Close(); err != nil {
		return l.fail(fmt.Errorf("close %s: %w", w.active.path, err))
	}
	w.f = nil
	s, f, err := createSegment(l.dir, w.next)
	if err != nil {
		return l.fail(err)
	}
	l.metrics.fsyncs.Add(2) // the new file and the directory
	w.active, w.f = s, f
	w.disk += s.wsize
	l.mu.Lock()
	l.segs = append(l.segs, s)
	l.mu.Unlock()
	l.setGauges()
	return nil
}

// fail stops the writer for good after a write error: the state of the
// active segment is unknown, and Open will verify it.
func (l *Log) fail(err error) error {
	w := &l.w
	if w.failed == nil {
		w.failed = fmt.Errorf("event log stopped after a write error: %w", err)
		l.logger.Error("event log stopped after a write error; appends fail until it is reopened", "err", err)
		l.mu.Lock()
		l.failed = w.failed
		l.mu.Unlock()
	}
	return w.failed
}

// refuse records that an append of size bytes did not fit.
func (l *Log) refuse(size int64, heldBy string) error {
	w := &l.w
	err := fmt.Errorf("%w: %d of %d bytes used and %d more needed", eventlog.ErrFull, w.disk, l.cfg.MaxBytes, size)
	if heldBy != "" {
		err = fmt.Errorf("%w; group %q has not committed the oldest segment", err, heldBy)
	}
	if !w.full {
		l.logger.Warn("event log full; refusing appends until retention can free space",
			"used_bytes", w.disk, "max_bytes", l.cfg.MaxBytes, "held_by", heldBy)
	}
	w.full, w.needed = true, size
	l.metrics.refused.Inc()
	l.setFull(err)
	return err
}

// lowWater is the usage below which a full log is ready again: a tenth of
// the budget under MaxBytes.
func (l *Log) lowWater() int64 { return l.cfg.MaxBytes - l.cfg.MaxBytes/10 }

// clearFull ends the full state once usage is below the low-water mark
// (or only the active segment is left, which retention cannot free) and
// the last refused append would fit, logging the transition once.
func (l *Log) clearFull() {
	w := &l.w
	if !w.full || w.disk+w.needed > l.cfg.MaxBytes {
		return
	}
	l.mu.Lock()
	sealed := len(l.segs) > 1
	l.mu.Unlock()
	if sealed && w.disk > l.lowWater() {
		return
	}
	w.full, w.needed = false, 0
	l.setFull(nil)
	l.logger.Info("event log accepts appends again", "used_bytes", w.disk, "max_bytes", l.cfg.MaxBytes)
}

func (l *Log) setFull(err error) {
	l.mu.Lock()
	l.full = err
	l.mu.Unlock()
}

// housekeep runs retention outside an append: on the timer, and when a
// group committed while the log was full.
func (l *Log) housekeep() {
	w := &l.w
	if w.failed != nil {
		return
	}
	now := time.Now().UnixMilli()
	if r := l.cfg.Retention; r > 0 && w.active.wcount > 0 && w.active.wlast < now-r.Milliseconds() {
		// Seal an idle segment whose records have all expired, so that
		// it can go.
		if err := l.rotate(); err != nil {
			return
		}
	}
	need := w.needed
	if w.full {
		// While full, retention frees down to the low-water mark.
		need = max(need, l.cfg.MaxBytes-l.lowWater())
	}
	l.retain(now, need)
	l.clearFull()
}

// retain deletes the oldest segments while the log with need more bytes
// would exceed MaxBytes, or while their records are older than Retention.
// It never deletes the active segment nor records a required group has not
// committed; it returns the name of the group that stopped it, if one did.
// Groups that are not required and had not committed a deleted segment
// move past it.
func (l *Log) retain(nowMs, need int64) (heldBy string) {
	w := &l.w
	for {
		l.mu.Lock()
		if len(l.segs) < 2 {
			l.mu.Unlock()
			return ""
		}
		s, end := l.segs[0], l.segs[1].base
		over := w.disk+need > l.cfg.MaxBytes
		expired := l.cfg.Retention > 0 && s.wlast < nowMs-l.cfg.Retention.Milliseconds()
		if !over && !expired {
			l.mu.Unlock()
			return ""
		}
		if g := l.holderLocked(end); g != "" {
			l.mu.Unlock()
			return g
		}
		l.segs = slices.Delete(l.segs, 0, 1)
		l.oldest = end
		type skip struct {
			group string
			n     int64
		}
		var skips []skip
		for _, g := range l.groups {
			if g.committed >= 0 && g.committed < end && !l.cfg.required(g.name) {
				skips = append(skips, skip{group: g.name, n: end - g.committed})
				g.committed = end
			}
		}
		l.mu.Unlock()

		s.removed.Store(true)
		if err := os.Remove(s.path); err != nil {
			l.logger.Error("delete segment", "segment", s.path, "err", err)
		}
		w.disk -= s.wsize
		l.setGauges()
		reason := "age"
		if over {
			reason = "size"
		}
		l.logger.Info("deleted segment", "segment", filepath.Base(s.path), "records", end-s.base, "bytes", s.wsize, "reason", reason)
		for _, sk := range skips {
			l.metrics.skippedRecords.WithLabelValues(sk.group).Add(float64(sk.n))
			l.logger.Warn("consumer group fell behind retention and skips records it had not committed",
				"group", sk.group, "skipped", sk.n, "offset", end)
			if l.cfg.OnSkip != nil {
				group, n := sk.group, sk.n
				l.queueNote(func() { l.cfg.OnSkip(group, n) })
			}
		}
	}
}

// holderLocked returns the first (by name) required group that has not
// committed every record below end, or "".
func (l *Log) holderLocked(end int64) string {
	held := ""
	for name, g := range l.groups {
		if g.committed < end && l.cfg.required(name) && (held == "" || name < held) {
			held = name
		}
	}
	return held
}

func (l *Log) setGauges() {
	l.mu.Lock()
	n := len(l.segs)
	l.mu.Unlock()
	l.metrics.segments.Set(float64(n))
	l.metrics.diskBytes.Set(float64(l.w.disk))
}

func (l *Log) queueNote(fn func()) {
	l.noteMu.Lock()
	l.notes = append(l.notes, fn)
	l.noteMu.Unlock()
	select {
	case l.noteWake <- struct{}{}:
	default:
	}
}

// runNotes makes the OnSkip and OnCorrupt calls outside the writer and
// the readers, which they may append to; it makes those queued while Open
// ran first.
func (l *Log) runNotes() {
	defer close(l.notesDone)
	for {
		l.noteMu.Lock()
		notes := l.notes
		l.notes = nil
		l.noteMu.Unlock()
		for _, fn := range notes {
			fn()
		}
		select {
		case <-l.noteWake:
		case <-l.noteStop:
			l.noteMu.Lock()
			notes := l.notes
			l.notes = nil
			l.noteMu.Unlock()
			for _, fn := range notes {
				fn()
			}
			return
		}
	}
}
