package ingest

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
)

// BodyError is a request body that cannot be split into events: not a
// JSON array or NDJSON, or over a limit. Code is the error code of the
// response; Status its HTTP status.
type BodyError struct {
	Status  int
	Code    string
	Message string
}

func (e *BodyError) Error() string { return e.Message }

// Limit error codes.
const (
	CodeBodyTooLarge  = "body_too_large"
	CodeTooManyEvents = "too_many_events"
	CodeMalformed     = "malformed_body"
	CodeBadEncoding   = "bad_encoding"
)

// Body error codes beyond the limits.
const (
	CodeOverloaded  = "overloaded"
	CodeBodyTimeout = "body_timeout"
)

// errOverloaded means the in-flight budget could not hold a body.
var errOverloaded = errors.New("in-flight body bytes over max_inflight_bytes")

// errBodyTimeout means a body did not arrive within its deadline.
var errBodyTimeout = errors.New("body deadline passed")

// budget bounds the body bytes that all requests hold at once. A nil
// budget bounds nothing.
type budget struct {
	mu        sync.Mutex
	max, used int64
}

func newBudget(max int64) *budget { return &budget{max: max} }

// take reserves n bytes, or reports that they would pass the bound.
func (b *budget) take(n int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.max {
		return false
	}
	b.used += n
	return true
}

func (b *budget) give(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.mu.Unlock()
}

