package agent

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// The files of a spool directory.
const (
	lockName     = "lock"            // flock'ed while an agent has the spool open
	cursorName   = "cursor"          // {"acked": N}: the server has every seq <= N
	sourceName   = "source"          // the input file being taken in, see Source
	rejectedName = "rejected.ndjson" // events set aside, see Reject
)

// ErrClosed is returned by a Spool's methods after Close.
var ErrClosed = errors.New("spool closed")

// SpoolOptions tune a Spool. The zero value is the defaults.
type SpoolOptions struct {
	// SegmentBytes is the size after which appends start a new segment
	// file (default 8 MiB). Segments are deleted once the server has all
	// of their events.
	SegmentBytes int64
	// Logger receives warnings about damaged records (default: discard).
	Logger *slog.Logger
}

// Spool is the agent's durable queue of events, a directory holding:
//
//   - segment files, NNNNNNNNNNNNNNNNNNNN.seg, named by the seq of their
//     first record, each an append-only list of records (see record.go);
//   - cursor, the highest seq the server acknowledged, replaced atomically
//     (temp file, fsync, rename, fsync of the directory);
//   - source, while an input file is being taken in (see BeginSource);
//   - rejected.ndjson, events set aside (see Reject);
//   - lock, held while an agent has the spool open.
//
// Add assigns seqs and returns only once its records are synced. Next
// returns the oldest events the server does not have yet, Ack records that
// it has them. Nothing is ever rewritten in place: after a crash, Open
// cuts a torn tail off the last segment, and the cursor says where to
// resume, so at most the unacknowledged batch is sent again, with the same
// bytes.
//
// Add may be called from one goroutine while another calls Next and Ack.
type Spool struct {
	dir  string
	opts SpoolOptions
	log  *slog.Logger
	lock *os.File

	// wmu serializes appends; it guards w, wFirst, wSize and buf.
	wmu    sync.Mutex
	w      *os.File // the active segment; nil until the first Add
	wFirst uint64
	wSize  int64
	buf    []byte

	mu      sync.Mutex
	segs    []uint64 // first seqs of the segment files, ascending
	next    uint64   // the seq the next added event gets
	durable uint64   // highest seq synced to disk
	acked   uint64   // highest seq the server acknowledged
	pos     readPos  // where the record after acked starts, if known
	end     readPos  // where the batch Next returned last ends
	broken  error    // a failed write: the spool's tail is unknown until reopened
	closed  bool
}

// readPos is the place right after record seq: offset off in segment seg.
type readPos struct {
	seq, seg uint64
	off      int64
}

// OpenSpool opens the spool in dir, creating it if needed, and recovers
// from a crash: it cuts a torn or damaged tail off the last segment and
// deletes segments the server already has.
func OpenSpool(dir string, opts SpoolOptions) (*Spool, error) {
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = 8 << 20
	}
	s := &Spool{dir: dir, opts: opts, log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create spool: %w", err)
	}
	lock, err := lockFile(filepath.Join(dir, lockName))
	if err != nil {
		return nil, fmt.Errorf("lock spool %s: %w", dir, err)
	}
	s.lock = lock
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("open spool %s: %w", dir, err)
	}
	return s, nil
}

func (s *Spool) recover() error {
	acked, err := readCursor(filepath.Join(s.dir, cursorName))
	if err != nil {
		return err
	}
	s.acked = acked

	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		name := e.Name()
		if first, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			s.segs = append(s.segs, first)
		} else if strings.HasPrefix(name, ".") && strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(s.dir, name)) // an atomic write a crash interrupted
		}
	}
	slices.Sort(s.segs)

	var last uint64
	for len(s.segs) > 0 {
		n := len(s.segs) - 1
		seq, err := s.recoverTail(s.segs[n])
		if err != nil {
			return err
		}
		if seq != 0 {
			last = seq
			break
		}
		// Created, but nothing synced into it before the crash.
		if err := removeDurably(s.segPath(s.segs[n])); err != nil {
			return err
		}
		s.segs = s.segs[:n]
	}
	s.next = max(last, s.acked) + 1
	s.durable = s.next - 1
	s.deleteAcked(true)
	return nil
}

