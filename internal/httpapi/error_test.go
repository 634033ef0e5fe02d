package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var (
	errMissing = errors.New("no such thing")
	errFull    = errors.New("full")
)

// bodyError stands for a package's error type that knows its answer.
type bodyError struct{ msg string }

func (e *bodyError) Error() string { return e.msg }

func (e *bodyError) HTTPError() *Error {
	return NewError(http.StatusRequestEntityTooLarge, "body_too_large", e.msg)
}

func TestMapper_Map(t *testing.T) {
	m := Mapper{Matches: []Match{
		{Err: errMissing, Status: http.StatusNotFound, Code: CodeNotFound},
		{Err: errFull, Status: http.StatusServiceUnavailable, Code: "log_full", Message: "retry later", Header: http.Header{"Retry-After": {"30"}}},
	}}
	secret := errors.New("open /var/lib/x.db: permission denied")
	tests := []struct {
		name string
		err  error
		want *Error
	}{
		{name: "Error", err: NewError(http.StatusTeapot, "tea", "short and stout"),
			want: NewError(http.StatusTeapot, "tea", "short and stout")},
		{name: "WrappedError", err: fmt.Errorf("brew: %w", NewError(http.StatusTeapot, "tea", "short and stout")),
			want: NewError(http.StatusTeapot, "tea", "short and stout")},
		{name: "HTTPError", err: fmt.Errorf("read: %w", &bodyError{"larger than 10 bytes"}),
			want: NewError(http.StatusRequestEntityTooLarge, "body_too_large", "larger than 10 bytes")},
		{name: "ParamError", err: &ParamError{Param: "limit", Reason: "must be 1 to 10"},
			want: NewError(http.StatusBadRequest, CodeInvalid, "limit: must be 1 to 10")},
		{name: "MatchKeepsTheMessage", err: fmt.Errorf("sink %q: %w", "siem", errMissing),
			want: NewError(http.StatusNotFound, CodeNotFound, `sink "siem": no such thing`)},
		{name: "MatchWithItsOwnMessage", err: fmt.Errorf("append: %w", errFull),
			want: &Error{Status: http.StatusServiceUnavailable, Code: "log_full", Message: "retry later", Header: http.Header{"Retry-After": {"30"}}}},
		{name: "UnknownIsGeneric", err: secret, want: NewError(http.StatusInternalServerError, CodeInternal, "internal error")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := m.Map(tt.err)
			if diff := cmp.Diff(tt.want, got, cmpopts.IgnoreFields(Error{}, "Err")); diff != "" {
				t.Errorf("Map (-want +got):\n%s", diff)
			}
			if !errors.Is(got, tt.err) && !errors.Is(tt.err, got) {
				t.Errorf("the answer %v lost its cause %v", got, tt.err)
			}
		})
	}
}

func TestMapper_WriteError_LogsServerErrors(t *testing.T) {
	var logs bytes.Buffer
	m := Mapper{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	rec := httptest.NewRecorder()
	m.WriteError(rec, httptest.NewRequest("GET", "/x", nil), errors.New("disk on fire"))
	if strings.Contains(rec.Body.String(), "disk") {
		t.Errorf("the answer leaks the cause: %s", rec.Body)
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the cause was not logged: %q", logs.String())
	}
	logs.Reset()
	m.WriteError(httptest.NewRecorder(), httptest.NewRequest("GET", "/x", nil), NewError(400, CodeInvalid, "bad"))
	if logs.Len() != 0 {
		t.Errorf("a client error was logged: %q", logs.String())
	}
}

func TestError_Is(t *testing.T) {
	err := fmt.Errorf("call: %w", &Error{Status: 404, Code: CodeNotFound, Err: errMissing})
	for _, target := range []error{&Error{Status: 404}, &Error{Status: 404, Code: CodeNotFound}, errMissing} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = false", err, target)
		}
	}
	for _, target := range []error{&Error{Status: 400}, &Error{Status: 404, Code: CodeExists}, errFull} {
		if errors.Is(err, target) {
			t.Errorf("errors.Is(%v, %v) = true", err, target)
		}
	}
	if got, want := NewError(409, CodeExists, "ops already exists").Error(), "ops already exists (HTTP 409 exists)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestError_With(t *testing.T) {
	base := NewError(429, "rate_limited", "slow down")
	a := base.With("Retry-After", "3")
	if base.Header != nil {
		t.Errorf("With changed its receiver: %v", base.Header)
	}
	if a.Header.Get("Retry-After") != "3" {
		t.Errorf("With: %v", a.Header)
	}
}
