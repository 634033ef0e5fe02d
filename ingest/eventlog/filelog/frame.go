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
	// formatVersion is the version new segments are written in. Segments
	// of every version since version1 are read.
	formatVersion = version2
	// offsetsVersion is the version of the offsets files.
	offsetsVersion  = 1
	segHeaderSize   = 32
	frameHeaderSize = 8
	// maxBodySize bounds one record, so that a corrupt length never makes
	// a reader allocate gigabytes.
	maxBodySize = 64 << 20
)

// version is a segment format version, read from the segment's header.
// What differs between versions is here: whether a frame's body starts
// with its record's offset (and so the smallest body), and how the
// records of a damaged region are counted (see region).
type version uint16

const (
	// version1 frames leave their offset implicit: the segment's base plus
	// the frame's index.
	version1 version = 1
	// version2 frames carry their record's offset, so that a reader can
	// resynchronize past a damaged frame without shifting the offsets
	// after it.
	version2 version = 2
)

func (v version) known() bool { return v == version1 || v == version2 }

// offsetBytes is the size of the offset a body starts with: 0 if the
// frames of v do not carry their offset.
func (v version) offsetBytes() int {
	if v == version1 {
		return 0
	}
	return 8
}

// minBody is the size of a body with its offset (if v has one), a time
// and two empty lengths. It makes a zero-filled tail (what some file
// systems leave after a crash) a corrupt frame rather than an empty
// record.
func (v version) minBody() int64 { return int64(v.offsetBytes()) + 8 + 1 + 1 }

// minFrame is the size of the smallest frame: no region of n bytes held
// more than n/minFrame records.
func (v version) minFrame() int64 { return frameHeaderSize + v.minBody() }

// offset returns the record offset that body, at least minBody bytes,
// stores, or implicit if the frames of v do not store one.
func (v version) offset(body []byte, implicit int64) int64 {
	if v.offsetBytes() == 0 {
		return implicit
	}
	return int64(binary.BigEndian.Uint64(body))
}

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

// versionError is a file header with a format version this build does
// not read.
type versionError struct {
	what    string
	version uint16
	reads   string // the versions this build reads
}

func (e *versionError) Error() string {
	return fmt.Sprintf("unknown %s format version %d (this build reads %s)", e.what, e.version, e.reads)
}

// appendSegHeader appends the header of a segment whose first record has
// offset base.
func appendSegHeader(b []byte, base, createdMs int64) []byte {
	start := len(b)
	b = append(b, segMagic[:]...)
	b = binary.BigEndian.AppendUint16(b, uint16(formatVersion))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(base))
	b = binary.BigEndian.AppendUint64(b, uint64(createdMs))
	b = binary.BigEndian.AppendUint32(b, 0)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// parseSegHeader checks a segment header and returns the segment's base
// offset and format version.
func parseSegHeader(h []byte) (int64, version, error) {
	if len(h) < segHeaderSize {
		return 0, 0, fmt.Errorf("segment header: %w", errTorn)
	}
	if [4]byte(h[0:4]) != segMagic {
		return 0, 0, fmt.Errorf("segment header: bad magic %q: %w", h[0:4], errCorrupt)
	}
	// The version comes before the checksum: another version may lay the
	// header out differently. Versions 1 and 2 lay it out alike.
	v := version(binary.BigEndian.Uint16(h[4:6]))
	if !v.known() {
		return 0, 0, &versionError{what: "segment", version: uint16(v), reads: "versions 1 and 2"}
	}
	if crc32.Checksum(h[:28], castagnoli) != binary.BigEndian.Uint32(h[28:32]) {
		return 0, 0, fmt.Errorf("segment header: checksum mismatch: %w", errCorrupt)
	}
	base := int64(binary.BigEndian.Uint64(h[8:16]))
	if base < 0 {
		return 0, 0, fmt.Errorf("segment header: negative base offset: %w", errCorrupt)
	}
	return base, v, nil
}