// recoverTail scans the segment that was last appended to, truncates it
// after its last good record and returns that record's seq (0 when none).
// Everything up to the last sync is intact, so what fails the check was
// never acknowledged to the input.
func (s *Spool) recoverTail(first uint64) (uint64, error) {
	path := s.segPath(first)
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var (
		last uint64
		good int64
	)
	r := bufio.NewReaderSize(f, 64<<10)
	for want := first; ; want++ {
		line, err := readLine(r)
		if err != nil {
			break // EOF, or a line without its newline: torn
		}
		seq, _, perr := parseRecord(line[:len(line)-1])
		if perr != nil || seq != want {
			break
		}
		last = seq
		good += int64(len(line))
	}
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if fi.Size() != good {
		s.log.Warn("spool: cutting a torn tail off the last segment",
			"segment", filepath.Base(path), "offset", good, "bytes", fi.Size()-good)
		if err := f.Truncate(good); err != nil {
			return 0, fmt.Errorf("truncate %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("sync %s: %w", path, err)
		}
	}
	return last, nil
}

func (s *Spool) segPath(first uint64) string {
	return filepath.Join(s.dir, segmentName(first))
}

// Add appends events to the spool, giving them the next seqs, and returns
// once they are synced to disk. Each event must be one JSON object without
// a "seq" member and without newlines (see CheckEvent); the spool writes
// seq as its first member and keeps the rest byte for byte.
func (s *Spool) Add(events [][]byte) (first, last uint64, err error) {
	if len(events) == 0 {
		return 0, 0, nil
	}
	for i, e := range events {
		if len(e) < 2 || e[0] != '{' || e[len(e)-1] != '}' || slices.Contains(e, '\n') {
			return 0, 0, fmt.Errorf("add event %d: not a one-line JSON object", i)
		}
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	next, acked, bad, closed := s.next, s.acked, s.broken, s.closed
	s.mu.Unlock()
	if closed {
		return 0, 0, ErrClosed
	}
	if bad != nil {
		return 0, 0, fmt.Errorf("spool unusable after an earlier write error, reopen it: %w", bad)
	}
	if err := s.add(events, next, acked); err != nil {
		s.mu.Lock()
		s.broken = err
		s.mu.Unlock()
		return 0, 0, fmt.Errorf("append %d events to spool: %w", len(events), err)
	}
	last = next + uint64(len(events)) - 1
	s.mu.Lock()
	s.next = last + 1
	s.durable = last
	s.mu.Unlock()
	return next, last, nil
}

func (s *Spool) add(events [][]byte, seq, acked uint64) error {
	// The active segment goes once the server has all of it, so that an
	// idle agent's spool empties.
	if s.w != nil && acked == seq-1 {
		if err := s.dropActive(); err != nil {
			return err
		}
	}
	buf := s.buf[:0]
	for _, e := range events {
		start := len(buf)
		buf = appendRecord(buf, seq, e)
		if s.w == nil || (s.wSize+int64(start) > 0 && s.wSize+int64(len(buf)) > s.opts.SegmentBytes) {
			if err := s.flush(buf[:start]); err != nil {
				return err
			}
			buf = buf[:copy(buf, buf[start:])]
			if err := s.startSegment(seq); err != nil {
				return err
			}
		}
		seq++
	}
	if err := s.flush(buf); err != nil {
		return err
	}
	if cap(buf) <= 1<<20 {
		s.buf = buf[:0]
	}
	return nil
}

// flush writes buf to the active segment and syncs it.
func (s *Spool) flush(buf []byte) error {
	if s.w == nil || len(buf) == 0 {
		return nil
	}
	if _, err := s.w.Write(buf); err != nil {
		return err
	}
	s.wSize += int64(len(buf))
	return s.w.Sync()
}

// startSegment closes the active segment (already synced) and creates the
// one whose first record is first.
func (s *Spool) startSegment(first uint64) error {
	if s.w != nil {
		if err := s.w.Close(); err != nil {
			return err
		}
		s.w = nil
	}
	f, err := os.OpenFile(s.segPath(first), os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if err := syncDir(s.dir); err != nil {
		f.Close()
		return err
	}
	s.w, s.wFirst, s.wSize = f, first, 0
	s.mu.Lock()
	s.segs = append(s.segs, first)
	s.mu.Unlock()
	return nil
}

// dropActive closes and deletes the active segment, which the server has
// entirely. The caller holds wmu.
func (s *Spool) dropActive() error {
	if err := s.w.Close(); err != nil {
		return err
	}
	s.w = nil
	if err := os.Remove(s.segPath(s.wFirst)); err != nil && !os.IsNotExist(err) {
		// Kept in the list: Ack or Close deletes it later.
		s.log.Warn("spool: delete acknowledged segment", "segment", segmentName(s.wFirst), "error", err)
		return nil
	}
	s.mu.Lock()
	s.segs = slices.DeleteFunc(s.segs, func(f uint64) bool { return f == s.wFirst })
	s.mu.Unlock()
	return nil
}

// Batch is the oldest run of events the server does not have yet.
type Batch struct {
	// Events are the records' JSON objects, seq first, as the spool
	// keeps them; Seqs are their seqs.
	Events [][]byte
	Seqs   []uint64
	// Last is the seq to acknowledge once the server has every event of
	// the batch. It is at least the last event's seq, and more when
	// damaged records follow, which were skipped. A batch without events
	// and with Last above the cursor only skips damaged records.
	Last uint64
	// Bytes is the size of the events, newlines included.
	Bytes int
}

// Next returns up to maxEvents of the oldest events not yet acknowledged,
// no more than maxBytes of them (newlines included) unless the first
// alone is larger. It returns the same events until they are
// acknowledged. A damaged record (a checksum that fails) is logged and
// skipped: its seq is never sent, and the server sees a gap.
func (s *Spool) Next(maxEvents, maxBytes int) (*Batch, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	acked, durable, pos := s.acked, s.durable, s.pos
	segs := slices.Clone(s.segs)
	s.mu.Unlock()

	b := &Batch{Last: acked}
	if acked >= durable {
		return b, nil
	}
	// Start in the segment holding acked+1: the last one whose first
	// record is not after it.
	i, _ := slices.BinarySearch(segs, acked+2)
	i = max(i-1, 0)
	var off int64
	if pos.seq == acked && pos.seg != 0 {
		if j, ok := slices.BinarySearch(segs, pos.seg); ok {
			i, off = j, pos.off
		}
	}
	end := readPos{seq: acked}
	full := false
	for ; i < len(segs) && !full; i, off = i+1, 0 {
		var err error
		full, err = s.scan(segs[i], off, acked, durable, maxEvents, maxBytes, b, &end)
		if err != nil {
			return nil, err
		}
	}
	if !full {
		// Every record up to durable was read: damaged ones after the
		// last event are covered too.
		b.Last = durable
	} else if len(b.Seqs) > 0 {
		b.Last = b.Seqs[len(b.Seqs)-1]
	}
	s.mu.Lock()
	s.end = end
	s.mu.Unlock()
	return b, nil
}

// scan reads segment seg from off into b. It reports whether b is full
// (or the next record is past durable), and keeps in end the position
// after the last record taken.
func (s *Spool) scan(seg uint64, off int64, acked, durable uint64, maxEvents, maxBytes int, b *Batch, end *readPos) (bool, error) {
	f, err := os.Open(s.segPath(seg))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil // acknowledged and deleted meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("read spool: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return false, fmt.Errorf("read spool: %w", err)
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for {
		line, err := readLine(r)
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			// A line without its newline: still being written (the
			// active segment), or torn (a damaged earlier segment).
			return false, nil
		}
		seq, event, perr := parseRecord(line[:len(line)-1])
		if perr != nil {
			s.log.Warn("spool: skipping a damaged record", "segment", segmentName(seg), "offset", off, "error", perr)
			off += int64(len(line))
			continue
		}
		if seq > durable {
			return true, nil
		}
		if seq <= acked {
			off += int64(len(line))
			continue
		}
		if len(b.Events) >= maxEvents || (len(b.Events) > 0 && b.Bytes+len(event)+1 > maxBytes) {
			return true, nil
		}
		b.Events = append(b.Events, slices.Clone(event))
		b.Seqs = append(b.Seqs, seq)
		b.Bytes += len(event) + 1
		off += int64(len(line))
		*end = readPos{seq: seq, seg: seg, off: off}
	}
}

// readLine returns the next line with its newline, or io.ErrUnexpectedEOF
// for a last line without one.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == nil {
		return line, nil
	}
	if err != bufio.ErrBufferFull {
		if err == io.EOF && len(line) > 0 {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	long := slices.Clone(line)
	for {
		line, err = r.ReadSlice('\n')
		long = append(long, line...)
		switch err {
		case nil:
			return long, nil
		case bufio.ErrBufferFull:
			continue
		case io.EOF:
			return nil, io.ErrUnexpectedEOF
		default:
			return nil, err
		}
	}
}

// Ack records that the server has every event up to seq, durably, and
// deletes the segments it no longer needs. seq must not be beyond what
// Next returned; acknowledging an older seq again does nothing.
func (s *Spool) Ack(seq uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if seq <= s.acked {
		return nil
	}
	if seq > s.durable {
		return fmt.Errorf("ack seq %d: only %d spooled", seq, s.durable)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, cursorName), fmt.Appendf(nil, "{\"acked\":%d}\n", seq)); err != nil {
		return fmt.Errorf("write spool cursor: %w", err)
	}
	s.acked = seq
	if s.end.seq == seq {
		s.pos = s.end
	}
	s.deleteAcked(false)
	return nil
}

// deleteAcked deletes the segments whose records the server has, except
// the last one unless all is true: Add may be appending to it (add drops
// it when it is done with it). The cursor is already durable, so a
// deletion lost in a crash is repeated at the next Open. The caller holds
// mu, or is Open.
func (s *Spool) deleteAcked(all bool) {
	keep := s.segs[:0]
	for i, first := range s.segs {
		lastSeq := s.durable
		if i+1 < len(s.segs) {
			lastSeq = s.segs[i+1] - 1
		}
		active := !all && i == len(s.segs)-1
		if lastSeq <= s.acked && !active {
			if err := os.Remove(s.segPath(first)); err != nil && !os.IsNotExist(err) {
				s.log.Warn("spool: delete acknowledged segment", "segment", segmentName(first), "error", err)
				keep = append(keep, first)
			}
			continue
		}
		keep = append(keep, first)
	}
	s.segs = keep
}

// Pending returns how many events the server does not have yet.
func (s *Spool) Pending() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.durable - s.acked
}

