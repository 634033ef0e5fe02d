package filelog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// The on-disk format; doc.go describes it.
const (
	// formatVersion is the version of segment files; version 2 frames
	// carry their record's offset, so that a reader can resynchronize past
	// a damaged frame without shifting the offsets after it.
	formatVersion = 2
	// offsetsVersion is the version of the offsets files.
	offsetsVersion  = 1
	segHeaderSize   = 32
	frameHeaderSize = 8
	// minBodySize is a body with an offset, a time and two empty lengths. It makes a
	// zero-filled tail (what some file systems leave after a crash) a
	// corrupt frame rather than an empty record.
	minBodySize = 8 + 8 + 1 + 1
	// maxBodySize bounds one record, so that a corrupt length never makes
	// a reader allocate gigabytes.
	maxBodySize = 64 << 20
)

var (
	segMagic   = [4]byte{'V', 'L', 'O', 'G'}
	castagnoli = crc32.MakeTable(crc32.Castagnoli)
)

var (
	// errTorn means the data ends inside a frame or header.
	errTorn = errors.New("torn frame")
	// errCorrupt means a frame or header fails its checks.
	errCorrupt = errors.New("corrupt frame")
)

// versionError is a segment header with a format version this build does
// not read.
type versionError struct {
	what           string
	version, reads uint16
}

func (e *versionError) Error() string {
	return fmt.Sprintf("unknown %s format version %d (this build reads version %d)", e.what, e.version, e.reads)
}

// appendSegHeader appends the header of a segment whose first record has
// offset base.
func appendSegHeader(b []byte, base, createdMs int64) []byte {
	start := len(b)
	b = append(b, segMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, formatVersion)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(base))
	b = binary.BigEndian.AppendUint64(b, uint64(createdMs))
	b = binary.BigEndian.AppendUint32(b, 0)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseSegHeader checks a segment header and returns the segment's base
// offset.
func parseSegHeader(h []byte) (int64, error) {
	if len(h) < segHeaderSize {
		return 0, fmt.Errorf("segment header: %w", errTorn)
	}
	if [4]byte(h[0:4]) != segMagic {
		return 0, fmt.Errorf("segment header: bad magic %q: %w", h[0:4], errCorrupt)
	}
	// The version comes before the checksum: another version may lay the
	// header out differently.
	if v := binary.BigEndian.Uint16(h[4:6]); v != formatVersion {
		return 0, &versionError{what: "segment", version: v, reads: formatVersion}
	}
	if crc32.Checksum(h[:28], castagnoli) != binary.BigEndian.Uint32(h[28:32]) {
		return 0, fmt.Errorf("segment header: checksum mismatch: %w", errCorrupt)
	}
	base := int64(binary.BigEndian.Uint64(h[8:16]))
	if base < 0 {
		return 0, fmt.Errorf("segment header: negative base offset: %w", errCorrupt)
	}
	return base, nil
}

// frameSize is the size of rec's frame.
func frameSize(rec *eventlog.Record) int {
	return frameHeaderSize + 16 +
		uvarintLen(len(rec.Key)) + len(rec.Key) +
		uvarintLen(len(rec.ID)) + len(rec.ID) +
		len(rec.Value)
}

func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// appendFrame appends rec's frame with its offset, time and checksum left
// zero; sealFrames fills them in.
func appendFrame(b []byte, rec *eventlog.Record) []byte {
	body := frameSize(rec) - frameHeaderSize
	b = binary.BigEndian.AppendUint32(b, uint32(body))
	b = binary.BigEndian.AppendUint32(b, 0) // checksum
	b = binary.BigEndian.AppendUint64(b, 0) // offset
	b = binary.BigEndian.AppendUint64(b, 0) // time
	b = binary.AppendUvarint(b, uint64(len(rec.Key)))
	b = append(b, rec.Key...)
	b = binary.AppendUvarint(b, uint64(len(rec.ID)))
	b = append(b, rec.ID...)
	return append(b, rec.Value...)
}

