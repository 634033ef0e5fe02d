package filelog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	segSuffix = ".seg"
	// indexEvery is the spacing, in bytes of segment, of the in-memory
	// index that readers seek with.
	indexEvery = 64 << 10
)

// segment is one segment file. Its records have offsets base, base+1, ...
type segment struct {
	base int64
	path string
	// version is the segment's format, from its header; it is set before
	// readers see the segment.
	version version

	// Published state, guarded by Log.mu: the records readers may see.
	count       int64
	size        int64 // bytes of the file that hold them
	first, last int64 // append times (Unix ms) of the first and last record; valid when count > 0

	// Writer state, touched only by the writer goroutine (and by Open
	// before it starts): what is written, durable or not yet.
	wcount        int64
	wsize         int64
	wfirst, wlast int64
	nextIndexPos  int64

	// removed is set when retention deletes the segment.
	removed atomic.Bool

	idxMu   sync.Mutex
	indexed bool // index covers every record (else it is built on first use)
	index   []indexEntry
	damages []damage // regions found damaged, by position
}

// reporter is told of each damaged region found in a segment, once.
type reporter func(s *segment, d damage)

// indexEntry places a record in its segment file.
type indexEntry struct {
	off, pos, ms int64
}

func segName(base int64) string { return fmt.Sprintf("%020d%s", base, segSuffix) }

// segBase parses a segment file name.
func segBase(name string) (int64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != 20 {
		return 0, false
	}
	base, err := strconv.ParseInt(digits, 10, 64)
	return base, err == nil && base >= 0
}