// LastSeq returns the highest seq ever given, 0 for a new spool. It never
// goes back, even when the spool is emptied.
func (s *Spool) LastSeq() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// Acked returns the highest seq the server acknowledged.
func (s *Spool) Acked() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close closes the spool, deleting the segments the server has all of. Events not yet acknowledged stay for the next Open.
func (s *Spool) Close() error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var err error
	if s.w != nil {
		err = s.w.Close()
		s.w = nil
	}
	s.deleteAcked(true)
	s.mu.Unlock()
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("close spool: %w", err)
	}
	return nil
}

// abandon closes the spool's files without writing anything, the way a
// crash leaves them.
func (s *Spool) abandon() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.w != nil {
		s.w.Close()
		s.w = nil
	}
	s.lock.Close()
}

func readCursor(name string) (uint64, error) {
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read cursor: %w", err)
	}
	var c struct {
		Acked *uint64 `json:"acked"`
	}
	if err := json.Unmarshal(data, &c); err != nil || c.Acked == nil {
		return 0, fmt.Errorf("read cursor %s: not {\"acked\": N}", name)
	}
	return *c.Acked, nil
}

// Source is an input file being taken into the spool. Its events get the
// seqs FirstSeq, FirstSeq+1, ... in file order, and nothing else is added
// meanwhile, so after a crash the spool's LastSeq tells how many of them
// are in: taking the file in again skips that many.
type Source struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// FirstSeq is the seq the file's first event gets.
	FirstSeq uint64 `json:"first_seq"`
}

