package filelog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// Subscribe opens a reader for the group, starting at its committed
// offset or, if it never committed, at the oldest retained record. A group
// has at most one open subscription.
func (l *Log) Subscribe(ctx context.Context, group string) (eventlog.Subscription, error) {
	if err := checkGroup(group); err != nil {
		return nil, fmt.Errorf("subscribe %q: %w", group, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("subscribe %s: %w", group, err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, fmt.Errorf("subscribe %s: %w", group, eventlog.ErrClosed)
	}
	g := l.groupLocked(group)
	if g.sub != nil {
		return nil, fmt.Errorf("subscribe %s: the group already has an open subscription", group)
	}
	s := &subscription{l: l, g: g, done: make(chan struct{}), pos: l.startLocked(group)}
	s.fetched.Store(s.pos)
	s.rd.l = l
	g.sub = s
	return s, nil
}

// subscription reads one group's records.
type subscription struct {
	l    *Log
	g    *group
	done chan struct{}
	once sync.Once

	mu  sync.Mutex // serializes Fetch and guards pos and rd
	pos int64      // the next record to fetch
	rd  reader

	fetched atomic.Int64 // pos, for Commit
}

// Fetch returns up to max records following those returned before. It
// waits for one, then up to linger for max. If ctx ends while it waits for
// the first it returns ctx.Err(); if ctx ends while it lingers, it returns
// what it has.
func (s *subscription) Fetch(ctx context.Context, max int, linger time.Duration) ([]eventlog.Record, error) {
	if max <= 0 {
		return nil, fmt.Errorf("fetch %s: max must be positive, got %d", s.g.name, max)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	var lingered <-chan time.Time
wait:
	for {
		avail, notify, err := s.available()
		if err != nil {
			return nil, err
		}
		if avail >= int64(max) || avail > 0 && linger <= 0 {
			break
		}
		if avail > 0 && timer == nil {
			timer = time.NewTimer(linger)
			lingered = timer.C
		}
		select {
		case <-ctx.Done():
			if avail > 0 {
				break wait
			}
			return nil, ctx.Err()
		case <-notify:
		case <-lingered:
			break wait
		case <-s.done:
			return nil, fmt.Errorf("fetch %s: %w", s.g.name, eventlog.ErrClosed)
		case <-s.l.closedCh:
			return nil, fmt.Errorf("fetch %s: %w", s.g.name, eventlog.ErrClosed)
		}
	}

	s.l.mu.Lock()
	end := s.l.next
	s.l.mu.Unlock()
	out := make([]eventlog.Record, 0, min(int64(max), end-s.pos))
	var a arena
	for len(out) < max && s.pos < end {
		f, off, err := s.rd.next(s.pos, end)
		if errors.Is(err, errEnd) {
			s.pos = off
			break
		}
		if err != nil {
			if len(out) > 0 {
				// Return what was read; the error comes back next time.
				break
			}
			return nil, fmt.Errorf("fetch %s: %w", s.g.name, err)
		}
		out = append(out, a.record(f, off))
		s.pos = off + 1
	}
	s.fetched.Store(s.pos)
	return out, nil
}

// available returns how many records the subscription can read now, and a
// channel closed when more are published.
func (s *subscription) available() (int64, <-chan struct{}, error) {
	l := s.l
	l.mu.Lock()
	defer l.mu.Unlock()
	select {
	case <-s.done:
		return 0, nil, fmt.Errorf("fetch %s: %w", s.g.name, eventlog.ErrClosed)
	default:
	}
	if l.closed {
		return 0, nil, fmt.Errorf("fetch %s: %w", s.g.name, eventlog.ErrClosed)
	}
	s.pos = max(s.pos, l.oldest)
	return l.next - s.pos, l.notify, nil
}

// Commit stores, atomically and durably, that the group processed recs and
// everything before them. It never moves the group back.
func (s *subscription) Commit(ctx context.Context, recs []eventlog.Record) error {
	select {
	case <-s.done:
		return fmt.Errorf("commit %s: %w", s.g.name, eventlog.ErrClosed)
	default:
	}
	if len(recs) == 0 {
		return nil
	}
	next := int64(-1)
	for _, r := range recs {
		if r.Partition != 0 {
			return fmt.Errorf("commit %s: record %s is from partition %d; the log has only partition 0", s.g.name, r.ID, r.Partition)
		}
		next = max(next, r.Offset+1)
	}
	if next > s.fetched.Load() || next <= 0 {
		return fmt.Errorf("commit %s: offset %d was not fetched by this subscription", s.g.name, next-1)
	}
	if err := s.l.commit(ctx, s.g, next); err != nil {
		return fmt.Errorf("commit %s: %w", s.g.name, err)
	}
	return nil
}

// commit stores next as the group's offset unless it already is further.
func (l *Log) commit(ctx context.Context, g *group, next int64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	l.mu.Lock()
	closed, cur := l.closed, g.committed
	l.mu.Unlock()
	if closed {
		return eventlog.ErrClosed
	}
	if next <= cur {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := writeOffset(l.offsets, g.file, next); err != nil {
		return err
	}
	l.mu.Lock()
	g.committed = max(g.committed, next)
	full := l.full != nil
	l.mu.Unlock()
	if full {
		select {
		case l.nudge <- struct{}{}:
		default:
		}
	}
	return nil
}

// Close ends the subscription; what it did not commit is read again by
// the group's next subscription.
func (s *subscription) Close() error {
	s.once.Do(func() {
		close(s.done)
		s.l.mu.Lock()
		if s.g.sub == s {
			s.g.sub = nil
		}
		s.l.mu.Unlock()
		s.mu.Lock()
		s.rd.close()
		s.mu.Unlock()
	})
	return nil
}

// errEnd means there is no retained record left below the end asked for.
var errEnd = errors.New("end of log")

// reader reads records in offset order, holding one segment file open.
// Past a damaged region of a segment it goes on at the next good frame,
// whose offset says how many records the region held.
type reader struct {
	l        *Log
	seg      *segment
	f        *os.File
	fr       frameReader
	off      int64 // the offset asked for next: fr reads it or, past damage, a later one
	expect   int64 // the offset of the frame fr reads next, if no damage is in the way
	limit    int64 // the records below limit are in seg
	offLimit int64 // the records of seg are below offLimit
	body     []byte
}

// next reads the record at pos, or the first retained one after it if pos
// was deleted or lost to damage, but none at or after end; past it, it
// returns errEnd and the offset it stopped at. The frame's slices are
// valid until the next call.
func (r *reader) next(pos, end int64) (frame, int64, error) {
	for {
		if r.seg == nil || r.off != pos || pos >= r.limit || r.seg.removed.Load() {
			var err error
			if pos, err = r.seek(pos, end); err != nil {
				return frame{}, pos, err
			}
		}
		at := r.fr.pos
		f, err := r.fr.next(&r.body, r.expect)
		if err == nil && f.off >= r.expect && f.off < r.offLimit {
			r.expect = f.off + 1
			if f.off < pos {
				continue // seek placed the reader before pos
			}
			if f.off >= r.limit {
				// The records from pos to the limit were lost.
				pos = r.limit
				r.close()
				continue
			}
			r.off = f.off + 1
			return f, f.off, nil
		}
		if err == io.EOF {
			// The segment's data ends before the records below limit.
			path := r.seg.path
			r.close()
			return frame{}, pos, fmt.Errorf("read %s at offset %d: %w", path, pos, errTorn)
		}
		if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt) {
			path := r.seg.path
			r.close()
			return frame{}, pos, fmt.Errorf("read %s at offset %d: %w", path, pos, err)
		}
		d, err := r.seg.damageAt(r.f, at, r.fr.limit, r.expect, r.offLimit, r.l.report)
		if err != nil {
			r.close()
			return frame{}, pos, err
		}
		if d.tail {
			// Every record left in the segment was lost.
			pos = max(pos, d.next)
			r.close()
			continue
		}
		r.fr.reset(r.f, r.seg.version, d.end, r.fr.limit)
		r.expect = d.next
	}
}

// seek positions the reader at pos, moved up to the oldest retained record
// if it was deleted.
func (r *reader) seek(pos, end int64) (int64, error) {
	l := r.l
	l.mu.Lock()
	pos = max(pos, l.oldest)
	if pos >= end {
		l.mu.Unlock()
		return pos, errEnd
	}
	i := sort.Search(len(l.segs), func(i int) bool { return l.segs[i].base > pos }) - 1
	s := l.segs[i]
	// The active segment's published records and bytes; a sealed one's
	// are all of it.
	limit, count, offLimit, size := end, s.count, l.next, s.size
	if i+1 < len(l.segs) {
		offLimit = l.segs[i+1].base
		limit, count = min(end, offLimit), offLimit-s.base
	}
	l.mu.Unlock()

	if r.seg == s && r.off == pos && !s.removed.Load() {
		// The bytes published since are read by a reader reset to them.
		r.limit, r.offLimit = limit, offLimit
		r.fr.reset(r.f, s.version, r.fr.pos, size)
		return pos, nil
	}
	if r.seg != s {
		r.close()
		f, err := os.Open(s.path)
		if err != nil {
			return pos, err
		}
		r.seg, r.f = s, f
	}
	fail := func(err error) (int64, error) {
		r.close()
		return pos, fmt.Errorf("seek to offset %d in %s: %w", pos, s.path, err)
	}
	if err := s.ensureIndex(count, l.report); err != nil {
		return fail(err)
	}
	e := s.lookup(pos)
	r.fr.reset(r.f, s.version, e.pos, size)
	r.off, r.expect, r.limit, r.offLimit = pos, e.off, limit, offLimit
	return pos, nil
}

func (r *reader) close() {
	if r.f != nil {
		_ = r.f.Close()
	}
	r.seg, r.f = nil, nil
}

// arena copies the keys and values of a batch of records into shared
// blocks, so that a batch costs a few allocations rather than two per
// record.
type arena struct{ buf []byte }

func (a *arena) copy(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if len(b) > cap(a.buf)-len(a.buf) {
		a.buf = make([]byte, 0, max(len(b), 64<<10))
	}
	start := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[start:len(a.buf):len(a.buf)]
}

func (a *arena) record(f frame, off int64) eventlog.Record {
	return eventlog.Record{
		Key:       a.copy(f.key),
		ID:        string(f.id),
		Value:     a.copy(f.v),
		Partition: 0,
		Offset:    off,
		Time:      time.UnixMilli(f.ms),
	}
}