func (b *budget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Chunk sizes a body is read in: they grow with the body, so that a
// small body allocates little and a large one few times, and the last
// one is cut to the limit, so that a body never holds more than it may.
const (
	minChunk = 32 << 10
	maxChunk = 4 << 20
)

// chunks is a body read in chunks, each taken from the budget before it
// is allocated.
type chunks struct {
	mem   *budget
	bufs  [][]byte
	n     int64 // bytes read
	taken int64 // bytes taken from mem
}

// readFrom reads r until EOF or limit bytes. hint, when positive, sizes
// the first chunk. It returns errOverloaded when the budget is used up,
// and r's error otherwise.
func (c *chunks) readFrom(r io.Reader, limit, hint int64) error {
	for c.n < limit {
		last := len(c.bufs) - 1
		if last < 0 || len(c.bufs[last]) == cap(c.bufs[last]) {
			size := max(min(c.n, maxChunk), minChunk)
			if last < 0 && hint > 0 {
				size = hint
			}
			size = min(size, limit-c.n)
			if !c.mem.take(size) {
				return errOverloaded
			}
			c.taken += size
			c.bufs = append(c.bufs, make([]byte, 0, size))
			last++
		}
		b := c.bufs[last]
		m, err := r.Read(b[len(b):cap(b)])
		c.bufs[last] = b[:len(b)+m]
		c.n += int64(m)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reader reads the chunks in order.
func (c *chunks) reader() io.Reader {
	rs := make([]io.Reader, len(c.bufs))
	for i, b := range c.bufs {
		rs[i] = bytes.NewReader(b)
	}
	return io.MultiReader(rs...)
}

// bytes returns the body in one slice, joining the chunks if there are
// several (the join is taken from the budget too).
func (c *chunks) bytes() ([]byte, error) {
	switch len(c.bufs) {
	case 0:
		return nil, nil
	case 1:
		return c.bufs[0], nil
	}
	if !c.mem.take(c.n) {
		return nil, errOverloaded
	}
	out := make([]byte, 0, c.n)
	for _, b := range c.bufs {
		out = append(out, b...)
	}
	c.mem.give(c.taken)
	c.bufs, c.taken = [][]byte{out}, c.n
	return out, nil
}

// head returns at most n bytes from the start, as chunks.
func (c *chunks) head(n int64) [][]byte {
	var out [][]byte
	for _, b := range c.bufs {
		if n <= 0 {
			break
		}
		b = b[:min(int64(len(b)), n)]
		out = append(out, b)
		n -= int64(len(b))
	}
	return out
}

// release gives the chunks' bytes back to the budget.
func (c *chunks) release() {
	c.mem.give(c.taken)
	c.bufs, c.taken = nil, 0
}

// received is a request body as read: the decoded bytes, or, when it was
// refused, what of it to keep in quarantine.
type received struct {
	data []byte
	// kept is what a refused body keeps: the decoded bytes when they
	// could be decoded, else the bytes as received (encoding says in
	// what), at most max_body_bytes; truncated says whether that cut it.
	kept      [][]byte
	encoding  string
	truncated bool
	bufs      []*chunks
}

// release gives the body's bytes back to the budget; data and kept must
// not be used after.
func (b *received) release() {
	for _, c := range b.bufs {
		c.release()
	}
	b.bufs, b.data, b.kept = nil, nil, nil
}

// readBody reads a request body, gunzipping it when gzipped is set, and
// refuses more than max bytes after decompression (so a small gzip bomb
// cannot grow past the limit).
func readBody(r io.Reader, gzipped bool, max int64) ([]byte, error) {
	enc := ""
	if gzipped {
		enc = "gzip"
	}
	b, err := receive(r, enc, -1, max, nil)
	return b.data, err
}

// receive reads a body of Content-Encoding enc ("" or "gzip"; any other
// is read as it is and refused) and length hint (negative if unknown),
// holding at most max bytes of it decoded (plus its compressed form),
// every chunk taken from mem. A refused body comes back with what to
// keep of it; the caller releases it in every case.
func receive(r io.Reader, enc string, hint, max int64, mem *budget) (*received, error) {
	b := &received{}
	wire := &chunks{mem: mem}
	b.bufs = append(b.bufs, wire)
	if hint > max {
		hint = max + 1
	}
	err := wire.readFrom(r, max+1, hint)
	var mbe *http.MaxBytesError
	if err != nil && !errors.As(err, &mbe) {
		b.kept, b.encoding = wire.head(max), enc
		return b, readError(err)
	}
	// A MaxBytesReader stops at the limit, before reading past it.
	oversize := wire.n > max || mbe != nil
	switch enc {
	case "", "identity":
		if oversize {
			b.kept, b.truncated = wire.head(max), true
			return b, bodyTooLarge(max)
		}
		b.data, err = wire.bytes()
		b.kept = [][]byte{b.data}
		return b, err
	case "gzip":
	default:
		b.kept, b.encoding, b.truncated = wire.head(max), enc, oversize
		return b, &BodyError{Status: http.StatusUnsupportedMediaType, Code: CodeBadEncoding,
			Message: "Content-Encoding " + enc + " is not supported; send gzip or none"}
	}
	if oversize {
		b.kept, b.encoding, b.truncated = wire.head(max), enc, true
		return b, bodyTooLarge(max)
	}
	// The gzip trailer's size of the decoded body (mod 2^32) sizes the
	// first chunk; a wrong one only costs more chunks.
	var size int64 = -1
	if last := wire.bufs[len(wire.bufs)-1]; wire.n >= 18 && len(last) >= 4 {
		size = int64(binary.LittleEndian.Uint32(last[len(last)-4:]))
	}
	if size > max {
		size = max + 1
	}
	dec := &chunks{mem: mem}
	b.bufs = append(b.bufs, dec)
	zr, err := gzip.NewReader(wire.reader())
	if err != nil {
		b.kept, b.encoding = wire.head(max), enc
		return b, &BodyError{Status: http.StatusBadRequest, Code: CodeBadEncoding, Message: "body is not valid gzip"}
	}
	err = dec.readFrom(zr, max+1, size)
	switch {
	case errors.Is(err, errOverloaded):
		return b, err
	case err != nil:
		b.kept, b.encoding = wire.head(max), enc
		msg := "body is not valid gzip"
		if errors.Is(err, io.ErrUnexpectedEOF) {
			msg = "gzip body is truncated"
		}
		return b, &BodyError{Status: http.StatusBadRequest, Code: CodeBadEncoding, Message: msg}
	case dec.n > max:
		b.kept, b.truncated = dec.head(max), true
		wire.release()
		return b, bodyTooLarge(max)
	}
	wire.release()
	b.data, err = dec.bytes()
	b.kept = [][]byte{b.data}
	return b, err
}

// readError maps an error reading the body from the client.
func readError(err error) error {
	switch {
	case errors.Is(err, errOverloaded):
		return err
	case errors.Is(err, errBodyTimeout), errors.Is(err, os.ErrDeadlineExceeded):
		return errBodyTimeout
	}
	return fmt.Errorf("read body: %w", err)
}

func bodyTooLarge(max int64) *BodyError {
	return &BodyError{Status: 413, Code: CodeBodyTooLarge,
		Message: fmt.Sprintf("request body over %d bytes (limit max_body_bytes)", max)}
}

// splitEvents splits a body into the raw bytes of its events: a JSON
// array of values, or newline-delimited JSON (blank lines skipped). It
// checks the structure only: each element is validated on its own later,
// so one bad event does not spoil the batch. More than maxEvents events
// is a BodyError.
func splitEvents(body []byte, maxEvents int) ([][]byte, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		return splitArray(trimmed, maxEvents)
	}
	return splitLines(body, maxEvents)
}

func tooManyEvents(max int) *BodyError {
	return &BodyError{Status: 413, Code: CodeTooManyEvents,
		Message: fmt.Sprintf("more than %d events in one request (limit max_events)", max)}
}

func malformed(msg string) *BodyError {
	return &BodyError{Status: 400, Code: CodeMalformed, Message: msg}
}

// splitLines splits NDJSON. Every non-blank line must at least start like
// a JSON object; anything else means the body is not NDJSON at all.
func splitLines(body []byte, maxEvents int) ([][]byte, error) {
	var out [][]byte
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		if line[0] != '{' {
			if len(out) == 0 {
				return nil, malformed("body is neither a JSON array nor newline-delimited JSON objects")
			}
			// A line that is not an object inside NDJSON is one bad
			// event, rejected on its own.
		}
		if len(out) == maxEvents {
			return nil, tooManyEvents(maxEvents)
		}
		out = append(out, line)
	}
	if len(out) == 0 {
		return nil, malformed("body holds no events")
	}
	return out, nil
}

// splitArray splits a JSON array into its elements by tracking strings
// and nesting; it does not validate the elements.
func splitArray(b []byte, maxEvents int) ([][]byte, error) {
	var out [][]byte
	depth := 0
	start := -1
	inString := false
	for i := 1; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				if c == '}' {
					return nil, malformed("unbalanced '}' in the JSON array")
				}
				if start >= 0 {
					if len(out) == maxEvents {
						return nil, tooManyEvents(maxEvents)
					}
					out = append(out, bytes.TrimRight(b[start:i], " \t\r\n"))
				} else if len(out) > 0 {
					return nil, malformed("trailing comma in the JSON array")
				}
				if rest := bytes.TrimSpace(b[i+1:]); len(rest) > 0 {
					return nil, malformed("data after the JSON array")
				}
				if len(out) == 0 {
					return nil, malformed("body holds no events")
				}
				return out, nil
			}
			depth--
		case ',':
			if depth == 0 {
				if start < 0 {
					return nil, malformed("empty element in the JSON array")
				}
				if len(out) == maxEvents {
					return nil, tooManyEvents(maxEvents)
				}
				out = append(out, bytes.TrimRight(b[start:i], " \t\r\n"))
				start = -1
				continue
			}
		}
		if start < 0 {
			start = i
		}
	}
	return nil, malformed("unterminated JSON array")
}