// Taken returns how many of the source's events are in the spool.
func (s *Spool) Taken(src Source) uint64 {
	last := s.LastSeq()
	if last < src.FirstSeq {
		return 0
	}
	return last - src.FirstSeq + 1
}

// BeginSource durably records that the file at path (of the given size
// and modification time) is being taken in, from the next seq on. Add
// only that file's events until EndSource.
func (s *Spool) BeginSource(path string, size int64, modTime time.Time) (Source, error) {
	src := Source{Path: path, Size: size, ModTime: modTime.UTC(), FirstSeq: s.LastSeq() + 1}
	data, err := json.Marshal(src)
	if err != nil {
		return Source{}, fmt.Errorf("encode source: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(s.dir, sourceName), append(data, '\n')); err != nil {
		return Source{}, fmt.Errorf("record source %s: %w", path, err)
	}
	return src, nil
}

// CurrentSource returns the source a crash interrupted, if any.
func (s *Spool) CurrentSource() (Source, bool, error) {
	name := filepath.Join(s.dir, sourceName)
	data, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return Source{}, false, nil
	}
	if err != nil {
		return Source{}, false, fmt.Errorf("read source: %w", err)
	}
	var src Source
	if err := json.Unmarshal(data, &src); err != nil || src.Path == "" || src.FirstSeq == 0 {
		return Source{}, false, fmt.Errorf("read source %s: malformed", name)
	}
	return src, true, nil
}

