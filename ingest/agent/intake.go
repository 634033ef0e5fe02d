package agent

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// lineReader splits NDJSON input into lines. A line longer than max is
// skipped and reported as a *LineError; a last line without a newline
// counts.
type lineReader struct {
	r    *bufio.Reader
	max  int
	n    int    // number of the last line returned
	long []byte // a line longer than r's buffer
}

func newLineReader(r io.Reader, max int) *lineReader {
	return newLineReaderSize(r, max, 64<<10)
}

func newLineReaderSize(r io.Reader, max, bufSize int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, bufSize), max: max}
}

// LineError is an input line that could not be taken in.
type LineError struct {
	Line   int    // 1-based
	Reason string // lowercase, short
	Start  []byte // the line, or its start when it is too long
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// next returns the next line without its line ending (LF or CRLF). The
// line is valid until the next call. It returns io.EOF at the end of the
// input.
func (l *lineReader) next() ([]byte, error) {
	l.long = l.long[:0]
	size := 0 // bytes of the line so far, terminator included
	for {
		chunk, err := l.r.ReadSlice('\n')
		if err == io.EOF && len(chunk) == 0 && size == 0 {
			return nil, io.EOF
		}
		if err != nil && err != bufio.ErrBufferFull && err != io.EOF {
			return nil, err
		}
		line := chunk
		if size > 0 || err == bufio.ErrBufferFull {
			// A line longer than the buffer: keep what fits the limit,
			// CRLF included.
			keep := max(l.max+2-len(l.long), 0)
			l.long = append(l.long, chunk[:min(len(chunk), keep)]...)
			line = l.long
		}
		size += len(chunk)
		if err == bufio.ErrBufferFull {
			continue
		}
		l.n++
		if size <= l.max+2 {
			line = bytes.TrimSuffix(line, []byte("\n"))
			line = bytes.TrimSuffix(line, []byte("\r"))
			if len(line) <= l.max {
				return line, nil
			}
		}
		return nil, &LineError{Line: l.n, Reason: fmt.Sprintf("longer than %d bytes", l.max), Start: slices.Clone(line[:min(len(line), 256)])}
	}
}

// buffered reports whether the next call can return without reading the
// underlying reader.
func (l *lineReader) buffered() bool { return l.r.Buffered() > 0 }

// checker checks input lines before they go into the spool.
type checker struct {
	parser fastjson.Parser
	norm   *schema.Normalizer // nil: no early warnings
}

// Errors CheckEvent returns.
var (
	errNotJSON   = errors.New("not valid JSON")
	errNotObject = errors.New("not a JSON object")
	errHasSeq    = errors.New(`has a "seq" member; the agent assigns seq`)
)

// CheckEvent checks that line is one JSON object without a top-level
// "seq" member and returns it without surrounding white space (and
// without a UTF-8 byte order mark), ready for Spool.Add. A blank line returns nil and no error.
func CheckEvent(line []byte) ([]byte, error) {
	var c checker
	return c.event(line)
}

func (c *checker) event(line []byte) ([]byte, error) {
	line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))) // a byte order mark from Windows tools
	if len(line) == 0 {
		return nil, nil
	}
	if line[0] != '{' {
		if json.Valid(line) {
			return nil, errNotObject
		}
		return nil, errNotJSON
	}
	if !json.Valid(line) {
		return nil, errNotJSON
	}
	v, err := c.parser.ParseBytes(line)
	if err != nil {
		return nil, errNotJSON
	}
	o, err := v.Object()
	if err != nil {
		return nil, errNotObject
	}
	if o.Get("seq") != nil {
		return nil, errHasSeq
	}
	return line, nil
}

// warnMeta stands in for the credential the server will see, so that
// schema.Normalize can check the rest of an event.
var warnMeta = schema.Meta{Submitter: schema.Submitter{UserID: "agent@localhost", DeviceID: "00000000000000000000000000000000"}}

// warning returns why the server will likely quarantine event, or "".
func (c *checker) warning(event []byte) string {
	if c.norm == nil {
		return ""
	}
	if _, err := c.norm.Normalize(event, warnMeta); err != nil {
		return err.Error()
	}
	return ""
}

// taker takes one input's lines into the spool in groups, each synced
// before more input is read.
type taker struct {
	a      *Agent
	source string // for messages: "stdin" or a file name
	skip   uint64 // events already in the spool (a file taken in before a crash)

	group   [][]byte
	bytes   int
	rejects []Rejected
}

