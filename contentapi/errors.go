package contentapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The content API's errors. Each is an *httpapi.Error that the Content
// family writes as {"type", "message"}, the type following from the
// status; handlers return them, or their own errors wrapping one.
// Messages are for people and read as the original service's did
// ("Token lacks required scope").

// BadArgs is 400 BAD_ARGS.
func BadArgs(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusBadRequest, httpapi.CodeInvalid, msg)
}

// Forbidden is 403 FORBIDDEN.
func Forbidden(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, msg)
}

// NotFound is 404 NOT_FOUND.
func NotFound(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusNotFound, httpapi.CodeNotFound, msg)
}

// Conflict is 409 CONFLICT.
func Conflict(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusConflict, httpapi.CodeExists, msg)
}

// PreconditionFailed is 412 CONFLICT: an If-Match that does not match.
func PreconditionFailed(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusPreconditionFailed, "precondition_failed", msg)
}

// TooManyRequests is 429 TOO_MANY_REQUESTS with Retry-After, in whole
// seconds rounded up (at least 1).
func TooManyRequests(msg string, retryAfter time.Duration) *httpapi.Error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	return httpapi.NewError(http.StatusTooManyRequests, "rate_limited", msg).With("Retry-After", strconv.Itoa(max(secs, 1)))
}

// Unavailable is 503 INTERNAL_ERROR with Retry-After, for a dependency
// that will be back.
func Unavailable(msg string, retryAfter time.Duration) *httpapi.Error {
	secs := int((retryAfter + time.Second - 1) / time.Second)
	return httpapi.NewError(http.StatusServiceUnavailable, "unavailable", msg).With("Retry-After", strconv.Itoa(max(secs, 1)))
}

// InsufficientStorage is 507 INSUFFICIENT_STORAGE: over quota.
func InsufficientStorage(msg string) *httpapi.Error {
	return httpapi.NewError(http.StatusInsufficientStorage, "over_quota", msg)
}