// splitLenient splits a body that splitEvents refused as a whole into
// the parts that may each be an event, for a replay: the elements of a
// JSON array as far as it goes (an unterminated last element and data
// after the array are parts too), or else every non-blank line. Each
// part is then judged on its own, so that the valid events of a body
// spoiled by one bad part are not lost with it.
func splitLenient(body []byte) [][]byte {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '[' {
		var out [][]byte
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				out = append(out, line)
			}
		}
		return out
	}
	var out [][]byte
	add := func(part []byte) {
		if part = bytes.TrimSpace(part); len(part) > 0 {
			out = append(out, part)
		}
	}
	b := trimmed
	depth, start, inString := 0, 1, false
	for i := 1; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			if depth > 0 {
				depth--
				continue
			}
			if c == ']' {
				add(b[start:i])
				add(b[i+1:])
				return out
			}
		case ',':
			if depth == 0 {
				add(b[start:i])
				start = i + 1
			}
		}
	}
	add(b[min(start, len(b)):])
	return out
}

// gunzipPrefix decodes as much of a gzip stream as it can, at most max
// bytes: the events of a truncated body are in its first part.
func gunzipPrefix(b []byte, max int64) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	var out bytes.Buffer
	_, _ = io.Copy(&out, io.LimitReader(zr, max))
	return out.Bytes()
}