// line takes the input line number n.
func (t *taker) line(n int, line []byte) error {
	ev, err := t.a.check.event(line)
	if ev == nil && err == nil {
		return nil
	}
	if err != nil {
		return t.reject(n, line, err.Error())
	}
	return t.event(n, ev)
}

// event takes an event already checked; it copies ev.
func (t *taker) event(n int, ev []byte) error {
	if t.skip > 0 {
		t.skip--
		return nil
	}
	if len(ev)+len(`"seq":18446744073709551615,`)+1 > t.a.cfg.MaxBatchBytes {
		return t.reject(n, ev, fmt.Sprintf("larger than the batch limit of %d bytes", t.a.cfg.MaxBatchBytes))
	}
	if w := t.a.check.warning(ev); w != "" {
		t.a.log.Warn("event will be quarantined by the server", "source", t.source, "line", n, "error", w)
	}
	t.group = append(t.group, slices.Clone(ev))
	t.bytes += len(ev)
	if len(t.group) >= t.a.cfg.BatchSize || t.bytes >= t.a.cfg.MaxBatchBytes {
		return t.flush()
	}
	return nil
}

func (t *taker) reject(n int, raw []byte, reason string) error {
	if t.skip > 0 {
		return nil // set aside before the crash
	}
	t.a.log.Warn("input set aside", "source", t.source, "line", n, "error", reason)
	t.rejects = append(t.rejects, Rejected{Source: t.source, Line: n, Error: reason, Event: slices.Clone(raw)})
	return nil
}

// flush makes what was taken durable.
func (t *taker) flush() error {
	if err := t.a.spool.Reject(t.rejects...); err != nil {
		return err
	}
	t.a.stats.invalid.Add(int64(len(t.rejects)))
	t.rejects = t.rejects[:0]
	if len(t.group) == 0 {
		return nil
	}
	if _, _, err := t.a.spool.Add(t.group); err != nil {
		return err
	}
	t.a.stats.spooled.Add(int64(len(t.group)))
	t.group, t.bytes = t.group[:0], 0
	t.a.wake()
	return nil
}

// takeStream takes NDJSON from r until EOF. It syncs the spool before
// every read that may block, so that what it consumed is durable before
// it asks for more. When ctx is done it keeps what it read and returns.
func (a *Agent) takeStream(ctx context.Context, r io.Reader, name string) error {
	t := &taker{a: a, source: name}
	lr := newLineReader(r, a.cfg.MaxBatchBytes)
	for {
		line, err := lr.next()
		var lerr *LineError
		switch {
		case err == io.EOF:
			return t.flush()
		case errors.As(err, &lerr):
			err = t.reject(lerr.Line, lerr.Start, lerr.Reason)
		case err != nil:
			if ferr := t.flush(); ferr != nil {
				return ferr
			}
			if ctx.Err() != nil {
				return nil // the reader was closed to stop us
			}
			return fmt.Errorf("read %s: %w", name, err)
		default:
			err = t.line(lr.n, line)
		}
		if err != nil {
			return err
		}
		if !lr.buffered() {
			if err := t.flush(); err != nil {
				return err
			}
		}
	}
}

// isInput reports whether a watched directory's entry is an input file:
// *.ndjson or *.json, not hidden.
func isInput(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".ndjson") || strings.HasSuffix(name, ".json"))
}

// takeDir takes in the input files now in dir, in name order.
func (a *Agent) takeDir(ctx context.Context, dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list %s: %w", dir, err)
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return nil
		}
		if !e.Type().IsRegular() || !isInput(e.Name()) {
			continue
		}
		if err := a.takeFile(ctx, filepath.Join(dir, e.Name()), nil); err != nil {
			return err
		}
	}
	return nil
}

// resumeSource finishes taking in the file a crash interrupted, if any.
func (a *Agent) resumeSource(ctx context.Context) error {
	src, ok, err := a.spool.CurrentSource()
	if err != nil || !ok {
		return err
	}
	fi, err := os.Stat(src.Path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		// Taken in and removed; only the record of it was left.
		return a.spool.EndSource()
	case err != nil:
		return fmt.Errorf("resume %s: %w", src.Path, err)
	case fi.Size() != src.Size || !fi.ModTime().Equal(src.ModTime):
		a.log.Warn("input file changed since it was partly taken in; taking it in again from the start (the server may count its first events twice)",
			"file", src.Path, "taken", a.spool.Taken(src))
		if err := a.spool.EndSource(); err != nil {
			return err
		}
		return a.takeFile(ctx, src.Path, nil)
	}
	a.log.Info("resuming an input file", "file", src.Path, "taken", a.spool.Taken(src))
	return a.takeFile(ctx, src.Path, &src)
}