// sealFrames numbers the frames in b, which holds whole frames made by
// appendFrame, from offset first, sets their time and computes their
// checksums. It calls fn with the position of each frame in b.
func sealFrames(b []byte, first, ms int64, fn func(pos int)) {
	off := first
	for pos := 0; pos < len(b); {
		n := int(binary.BigEndian.Uint32(b[pos:]))
		f := b[pos : pos+frameHeaderSize+n]
		binary.BigEndian.PutUint64(f[frameHeaderSize:], uint64(off))
		binary.BigEndian.PutUint64(f[frameHeaderSize+8:], uint64(ms))
		binary.BigEndian.PutUint32(f[4:8], frameChecksum(f[0:4], f[frameHeaderSize:]))
		fn(pos)
		pos += len(f)
		off++
	}
}

func frameChecksum(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// frame is a decoded record body. Its slices point into the body.
type frame struct {
	off, ms    int64
	key, id, v []byte
}

func decodeBody(body []byte) (frame, error) {
	if len(body) < minBodySize {
		return frame{}, fmt.Errorf("body of %d bytes: %w", len(body), errCorrupt)
	}
	f := frame{off: int64(binary.BigEndian.Uint64(body)), ms: int64(binary.BigEndian.Uint64(body[8:]))}
	if f.off < 0 {
		return frame{}, fmt.Errorf("negative offset: %w", errCorrupt)
	}
	rest := body[16:]
	var err error
	if f.key, rest, err = lengthPrefixed(rest); err != nil {
		return frame{}, fmt.Errorf("key: %w", err)
	}
	if f.id, rest, err = lengthPrefixed(rest); err != nil {
		return frame{}, fmt.Errorf("id: %w", err)
	}
	f.v = rest
	return f, nil
}

func lengthPrefixed(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, errCorrupt
	}
	end := k + int(n)
	return b[k:end], b[end:], nil
}

// frameReader reads the frames of a segment file between two positions.
// It never reads past limit, so a damaged length field can neither make it
// allocate more than the bytes that are there nor read another segment's
// data.
type frameReader struct {
	br    *bufio.Reader
	pos   int64 // file position of the next frame
	limit int64 // file position where the data ends
	hdr   [frameHeaderSize]byte
}

// reset makes r read the frames of ra from pos to limit.
func (r *frameReader) reset(ra io.ReaderAt, pos, limit int64) {
	src := io.NewSectionReader(ra, pos, max(limit-pos, 0))
	if r.br == nil {
		r.br = bufio.NewReaderSize(src, 256<<10)
	} else {
		r.br.Reset(src)
	}
	r.pos, r.limit = pos, limit
}

// next reads the next frame into *buf (grown as needed), verifies it and
// decodes it. At the limit it returns io.EOF; a frame the limit cuts is
// errTorn and a bad one errCorrupt. After an error r.pos is still the
// position of the frame that failed, and r must be reset before it reads
// again.
func (r *frameReader) next(buf *[]byte) (frame, error) {
	left := r.limit - r.pos
	if left <= 0 {
		return frame{}, io.EOF
	}
	if left < frameHeaderSize {
		return frame{}, errTorn
	}
	if _, err := io.ReadFull(r.br, r.hdr[:]); err != nil {
		return frame{}, eofIsTorn(err)
	}
	n := int64(binary.BigEndian.Uint32(r.hdr[0:4]))
	if n < minBodySize || n > maxBodySize {
		return frame{}, fmt.Errorf("frame length %d: %w", n, errCorrupt)
	}
	if n > left-frameHeaderSize {
		return frame{}, fmt.Errorf("frame length %d with %d bytes left: %w", n, left-frameHeaderSize, errTorn)
	}
	if int64(cap(*buf)) < n {
		*buf = make([]byte, n, max(n, 2*int64(cap(*buf))))
	}
	body := (*buf)[:n]
	if _, err := io.ReadFull(r.br, body); err != nil {
		return frame{}, eofIsTorn(err)
	}
	if frameChecksum(r.hdr[0:4], body) != binary.BigEndian.Uint32(r.hdr[4:8]) {
		return frame{}, fmt.Errorf("checksum mismatch: %w", errCorrupt)
	}
	f, err := decodeBody(body)
	if err != nil {
		return frame{}, err
	}
	r.pos += frameHeaderSize + n
	return f, nil
}

func eofIsTorn(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTorn
	}
	return err
}

// resyncWindow is how much of a damaged region resync reads at a time.
const resyncWindow = 1 << 20