// listSegments returns the segments in dir, ordered by base offset.
func listSegments(dir string) ([]*segment, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var segs []*segment
	for _, e := range entries {
		if base, ok := segBase(e.Name()); ok && e.Type().IsRegular() {
			segs = append(segs, &segment{base: base, path: filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(segs, func(a, b *segment) int { return compareInt(a.base, b.base) })
	return segs, nil
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// createSegment creates the segment starting at base and makes it durable
// (the file and its directory entry) before anything is written to it.
func createSegment(dir string, base int64) (*segment, *os.File, error) {
	s := &segment{base: base, path: filepath.Join(dir, segName(base)), indexed: true}
	f, err := os.OpenFile(s.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("create segment: %w", err)
	}
	if err := s.writeHeader(f); err != nil {
		_ = f.Close()
		_ = os.Remove(s.path)
		return nil, nil, err
	}
	if err := syncDir(dir); err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return s, f, nil
}

// writeHeader writes and fsyncs the segment's header at the start of f,
// which is empty or truncated to be.
func (s *segment) writeHeader(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("truncate %s: %w", s.path, err)
	}
	if _, err := f.WriteAt(appendSegHeader(nil, s.base, time.Now().UnixMilli()), 0); err != nil {
		return fmt.Errorf("write %s: %w", s.path, err)
	}
	if _, err := f.Seek(segHeaderSize, io.SeekStart); err != nil {
		return fmt.Errorf("seek %s: %w", s.path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.path, err)
	}
	s.version = formatVersion
	s.wsize, s.nextIndexPos, s.size = segHeaderSize, segHeaderSize, segHeaderSize
	return nil
}

// checkHeader reads and checks the header of the segment open in f and
// returns its format version.
func (s *segment) checkHeader(f *os.File) (version, error) {
	h := make([]byte, segHeaderSize)
	if _, err := io.ReadFull(f, h); err != nil {
		return 0, fmt.Errorf("%s: %w", s.path, eofIsTorn(err))
	}
	base, v, err := parseSegHeader(h)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", s.path, err)
	}
	if base != s.base {
		return 0, fmt.Errorf("%s: header says base offset %d: %w", s.path, base, errCorrupt)
	}
	return v, nil
}

// openSealed reads what Open needs of a segment that is not the last: its
// header, its size and its first record's time. Its count comes from the
// next segment's base; the rest of it is read when a reader needs it. If
// the first frame fails its checks, the whole segment is read now.
func (s *segment) openSealed(count int64, rep reporter) error {
	f, err := os.Open(s.path)
	if err != nil {
		return err
	}
	defer f.Close()
	if s.version, err = s.checkHeader(f); err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	s.count, s.wcount = count, count
	s.wsize, s.size = fi.Size(), fi.Size()
	var fr frameReader
	fr.reset(f, s.version, segHeaderSize, fi.Size())
	var buf []byte
	first, err := fr.next(&buf, s.base)
	if err == nil && first.off == s.base {
		s.first, s.wfirst = first.ms, first.ms
		return nil
	}
	if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt) {
		return fmt.Errorf("%s: first record: %w", s.path, err)
	}
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	index, firstMs, _, err := s.scanIndexLocked(count, rep)
	if err != nil {
		return err
	}
	s.index, s.indexed = index, true
	s.first, s.wfirst = firstMs, firstMs
	return nil
}

// recoverTail opens the last segment for writing: it checks every frame,
// truncates a torn tail and indexes the segment. A header that is missing
// or all zeros (the segment was being created when the process stopped)
// is written again, in the current format.
func (s *segment) recoverTail(logger logFunc, rep reporter) (*os.File, error) {
	f, err := os.OpenFile(s.path, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if s.version, err = s.checkHeader(f); err != nil {
		if !errors.Is(err, errTorn) && !(errors.Is(err, errCorrupt) && allZero(f, fi.Size())) {
			return fail(err)
		}
		logger("rewriting the header of a segment left unfinished", "segment", s.path, "bytes", fi.Size())
		if err := s.writeHeader(f); err != nil {
			return fail(err)
		}
		s.indexed = true
		return f, nil
	}

	s.nextIndexPos = segHeaderSize
	seen := false
	damages, end, scanErr := scanFrames(f, s.version, segHeaderSize, fi.Size(), s.base, -1,
		func(pos int64, fr frame) {
			s.addIndex(fr.off, pos, fr.ms)
			if !seen {
				s.wfirst, seen = fr.ms, true
			}
			s.wlast = fr.ms
			s.wcount = fr.off + 1 - s.base
		})
	if scanErr != nil {
		return fail(fmt.Errorf("read %s: %w", s.path, scanErr))
	}
	// Damage that no valid frame follows is a torn tail: it can only hold
	// records whose Append had not returned. Damage followed by valid
	// frames is not; its records count in the segment's.
	for _, d := range damages {
		if !d.torn {
			s.damages = append(s.damages, d)
			rep(s, d)
			s.wcount = max(s.wcount, d.next-s.base)
		}
	}
	if s.wcount > 0 && !seen {
		// Damage holds every record: their times are not known, and now
		// is no earlier than any of them.
		now := time.Now().UnixMilli()
		s.wfirst, s.wlast = now, now
	}
	if end < fi.Size() {
		logger("truncating the torn tail of the last segment",
			"segment", s.path, "records", s.wcount, "valid_bytes", end, "dropped_bytes", fi.Size()-end)
		if err := f.Truncate(end); err != nil {
			return fail(fmt.Errorf("truncate %s: %w", s.path, err))
		}
		if err := f.Sync(); err != nil {
			return fail(fmt.Errorf("sync %s: %w", s.path, err))
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		return fail(err)
	}
	s.wsize, s.size = end, end
	s.count, s.first, s.last = s.wcount, s.wfirst, s.wlast
	s.indexed = true
	return f, nil
}

type logFunc func(msg string, args ...any)

// allZero reports whether the file's bytes are all zero.
func allZero(f *os.File, size int64) bool {
	br := bufio.NewReader(io.NewSectionReader(f, 0, size))
	for {
		c, err := br.ReadByte()
		if err != nil {
			return true
		}
		if c != 0 {
			return false
		}
	}
}

// addIndex records where record off is, if the index is due an entry. The
// writer calls it for the segment it writes, and Open and ensureIndex for
// the segments they scan.
func (s *segment) addIndex(off, pos, ms int64) {
	if pos < s.nextIndexPos {
		return
	}
	s.idxMu.Lock()
	s.index = append(s.index, indexEntry{off: off, pos: pos, ms: ms})
	s.idxMu.Unlock()
	s.nextIndexPos = pos + indexEvery
}

// ensureIndex indexes a sealed segment of count records that Open did not
// read, verifying every frame and reporting the damaged regions.
func (s *segment) ensureIndex(count int64, rep reporter) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	if s.indexed {
		return nil
	}
	index, _, _, err := s.scanIndexLocked(count, rep)
	if err != nil {
		return err
	}
	s.index, s.indexed = index, true
	return nil
}

// scanIndex reads a sealed segment of count records and returns its
// index and the time of its last record.
func (s *segment) scanIndex(count int64, rep reporter) ([]indexEntry, int64, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	index, _, last, err := s.scanIndexLocked(count, rep)
	return index, last, err
}

// scanIndexLocked verifies the frames of a sealed segment of count
// records and returns its index and the times of its first and last good
// records (0 if it has none). It
// records and reports the damaged regions it has not seen before.
// s.idxMu must be held.
func (s *segment) scanIndexLocked(count int64, rep reporter) (index []indexEntry, firstMs, lastMs int64, err error) {
	f, err := os.Open(s.path)
	if err != nil {
		return nil, 0, 0, err
	}
	defer f.Close()
	if v, err := s.checkHeader(f); err != nil {
		return nil, 0, 0, err
	} else if v != s.version {
		return nil, 0, 0, fmt.Errorf("%s: header says format version %d, not %d: %w", s.path, v, s.version, errCorrupt)
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	next, seen := int64(segHeaderSize), false
	damages, _, err := scanFrames(f, s.version, segHeaderSize, fi.Size(), s.base, s.base+count, func(pos int64, fr frame) {
		if pos >= next {
			index = append(index, indexEntry{off: fr.off, pos: pos, ms: fr.ms})
			next = pos + indexEvery
		}
		if !seen {
			firstMs, seen = fr.ms, true
		}
		lastMs = fr.ms
	})
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", s.path, err)
	}
	for _, d := range damages {
		s.addDamageLocked(d, rep)
	}
	return index, firstMs, lastMs, nil
}

// addDamageLocked records a damaged region unless it is known, and
// reports it if it is new. s.idxMu must be held.
func (s *segment) addDamageLocked(d damage, rep reporter) {
	i, found := slices.BinarySearchFunc(s.damages, d.pos, func(e damage, pos int64) int { return compareInt(e.pos, pos) })
	if found {
		return
	}
	s.damages = slices.Insert(s.damages, i, d)
	rep(s, d)
}

// damageAt returns the damaged region that holds pos: one a scan found
// or, if none did, the one region finds in ra from pos up to limit,
// expecting record expect and offsets below offLimit (for the active
// segment, the published data and records).
func (s *segment) damageAt(ra io.ReaderAt, pos, limit, expect, offLimit int64, rep reporter) (damage, error) {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	for _, d := range s.damages {
		if d.pos <= pos && pos < d.end {
			return d, nil
		}
	}
	d, err := region(ra, s.version, pos, limit, expect, offLimit)
	if err != nil {
		return damage{}, fmt.Errorf("read %s: %w", s.path, err)
	}
	s.addDamageLocked(d, rep)
	return d, nil
}

// lookup returns the last index entry at or before record off.
func (s *segment) lookup(off int64) indexEntry {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	i, found := slices.BinarySearchFunc(s.index, off, func(e indexEntry, off int64) int { return compareInt(e.off, off) })
	if found {
		return s.index[i]
	}
	if i == 0 {
		return indexEntry{off: s.base, pos: segHeaderSize}
	}
	return s.index[i-1]
}

// lookupTime returns the last index entry of a record stored before ms:
// every record before it was stored before ms too.
func (s *segment) lookupTime(ms int64) indexEntry {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	i, _ := slices.BinarySearchFunc(s.index, ms, func(e indexEntry, ms int64) int {
		if e.ms < ms {
			return -1
		}
		return 1
	})
	if i == 0 {
		return indexEntry{off: s.base, pos: segHeaderSize}
	}
	return s.index[i-1]
}