// frameSize is the size of rec's frame in the format new segments are
// written in; appendFrame and sealFrames write that format only.
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

// decode decodes a body of version v; implicit is the record's offset if
// the frames of v do not carry it.
func (v version) decode(body []byte, implicit int64) (frame, error) {
	if int64(len(body)) < v.minBody() {
		return frame{}, fmt.Errorf("body of %d bytes: %w", len(body), errCorrupt)
	}
	f := frame{off: v.offset(body, implicit)}
	if f.off < 0 {
		return frame{}, fmt.Errorf("negative offset: %w", errCorrupt)
	}
	rest := body[v.offsetBytes():]
	f.ms = int64(binary.BigEndian.Uint64(rest))
	rest = rest[8:]
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
	v     version // the segment's format
	pos   int64   // file position of the next frame
	limit int64   // file position where the data ends
	hdr   [frameHeaderSize]byte
}

// reset makes r read the frames, of version v, of ra from pos to limit.
func (r *frameReader) reset(ra io.ReaderAt, v version, pos, limit int64) {
	src := io.NewSectionReader(ra, pos, max(limit-pos, 0))
	if r.br == nil {
		r.br = bufio.NewReaderSize(src, 256<<10)
	} else {
		r.br.Reset(src)
	}
	r.v, r.pos, r.limit = v, pos, limit
}