// resync looks for the first position after start, where a frame failed
// its checks, and before limit where a whole frame validates: a plausible
// length, a record offset from expect on (and below offLimit, unless it
// is -1) that the bytes skipped could have held, a CRC-32C over the
// length and the body that matches, and a body that decodes. It returns
// that position and the frame's offset, or -1 if the data up to limit
// holds none.
//
// On random bytes a position passes the length and offset checks with a
// probability far below 2^-40 and the checksum with 2^-32, so a false
// resynchronization is out of reach; record values are UTF-8 JSON, which
// cannot hold a frame's binary header. Only candidates that pass the
// cheap checks cost a checksum, and none reads past limit.
func resync(ra io.ReaderAt, start, limit, expect, offLimit int64) (pos, off int64, err error) {
	from := start + 1
	win := make([]byte, resyncWindow+frameHeaderSize+16)
	var big []byte
	for start := from; start+frameHeaderSize+minBodySize <= limit; start += resyncWindow {
		n := min(int64(len(win)), limit-start)
		if _, err := ra.ReadAt(win[:n], start); err != nil && !errors.Is(err, io.EOF) {
			return -1, 0, err
		}
		for i := int64(0); i < min(resyncWindow, n); i++ {
			p := start + i
			if p+frameHeaderSize+minBodySize > limit {
				return -1, 0, nil
			}
			l := int64(binary.BigEndian.Uint32(win[i:]))
			if l < minBodySize || l > maxBodySize || p+frameHeaderSize+l > limit {
				continue
			}
			// Each record lost took a frame of at least the minimum size.
			o := int64(binary.BigEndian.Uint64(win[i+frameHeaderSize:]))
			if o < expect || o-expect > (p-start)/(frameHeaderSize+minBodySize) || offLimit >= 0 && o >= offLimit {
				continue
			}
			var fr []byte
			if i+frameHeaderSize+l <= n {
				fr = win[i : i+frameHeaderSize+l]
			} else {
				if int64(cap(big)) < frameHeaderSize+l {
					big = make([]byte, frameHeaderSize+l)
				}
				fr = big[:frameHeaderSize+l]
				if _, err := ra.ReadAt(fr, p); err != nil && !errors.Is(err, io.EOF) {
					return -1, 0, err
				}
			}
			if frameChecksum(fr[0:4], fr[frameHeaderSize:]) != binary.BigEndian.Uint32(fr[4:8]) {
				continue
			}
			if _, err := decodeBody(fr[frameHeaderSize:]); err != nil {
				continue
			}
			return p, o, nil
		}
	}
	return -1, 0, nil
}

// damage is a region of a segment file that holds no valid frame, and the
// records that were in it.
type damage struct {
	pos, end    int64 // the bytes [pos, end) of the segment file
	first, next int64 // the records first..next-1 were in it
	tail        bool  // it reaches the end of the data read
}

func (d damage) records() int64 { return d.next - d.first }

// scanFrames reads and verifies the frames of ra from start to limit,
// expecting offsets from first on and below offLimit (-1: not known),
// and calls fn with each good frame's position and contents. Past a
// frame that fails its checks it resynchronizes at the next frame that
// validates (see resync) and goes on; each such region is returned. A
// region that reaches limit ends the scan: it is marked tail, and end (the
// position after the last good frame) is its start; else end is limit.
func scanFrames(ra io.ReaderAt, start, limit, first, offLimit int64, fn func(pos int64, f frame)) (damages []damage, end int64, err error) {
	var fr frameReader
	fr.reset(ra, start, limit)
	var buf []byte
	expect := first
	for {
		pos := fr.pos
		f, err := fr.next(&buf)
		if err == io.EOF {
			return damages, pos, nil
		}
		if err == nil && f.off >= expect && (offLimit < 0 || f.off < offLimit) {
			fn(pos, f)
			expect = f.off + 1
			continue
		}
		if err != nil && !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt) {
			return damages, pos, err
		}
		at, off, err := resync(ra, pos, limit, expect, offLimit)
		if err != nil {
			return damages, pos, err
		}
		if at < 0 {
			next := offLimit
			if next < 0 {
				next = expect
			}
			return append(damages, damage{pos: pos, end: limit, first: expect, next: next, tail: true}), pos, nil
		}
		damages = append(damages, damage{pos: pos, end: at, first: expect, next: off})
		fr.reset(ra, at, limit)
	}
}
