package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"
)

// The codes of the audit APIs' error body.
const (
	CodeUnauthenticated = "unauthenticated"     // 401: a route reached without the credential check
	CodeCredentialReq   = "credential_required" // 401: no credential was sent
	CodeUnknownToken    = "unknown_token"       // 401: a token that is not known
	CodeRevoked         = "revoked"             // 403: a revoked credential; 409: revoking it again
	CodeForbidden       = "forbidden"           // 403: a credential without the role
	CodeInvalid         = "invalid_request"     // 400: the message names the field
	CodeUnknownParam    = "unknown_parameter"   // 400: a query parameter the route does not take
	CodeNotFound        = "not_found"           // 404
	CodeExists          = "exists"              // 409
	CodeMethod          = "method_not_allowed"
	CodeInternal        = "internal" // 500
)

// Error is an error answer: its status, a code for programs, a message for
// people and extra headers (Retry-After, WWW-Authenticate). Err is the
// cause, for logs and errors.Is; it is never sent.
type Error struct {
	Status  int
	Code    string
	Message string
	Header  http.Header
	Err     error
}

// NewError returns an *Error without extra headers or cause.
func NewError(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

func (e *Error) Error() string {
	return e.Message + " (HTTP " + strconv.Itoa(e.Status) + " " + e.Code + ")"
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is matches e to a target *Error with the same status and, when the
// target has one, the same code: errors.Is(err, &Error{Status: 404}).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Status == e.Status && (t.Code == "" || t.Code == e.Code)
}

// With returns a copy of e with the header key set to value.
func (e *Error) With(key, value string) *Error {
	c := *e
	c.Header = e.Header.Clone()
	if c.Header == nil {
		c.Header = http.Header{}
	}
	c.Header.Set(key, value)
	return &c
}

// HTTPError is implemented by error types that know their answer, such
// as a request body that cannot be read.
type HTTPError interface {
	HTTPError() *Error
}

// ParamError is a query parameter that cannot be read: 400
// invalid_request, naming the parameter.
type ParamError struct {
	Param, Reason string
}

func (e *ParamError) Error() string { return e.Param + ": " + e.Reason }

// HTTPError answers 400 invalid_request.
func (e *ParamError) HTTPError() *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: e.Error()}
}

// Match maps the errors that errors.Is Err to an answer. An empty
// Message means the error's own text.
type Match struct {
	Err     error
	Status  int
	Code    string
	Message string
	Header  http.Header
}

// Mapper is the one mapping from errors to answers, for one API: an
// *Error is sent as it is; an error implementing HTTPError as it says;
// one matching Matches (in order) as the match says; anything else is a
// 500 with a generic message, logged with its cause. Server errors (5xx)
// with a cause are logged too. The zero Mapper answers in the audit
// family and logs to slog.Default.
type Mapper struct {
	Family  Family
	Matches []Match
	Logger  *slog.Logger
}

// Map returns the answer for err.
func (m Mapper) Map(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var he HTTPError
	if errors.As(err, &he) {
		e := he.HTTPError()
		if e.Err == nil {
			c := *e
			c.Err = err
			e = &c
		}
		return e
	}
	for _, mt := range m.Matches {
		if errors.Is(err, mt.Err) {
			msg := mt.Message
			if msg == "" {
				msg = err.Error()
			}
			return &Error{Status: mt.Status, Code: mt.Code, Message: msg, Header: mt.Header, Err: err}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error", Err: err}
}

// WriteError answers r with err, mapped.
func (m Mapper) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := m.Map(err)
	if e.Status >= 500 && e.Err != nil {
		m.logger().Error("request failed", "method", r.Method, "path", r.URL.Path, "status", e.Status, "err", e.Err)
	}
	m.Family.Write(w, e)
}

func (m Mapper) logger() *slog.Logger {
	if m.Logger == nil {
		return slog.Default()
	}
	return m.Logger
}
