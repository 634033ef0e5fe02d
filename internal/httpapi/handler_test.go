package httpapi

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestHandle(t *testing.T) {
	type item struct {
		Name string `json:"name"`
	}
	tests := []struct {
		name   string
		f      HandlerFunc
		status int
		body   string
		header string // a header the answer must have, "Key: value"
	}{
		{name: "Data", f: func(*http.Request) (any, error) { return item{"a"}, nil }, status: 200, body: `{"name":"a"}` + "\n"},
		{name: "Created", f: func(*http.Request) (any, error) { return Created(item{"b"}), nil }, status: 201, body: `{"name":"b"}` + "\n"},
		{name: "Accepted", f: func(*http.Request) (any, error) { return Accepted(item{"c"}), nil }, status: 202, body: `{"name":"c"}` + "\n"},
		{name: "Nil", f: func(*http.Request) (any, error) { return nil, nil }, status: 204},
		{name: "NoContent", f: func(*http.Request) (any, error) { return NoContent(), nil }, status: 204},
		{name: "Headers", f: func(*http.Request) (any, error) {
			return Response{Status: 200, Header: http.Header{"Etag": {`"v1"`}}, Body: item{"d"}}, nil
		}, status: 200, body: `{"name":"d"}` + "\n", header: `Etag: "v1"`},
		{name: "Error", f: func(*http.Request) (any, error) {
			return item{"ignored"}, fmt.Errorf("find: %w", NewError(404, CodeNotFound, "no such item"))
		}, status: 404, body: `{"error":{"code":"not_found","message":"no such item"}}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Mapper{}.Handle(tt.f).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.body)
			}
			if tt.body != "" && rec.Header().Get("Content-Type") != "application/json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
			if tt.header != "" {
				if got := "Etag: " + rec.Header().Get("Etag"); got != tt.header {
					t.Errorf("header %q, want %q", got, tt.header)
				}
			}
		})
	}
}

func TestStream(t *testing.T) {
	early := Mapper{}.Stream(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "application/x-ndjson")
		return NewError(400, CodeInvalid, "cursor: not a cursor of this query")
	})
	rec := httptest.NewRecorder()
	early.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 400 || rec.Header().Get("Content-Type") != "application/json" ||
		rec.Body.String() != `{"error":{"code":"invalid_request","message":"cursor: not a cursor of this query"}}`+"\n" {
		t.Errorf("early error: %d %s %q", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
	}

	late := Mapper{Logger: slog.New(slog.DiscardHandler)}.Stream(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = w.Write([]byte("data: 1\n\n"))
		w.(http.Flusher).Flush()
		return errors.New("store went away")
	})
	rec = httptest.NewRecorder()
	late.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != 200 || rec.Body.String() != "data: 1\n\n" || !rec.Flushed {
		t.Errorf("late error: %d %q flushed=%v", rec.Code, rec.Body, rec.Flushed)
	}
}

func TestNoStore(t *testing.T) {
	rec := httptest.NewRecorder()
	NoStore(Mapper{}.Handle(func(*http.Request) (any, error) { return map[string]int{"n": 1}, nil })).
		ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", rec.Header().Get("Cache-Control"))
	}
}

func TestHandle_WriteFunc(t *testing.T) {
	tests := []struct {
		name   string
		f      WriteFunc
		status int
		body   string
	}{
		{name: "Writes", f: func(w http.ResponseWriter) error {
			w.WriteHeader(http.StatusPartialContent)
			_, err := w.Write([]byte("abc"))
			return err
		}, status: 206, body: "abc"},
		{name: "EarlyError", f: func(w http.ResponseWriter) error {
			return NewError(416, "range", "no such range")
		}, status: 416, body: `{"error":{"code":"range","message":"no such range"}}` + "\n"},
		{name: "LateError", f: func(w http.ResponseWriter) error {
			_, _ = w.Write([]byte("ab"))
			return errors.New("the blob failed")
		}, status: 200, body: "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Mapper{Logger: slog.New(slog.DiscardHandler)}.Handle(func(*http.Request) (any, error) { return tt.f, nil }).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
			if rec.Code != tt.status || rec.Body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", rec.Code, rec.Body, tt.status, tt.body)
			}
		})
	}
}
