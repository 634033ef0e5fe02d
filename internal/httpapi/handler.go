package httpapi

import (
	"net/http"
)

// HandlerFunc answers a request with data or an error. Data is written as
// JSON with status 200, unless it is a Response; nil data is 204 No
// Content. Errors go through the Mapper.
type HandlerFunc func(r *http.Request) (any, error)

// Response is an answer other than 200 with a JSON body: its status,
// extra headers and body (nil for none).
type Response struct {
	Status int
	Header http.Header
	Body   any
}

// Created answers 201 with v.
func Created(v any) Response { return Response{Status: http.StatusCreated, Body: v} }

// Accepted answers 202 with v.
func Accepted(v any) Response { return Response{Status: http.StatusAccepted, Body: v} }

// NoContent answers 204.
func NoContent() Response { return Response{Status: http.StatusNoContent} }

// WriteFunc is an answer that writes itself, for bodies that stream
// (file contents): a handler returns one after its checks, and Handle
// calls it with the response writer. An error it returns before writing
// anything is answered through the Mapper; one after the first byte can
// only end the answer, and is logged unless the client went away.
type WriteFunc func(w http.ResponseWriter) error

// Handle adapts f to an http.Handler answering errors with m.
func (m Mapper) Handle(f HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := f(r)
		if err != nil {
			m.WriteError(w, r, err)
			return
		}
		if wf, ok := v.(WriteFunc); ok {
			m.write(w, r, wf)
			return
		}
		res, ok := v.(Response)
		if !ok {
			if v == nil {
				res = NoContent()
			} else {
				res = Response{Status: http.StatusOK, Body: v}
			}
		}
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		if res.Body == nil {
			w.WriteHeader(res.Status)
			return
		}
		WriteJSON(w, res.Status, res.Body)
	})
}

// StreamFunc writes its own answer (NDJSON, CSV, Server-Sent Events). An
// error it returns before writing anything is answered through the
// Mapper; one after the first byte can only end the answer, and is
// logged.
type StreamFunc func(w http.ResponseWriter, r *http.Request) error

// Stream adapts f to an http.Handler answering its early errors with m.
func (m Mapper) Stream(f StreamFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.write(w, r, func(w http.ResponseWriter) error { return f(w, r) })
	})
}

// write runs an answer that writes itself: its early error goes through
// the Mapper, a late one to the log.
func (m Mapper) write(w http.ResponseWriter, r *http.Request, f WriteFunc) {
	sw := &startWriter{ResponseWriter: w}
	err := f(sw)
	switch {
	case err == nil:
	case !sw.started:
		m.WriteError(w, r, err)
	case r.Context().Err() == nil:
		m.logger().Warn("answer ended early", "method", r.Method, "path", r.URL.Path, "err", err)
	}
}

// startWriter notes whether the answer has started.
type startWriter struct {
	http.ResponseWriter
	started bool
}

func (w *startWriter) WriteHeader(status int) {
	w.started = true
	w.ResponseWriter.WriteHeader(status)
}

func (w *startWriter) Write(b []byte) (int, error) {
	w.started = true
	return w.ResponseWriter.Write(b)
}

// Flush sends what is buffered, for streams.
func (w *startWriter) Flush() {
	w.started = true
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (w *startWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NoStore marks every answer of next Cache-Control: no-store.
func NoStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}