// takeFile takes in one input file and removes it once its events are
// durable in the spool. resume is the Source recorded before a crash.
// A .json file holds an array of events, one event, or NDJSON; a .ndjson
// file holds NDJSON. Only a .json file that starts with '[' but is not a
// JSON array is renamed to NAME.invalid, with nothing taken from it; the
// lines of any other file that are not JSON go to the spool's rejected
// file.
func (a *Agent) takeFile(ctx context.Context, path string, resume *Source) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil // removed by someone else meanwhile
	}
	if errors.Is(err, os.ErrPermission) && resume == nil {
		// Left where it is, and tried again at the next listing.
		if !a.unreadable[path] {
			a.log.Error("cannot read input file; skipping it", "file", path, "error", err)
			a.unreadable[path] = true
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("take %s: %w", path, err)
	}
	delete(a.unreadable, path)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("take %s: %w", path, err)
	}
	var src Source
	if resume != nil {
		src = *resume
	} else if src, err = a.spool.BeginSource(path, fi.Size(), fi.ModTime()); err != nil {
		return err
	}
	t := &taker{a: a, source: filepath.Base(path), skip: a.spool.Taken(src)}
	if a.hook("file.begun") {
		return errCrash
	}

	var invalid error
	if strings.HasSuffix(path, ".json") {
		invalid, err = a.takeJSON(ctx, f, t)
	} else {
		err = a.takeLines(ctx, f, t)
	}
	if err != nil || ctx.Err() != nil {
		return err // resumed at the next start
	}
	if err := t.flush(); err != nil {
		return err
	}
	if a.hook("file.spooled") {
		return errCrash
	}
	f.Close()
	if invalid != nil {
		a.log.Error("input file set aside", "file", path, "error", invalid, "renamed_to", filepath.Base(path)+".invalid")
		a.stats.invalid.Add(1)
		err = os.Rename(path, path+".invalid")
	} else {
		err = os.Remove(path)
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	if a.hook("file.removed") {
		return errCrash
	}
	return a.spool.EndSource()
}

// takeLines takes NDJSON from f.
func (a *Agent) takeLines(ctx context.Context, f io.Reader, t *taker) error {
	lr := newLineReader(f, a.cfg.MaxBatchBytes)
	for {
		line, err := lr.next()
		var lerr *LineError
		switch {
		case err == io.EOF:
			return nil
		case errors.As(err, &lerr):
			err = t.reject(lerr.Line, lerr.Start, lerr.Reason)
		case err != nil:
			return fmt.Errorf("read %s: %w", t.source, err)
		default:
			err = t.line(lr.n, line)
		}
		if err != nil {
			return err
		}
		if len(t.group) == 0 && ctx.Err() != nil {
			return nil
		}
	}
}

// takeJSON takes the events of a .json file. It returns invalid (and
// takes nothing) when the file starts with '[' but is not a JSON array;
// anything else that is not one object is read as NDJSON.
func (a *Agent) takeJSON(ctx context.Context, f io.Reader, t *taker) (invalid, err error) {
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", t.source, err)
	}
	trimmed := bytes.TrimSpace(data)
	switch {
	case len(trimmed) > 0 && trimmed[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(trimmed, &elems); err != nil {
			return errNotJSON, nil
		}
		var buf bytes.Buffer
		for i, e := range elems {
			buf.Reset()
			if err := json.Compact(&buf, e); err != nil {
				return nil, fmt.Errorf("compact %s element %d: %w", t.source, i, err)
			}
			if err := t.line(i+1, buf.Bytes()); err != nil {
				return nil, err
			}
			if len(t.group) == 0 && ctx.Err() != nil {
				return nil, nil
			}
		}
		return nil, nil
	case len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed):
		var buf bytes.Buffer
		if err := json.Compact(&buf, trimmed); err != nil {
			return nil, fmt.Errorf("compact %s: %w", t.source, err)
		}
		return nil, t.line(1, buf.Bytes())
	}
	return nil, a.takeLines(ctx, bytes.NewReader(data), t)
}

// errCrash ends Run where a test asked it to crash.
var errCrash = errors.New("simulated crash")

// pollDir takes in dir's input files every interval until ctx is done.
func (a *Agent) pollDir(ctx context.Context, dir string, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := a.takeDir(ctx, dir); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
