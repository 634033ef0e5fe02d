package transfer

import (
	"fmt"
	"net/http"
)

// Error is a refusal to show the client: Status is the HTTP status
// (400, 404, 409, 412, 416 or 507), Message says why, Header holds
// headers the answer must carry. The caller writes it in its API's error
// form.
type Error struct {
	Status  int
	Message string
	Header  http.Header
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, http.StatusText(e.Status), e.Message)
}

// with adds a header to the error's answer.
func (e *Error) with(key, value string) *Error {
	if e.Header == nil {
		e.Header = http.Header{}
	}
	e.Header.Set(key, value)
	return e
}

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

func notFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

func overLimit(limit int64) *Error {
	return &Error{Status: http.StatusInsufficientStorage,
		Message: fmt.Sprintf("the content is larger than the %d bytes left in the quota", limit)}
}
