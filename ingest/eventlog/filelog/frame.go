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
	formatVersion   = 1
	segHeaderSize   = 32
	frameHeaderSize = 8
	// minBodySize is a body with a time and two empty lengths. It makes a
	// zero-filled tail (what some file systems leave after a crash) a
	// corrupt frame rather than an empty record.
	minBodySize = 8 + 1 + 1
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
type versionError struct{ version uint16 }

func (e *versionError) Error() string {
	return fmt.Sprintf("unknown segment format version %d (this build reads version %d)", e.version, formatVersion)
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
		return 0, &versionError{version: v}
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
	return frameHeaderSize + 8 +
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

// appendFrame appends rec's frame with its time and checksum left zero;
// sealFrames fills them in.
func appendFrame(b []byte, rec *eventlog.Record) []byte {
	body := frameSize(rec) - frameHeaderSize
	b = binary.BigEndian.AppendUint32(b, uint32(body))
	b = binary.BigEndian.AppendUint32(b, 0) // checksum
	b = binary.BigEndian.AppendUint64(b, 0) // time
	b = binary.AppendUvarint(b, uint64(len(rec.Key)))
	b = append(b, rec.Key...)
	b = binary.AppendUvarint(b, uint64(len(rec.ID)))
	b = append(b, rec.ID...)
	return append(b, rec.Value...)
}

// sealFrames sets the time of every frame in b, which holds whole frames
// made by appendFrame, and computes their checksums. It calls fn with the
// position of each frame in b.
func sealFrames(b []byte, ms int64, fn func(pos int)) {
	for pos := 0; pos < len(b); {
		n := int(binary.BigEndian.Uint32(b[pos:]))
		f := b[pos : pos+frameHeaderSize+n]
		binary.BigEndian.PutUint64(f[frameHeaderSize:], uint64(ms))
		binary.BigEndian.PutUint32(f[4:8], frameChecksum(f[0:4], f[frameHeaderSize:]))
		fn(pos)
		pos += len(f)
	}
}

func frameChecksum(length, body []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, castagnoli), castagnoli, body)
}

// frame is a decoded record body. Its slices point into the body.
type frame struct {
	ms         int64
	key, id, v []byte
}

func decodeBody(body []byte) (frame, error) {
	if len(body) < minBodySize {
		return frame{}, fmt.Errorf("body of %d bytes: %w", len(body), errCorrupt)
	}
	f := frame{ms: int64(binary.BigEndian.Uint64(body))}
	rest := body[8:]
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

// frameReader reads the frames of a segment, after its header.
type frameReader struct {
	br  *bufio.Reader
	hdr [frameHeaderSize + 8]byte
}

// next reads the next frame into *buf (grown as needed), verifies it and
// returns its body and its size on disk. At a clean end of the data it
// returns io.EOF; a partial frame is errTorn and a bad one errCorrupt.
func (r *frameReader) next(buf *[]byte) ([]byte, int, error) {
	n, err := r.length()
	if err != nil {
		return nil, 0, err
	}
	if cap(*buf) < n {
		*buf = make([]byte, n, max(n, 2*cap(*buf)))
	}
	body := (*buf)[:n]
	if _, err := io.ReadFull(r.br, body); err != nil {
		return nil, 0, eofIsTorn(err)
	}
	if frameChecksum(r.hdr[0:4], body) != binary.BigEndian.Uint32(r.hdr[4:8]) {
		return nil, 0, fmt.Errorf("checksum mismatch: %w", errCorrupt)
	}
	return body, frameHeaderSize + n, nil
}

// skip reads past the next frame without verifying it and returns its
// time and size.
func (r *frameReader) skip() (int64, int, error) {
	n, err := r.length()
	if err != nil {
		return 0, 0, err
	}
	if _, err := io.ReadFull(r.br, r.hdr[frameHeaderSize:]); err != nil {
		return 0, 0, eofIsTorn(err)
	}
	if _, err := r.br.Discard(n - 8); err != nil {
		return 0, 0, eofIsTorn(err)
	}
	return int64(binary.BigEndian.Uint64(r.hdr[frameHeaderSize:])), frameHeaderSize + n, nil
}

// length reads a frame header and returns the body length.
func (r *frameReader) length() (int, error) {
	if _, err := io.ReadFull(r.br, r.hdr[:frameHeaderSize]); err != nil {
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, eofIsTorn(err)
	}
	n := binary.BigEndian.Uint32(r.hdr[0:4])
	if n < minBodySize || n > maxBodySize {
		return 0, fmt.Errorf("frame length %d: %w", n, errCorrupt)
	}
	return int(n), nil
}

func eofIsTorn(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errTorn
	}
	return err
}

// scanFrames reads and verifies the frames of r, size bytes that start
// after a segment header at position start, calling fn with each good frame's
// position and contents. It stops at the end of the data or at the first
// torn or corrupt frame, and returns the position after the last good
// frame, how many good frames there were, and why it stopped (nil for a
// clean end).
func scanFrames(r io.Reader, size, start int64, fn func(pos int64, f frame)) (end, count int64, err error) {
	fr := frameReader{br: bufio.NewReaderSize(r, int(min(max(size, 4<<10), 1<<20)))}
	var buf []byte
	end = start
	for {
		body, size, err := fr.next(&buf)
		if err == io.EOF {
			return end, count, nil
		}
		if err != nil {
			return end, count, err
		}
		f, err := decodeBody(body)
		if err != nil {
			return end, count, err
		}
		fn(end, f)
		end += int64(size)
		count++
	}
}
