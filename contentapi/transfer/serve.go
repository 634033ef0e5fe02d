package transfer

import (
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/contentapi/blob"
)

// bufSize is the one buffer each copy uses.
const bufSize = 64 << 10

var bufs = sync.Pool{New: func() any { b := make([]byte, bufSize); return &b }}

// Content is what Serve sends: the blob, its strong content ETag, its
// MIME type (application/octet-stream when empty) and its modification
// time (no Last-Modified when zero).
type Content struct {
	Blob     blob.Reader
	ETag     ETag
	MIMEType string
	Modified time.Time
}

// Served is what Serve did. Status is the status written (200, 206 or
// 304). Want is how many content bytes the answer promised and Bytes how
// many of them were written; Complete says all were, so the caller
// emits its "completed" event only then. Err is why a started body
// stopped (the client went away, the blob failed): the status line is
// out, so the caller can only log it.
type Served struct {
	Status      int
	Bytes, Want int64
	Complete    bool
	Err         error
}

// Serve answers a GET or HEAD of c. It evaluates If-None-Match (weak
// comparison; or If-Modified-Since without it) for a 304, then Range
// under If-Range for a 206 of one span or a multipart/byteranges of
// several, else the whole content with 200. It returns an *Error
// without writing anything for a malformed Range or an unsatisfiable
// one (416, with Content-Range: bytes */SIZE) and for a malformed
// If-None-Match (400).
func Serve(w http.ResponseWriter, r *http.Request, c Content) (Served, error) {
	size := c.Blob.Size()
	h := w.Header()
	h.Set("ETag", c.ETag.String())
	if !c.Modified.IsZero() {
		h.Set("Last-Modified", c.Modified.UTC().Format(http.TimeFormat))
	}
	h.Set("Accept-Ranges", "bytes")

	notModified, err := checkNotModified(r, c)
	if err != nil {
		return Served{}, err
	}
	if notModified {
		h.Del("Last-Modified")
		h.Del("Accept-Ranges")
		w.WriteHeader(http.StatusNotModified)
		return Served{Status: http.StatusNotModified, Complete: true}, nil
	}

	spans, err := requestedSpans(r, c)
	if err != nil {
		return Served{}, err
	}
	mimeType := c.MIMEType
	if mimeType == "" {
		mimeType = "application/octet-stream"
	}
	body := r.Method != http.MethodHead
	switch len(spans) {
	case 0:
		h.Set("Content-Type", mimeType)
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		s := Served{Status: http.StatusOK, Want: size}
		if body {
			s.Bytes, s.Err = copySpan(w, c.Blob, Span{Start: 0, Length: size})
		}
		s.Complete = s.Bytes == s.Want || !body
		return s, nil
	case 1:
		sp := spans[0]
		h.Set("Content-Type", mimeType)
		h.Set("Content-Range", contentRange(sp, size))
		h.Set("Content-Length", strconv.FormatInt(sp.Length, 10))
		w.WriteHeader(http.StatusPartialContent)
		s := Served{Status: http.StatusPartialContent, Want: sp.Length}
		if body {
			s.Bytes, s.Err = copySpan(w, c.Blob, sp)
		}
		s.Complete = s.Bytes == s.Want || !body
		return s, nil
	}
	return serveMultipart(w, c, spans, mimeType, body), nil
}

// checkNotModified says whether the conditions ask for a 304.
func checkNotModified(r *http.Request, c Content) (bool, error) {
	inm, err := headerETags(r.Header, "If-None-Match")
	if err != nil {
		return false, badRequest("%v", err)
	}
	if inm.Present() {
		return inm.Weak(c.ETag), nil
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" && !c.Modified.IsZero() {
		if t, err := http.ParseTime(ims); err == nil {
			return !c.Modified.Truncate(time.Second).After(t), nil
		}
	}
	return false, nil
}