// EndSource records that the current source is entirely in the spool
// and removed from its directory.
func (s *Spool) EndSource() error {
	if err := removeDurably(filepath.Join(s.dir, sourceName)); err != nil {
		return fmt.Errorf("end source: %w", err)
	}
	return nil
}

// Rejected is an event set aside in the spool's rejected.ndjson: input
// that is not a JSON object, or an event the server refused outright
// (without keeping it in its quarantine).
type Rejected struct {
	Time   time.Time `json:"time"`
	Source string    `json:"source,omitempty"` // input file or "stdin"
	Line   int       `json:"line,omitempty"`   // 1-based line in Source
	Seq    uint64    `json:"seq,omitempty"`    // for events that were spooled
	Error  string    `json:"error"`
	// Event is the input when it is valid JSON, Raw otherwise.
	Event json.RawMessage `json:"event,omitempty"`
	Raw   string          `json:"raw,omitempty"`
}

// Reject appends rs to the spool's rejected.ndjson and syncs it.
func (s *Spool) Reject(rs ...Rejected) error {
	if len(rs) == 0 {
		return nil
	}
	var buf []byte
	for _, r := range rs {
		if r.Time.IsZero() {
			r.Time = time.Now().UTC()
		}
		if len(r.Event) > 0 && !json.Valid(r.Event) {
			r.Raw, r.Event = string(r.Event), nil
		}
		b, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode rejected event: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := appendSynced(filepath.Join(s.dir, rejectedName), buf); err != nil {
		return fmt.Errorf("set aside %d events: %w", len(rs), err)
	}
	return nil
}