// next reads the next frame into *buf (grown as needed), verifies it and
// decodes it; implicit is its offset if it does not carry one. At the limit it returns io.EOF; a frame the limit cuts is
// errTorn and a bad one errCorrupt. After an error r.pos is still the
// position of the frame that failed, and r must be reset before it reads
// again.
func (r *frameReader) next(buf *[]byte, implicit int64) (frame, error) {
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
	if n < r.v.minBody() || n > maxBodySize {
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
	f, err := r.v.decode(body, implicit)
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

// resync looks for the first position after start, where a frame of
// version v failed its checks, and before limit where a whole frame
// validates: a plausible length, a record offset from expect on (and
// below offLimit, unless it is -1) that the bytes skipped could have held,
// a CRC-32C over the length and the body that matches, and a body that
// decodes. It returns that position and the frame's offset (expect for a
// version 1 frame, which carries none), or -1 if the data up to limit
// holds none.
//
// On random bytes a position passes the length and offset checks with a
// probability far below 2^-40 and the checksum with 2^-32, so a false
// resynchronization is out of reach; record values are UTF-8 JSON, which
// cannot hold a frame's binary header. Version 1 frames have no offset to
// check, so region asks more of what follows. Only candidates that pass
// the cheap checks cost a checksum, and none reads past limit.
func resync(ra io.ReaderAt, v version, start, limit, expect, offLimit int64) (pos, off int64, err error) {
	from := start + 1
	minBody := v.minBody()
	win := make([]byte, resyncWindow+frameHeaderSize+16)
	var big []byte
	for start := from; start+frameHeaderSize+minBody <= limit; start += resyncWindow {
		n := min(int64(len(win)), limit-start)
		if _, err := ra.ReadAt(win[:n], start); err != nil && !errors.Is(err, io.EOF) {
			return -1, 0, err
		}
		for i := int64(0); i < min(resyncWindow, n); i++ {
			p := start + i
			if p+frameHeaderSize+minBody > limit {
				return -1, 0, nil
			}
			l := int64(binary.BigEndian.Uint32(win[i:]))
			if l < minBody || l > maxBodySize || p+frameHeaderSize+l > limit {
				continue
			}
			// Each record lost took a frame of at least the minimum size.
			o := v.offset(win[i+frameHeaderSize:], expect)
			if o < expect || o-expect > (p-start)/v.minFrame() || offLimit >= 0 && o >= offLimit {
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
			if _, err := v.decode(fr[frameHeaderSize:], expect); err != nil {
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
	// torn means no frame validates after pos: in the last segment, the
	// data was cut there. A tail that is not torn has frames that validate
	// but whose offsets are not known (version 1).
	torn bool
}

func (d damage) records() int64 { return d.next - d.first }

// region returns the damaged region of a segment of version v that starts
// at pos, where the frame that should hold record expect fails its
// checks; the segment's records are below offLimit, or -1 for the last
// segment, whose count is not known. The region ends at the next frame
// that validates (see resync), whose offset says how many records it held.
//
// A version 1 frame carries no offset, so that number is known only from
// the end: in a sealed segment, if every frame from there validates up to
// limit, they are its last records. In the last segment, if every frame
// from there validates up to limit or a torn tail, the region is counted
// as holding as many records as its bytes could, so that the frames after
// it get offsets no lower than their own and no group skips one; sealed
// as it is, the segment is then counted the same way from its end. Failing
// that, the region is the rest of the segment and holds every record up
// to offLimit (in the last segment, as many as its bytes could).
func region(ra io.ReaderAt, v version, pos, limit, expect, offLimit int64) (damage, error) {
	at, off, err := resync(ra, v, pos, limit, expect, offLimit)
	if err != nil {
		return damage{}, err
	}
	if at < 0 {
		next := offLimit
		if next < 0 {
			next = expect
		}
		return damage{pos: pos, end: limit, first: expect, next: next, tail: true, torn: true}, nil
	}
	d := damage{pos: pos, end: at, first: expect, next: off}
	if v.offsetBytes() > 0 {
		return d, nil
	}
	k, whole, err := countFrames(ra, v, at, limit, offLimit < 0)
	if err != nil {
		return damage{}, err
	}
	switch {
	case whole && offLimit >= 0 && offLimit-k >= expect:
		d.next = offLimit - k
	case whole && offLimit < 0:
		d.next = expect + (at-pos)/v.minFrame()
	default:
		d.end, d.tail = limit, true
		d.next = offLimit
		if offLimit < 0 {
			d.next = expect + (limit-pos)/v.minFrame()
		}
	}
	return d, nil
}

// countFrames counts the frames of version v that validate from pos on
// and reports whether they reach limit or, if tornOK, a torn tail (no
// frame validates after the first that fails).
func countFrames(ra io.ReaderAt, v version, pos, limit int64, tornOK bool) (n int64, whole bool, err error) {
	var fr frameReader
	fr.reset(ra, v, pos, limit)
	var buf []byte
	for {
		_, err := fr.next(&buf, 0)
		switch {
		case err == io.EOF:
			return n, true, nil
		case err == nil:
			n++
			continue
		case !errors.Is(err, errTorn) && !errors.Is(err, errCorrupt):
			return 0, false, err
		}
		if !tornOK {
			return n, false, nil
		}
		at, _, err := resync(ra, v, fr.pos, limit, 0, -1)
		return n, at < 0, err
	}
}

// scanFrames reads and verifies the frames of version v of ra from start
// to limit, expecting offsets from first on and below offLimit (-1: not
// known), and calls fn with each good frame's position and contents. Past
// a frame that fails its checks it goes on after the damaged region (see
// region); each region is returned. A region that reaches limit ends the
// scan: it is marked tail, and end (the position after the last good
// frame, for a torn one) is its start; else end is limit.
func scanFrames(ra io.ReaderAt, v version, start, limit, first, offLimit int64, fn func(pos int64, f frame)) (damages []damage, end int64, err error) {
	var fr frameReader
	fr.reset(ra, v, start, limit)
	var buf []byte
	expect := first
	for {
		pos := fr.pos
		f, err := fr.next(&buf, expect)
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
		d, err := region(ra, v, pos, limit, expect, offLimit)
		if err != nil {
			return damages, pos, err
		}
		damages = append(damages, d)
		switch {
		case d.torn:
			return damages, pos, nil
		case d.tail:
			return damages, limit, nil
		}
		fr.reset(ra, v, d.end, limit)
		expect = d.next
	}
}