// requestedSpans returns the spans to send, none meaning the whole
// content with 200.
func requestedSpans(r *http.Request, c Content) ([]Span, error) {
	rng := r.Header.Get("Range")
	if rng == "" {
		return nil, nil
	}
	if ir := r.Header.Get("If-Range"); ir != "" {
		cond, err := ParseIfRange(ir)
		if err != nil || !cond.Matches(c.ETag, c.Modified) {
			// A condition that fails, or cannot be read, asks for the
			// whole content.
			return nil, nil
		}
	}
	specs, err := ParseRange(rng)
	if errors.Is(err, ErrRangeUnit) || errors.Is(err, ErrTooManyRanges) {
		return nil, nil
	}
	if err != nil {
		return nil, badRequest("%v", err)
	}
	spans := Resolve(specs, c.Blob.Size())
	if len(spans) == 0 {
		return nil, (&Error{Status: http.StatusRequestedRangeNotSatisfiable,
			Message: fmt.Sprintf("the range starts past the end of the content (%d bytes)", c.Blob.Size())}).
			with("Content-Range", "bytes */"+strconv.FormatInt(c.Blob.Size(), 10))
	}
	return spans, nil
}

// serveMultipart writes a 206 multipart/byteranges of spans.
func serveMultipart(w http.ResponseWriter, c Content, spans []Span, mimeType string, body bool) Served {
	size := c.Blob.Size()
	mw := multipart.NewWriter(io.Discard)
	boundary := mw.Boundary()
	partHeader := func(sp Span) textproto.MIMEHeader {
		return textproto.MIMEHeader{
			"Content-Type":  {mimeType},
			"Content-Range": {contentRange(sp, size)},
		}
	}
	// The length: the framing written to a counter, plus the spans.
	var framing countWriter
	cw := multipart.NewWriter(&framing)
	_ = cw.SetBoundary(boundary)
	var want int64
	for _, sp := range spans {
		_, _ = cw.CreatePart(partHeader(sp))
		want += sp.Length
	}
	_ = cw.Close()

	h := w.Header()
	h.Set("Content-Type", "multipart/byteranges; boundary="+boundary)
	h.Set("Content-Length", strconv.FormatInt(framing.n+want, 10))
	w.WriteHeader(http.StatusPartialContent)
	s := Served{Status: http.StatusPartialContent, Want: want}
	if !body {
		s.Complete = true
		return s
	}
	out := multipart.NewWriter(w)
	_ = out.SetBoundary(boundary)
	for _, sp := range spans {
		pw, err := out.CreatePart(partHeader(sp))
		if err != nil {
			s.Err = fmt.Errorf("write part header: %w", err)
			return s
		}
		n, err := copySpan(pw, c.Blob, sp)
		s.Bytes += n
		if err != nil {
			s.Err = err
			return s
		}
	}
	if err := out.Close(); err != nil {
		s.Err = fmt.Errorf("write closing boundary: %w", err)
		return s
	}
	s.Complete = s.Bytes == s.Want
	return s
}

// copySpan copies sp of b to w through one pooled buffer and returns the
// bytes written.
func copySpan(w io.Writer, b io.ReaderAt, sp Span) (int64, error) {
	buf := bufs.Get().(*[]byte)
	defer bufs.Put(buf)
	cw := &countWriter{w: w}
	_, err := io.CopyBuffer(cw, io.NewSectionReader(b, sp.Start, sp.Length), *buf)
	if err == nil && cw.n < sp.Length {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return cw.n, fmt.Errorf("send bytes %d-%d: %w", sp.Start, sp.End(), err)
	}
	return cw.n, nil
}

// contentRange is a response's Content-Range for sp.
func contentRange(sp Span, size int64) string {
	return "bytes " + strconv.FormatInt(sp.Start, 10) + "-" + strconv.FormatInt(sp.End(), 10) + "/" + strconv.FormatInt(size, 10)
}

// countWriter counts what it writes, to w when w is set; it hides w's
// ReadFrom so that copies go through the caller's buffer.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	if c.w == nil {
		c.n += int64(len(p))
		return len(p), nil
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
