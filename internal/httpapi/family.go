package httpapi

import (
	"net/http"
)

// Family is an API family's error body shape.
type Family int

const (
	// Audit is the audit APIs' shape (ingest, query, sinks, admin):
	// {"error": {"code": "...", "message": "..."}}, the code as the
	// handler set it.
	Audit Family = iota
	// Content is the content API's shape: {"type": "...", "message":
	// "..."}, the type following from the status (ContentType).
	Content
)

// Realm is the realm of the WWW-Authenticate challenge a Content 401
// carries when the handler set none.
const Realm = "vigil"

type auditBody struct {
	Error auditDetail `json:"error"`
}

type auditDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type contentBody struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ContentType is the content API's error type for a status: BAD_ARGS
// (400 and other 4xx), UNAUTHORIZED (401), FORBIDDEN (403), NOT_FOUND
// (404), CONFLICT (409, 412), TOO_MANY_REQUESTS (429), NOT_IMPLEMENTED
// (501), INSUFFICIENT_STORAGE (507), INTERNAL_ERROR (500, 503 and other
// 5xx).
func ContentType(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "UNAUTHORIZED"
	case http.StatusForbidden:
		return "FORBIDDEN"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusConflict, http.StatusPreconditionFailed:
		return "CONFLICT"
	case http.StatusTooManyRequests:
		return "TOO_MANY_REQUESTS"
	case http.StatusNotImplemented:
		return "NOT_IMPLEMENTED"
	case http.StatusInsufficientStorage:
		return "INSUFFICIENT_STORAGE"
	}
	if status >= 400 && status < 500 {
		return "BAD_ARGS"
	}
	return "INTERNAL_ERROR"
}

// Write writes e in f's shape, with e's headers, Content-Type
// application/json and Cache-Control no-store. A Content 401 without a
// challenge gets `Bearer realm="vigil"`, a Content 429 without
// Retry-After gets 1 (second).
func (f Family) Write(w http.ResponseWriter, e *Error) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h.Set("Cache-Control", "no-store")
	var body any
	switch f {
	case Content:
		if e.Status == http.StatusUnauthorized && h.Get("WWW-Authenticate") == "" {
			h.Set("WWW-Authenticate", `Bearer realm="`+Realm+`"`)
		}
		if e.Status == http.StatusTooManyRequests && h.Get("Retry-After") == "" {
			h.Set("Retry-After", "1")
		}
		body = contentBody{Type: ContentType(e.Status), Message: e.Message}
	default:
		body = auditBody{Error: auditDetail{Code: e.Code, Message: e.Message}}
	}
	WriteJSON(w, e.Status, body)
}
