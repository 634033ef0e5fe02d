package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestFamily_Audit(t *testing.T) {
	rec := httptest.NewRecorder()
	Audit.Write(rec, NewError(http.StatusBadRequest, CodeInvalid, "invalid user: required"))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("status %d, want 400", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	want := `{"error":{"code":"invalid_request","message":"invalid user: required"}}` + "\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("body %q, want %q", got, want)
	}
}

func TestFamily_AuditHeaders(t *testing.T) {
	rec := httptest.NewRecorder()
	Audit.Write(rec, NewError(http.StatusServiceUnavailable, "log_full", "full").With("Retry-After", "30"))
	if got := rec.Header().Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After %q, want 30", got)
	}
	rec = httptest.NewRecorder()
	Audit.Write(rec, NewError(http.StatusUnauthorized, CodeUnauthenticated, "no"))
	if got := rec.Header().Get("WWW-Authenticate"); got != "" {
		t.Errorf("audit 401 got a challenge it was not given: %q", got)
	}
}

func TestFamily_Content(t *testing.T) {
	tests := []struct {
		status int
		header http.Header
		want   string
		// wantHeader is a header the answer must have.
		wantHeader, wantValue string
	}{
		{status: 400, want: `{"type":"BAD_ARGS","message":"m"}`},
		{status: 413, want: `{"type":"BAD_ARGS","message":"m"}`},
		{status: 401, want: `{"type":"UNAUTHORIZED","message":"m"}`, wantHeader: "WWW-Authenticate", wantValue: `Bearer realm="vigil"`},
		{status: 401, header: http.Header{"Www-Authenticate": {`Bearer realm="files", error="invalid_token"`}},
			want: `{"type":"UNAUTHORIZED","message":"m"}`, wantHeader: "WWW-Authenticate", wantValue: `Bearer realm="files", error="invalid_token"`},
		{status: 403, want: `{"type":"FORBIDDEN","message":"m"}`},
		{status: 404, want: `{"type":"NOT_FOUND","message":"m"}`},
		{status: 409, want: `{"type":"CONFLICT","message":"m"}`},
		{status: 412, want: `{"type":"CONFLICT","message":"m"}`},
		{status: 429, want: `{"type":"TOO_MANY_REQUESTS","message":"m"}`, wantHeader: "Retry-After", wantValue: "1"},
		{status: 429, header: http.Header{"Retry-After": {"17"}}, want: `{"type":"TOO_MANY_REQUESTS","message":"m"}`, wantHeader: "Retry-After", wantValue: "17"},
		{status: 500, want: `{"type":"INTERNAL_ERROR","message":"m"}`},
		{status: 503, want: `{"type":"INTERNAL_ERROR","message":"m"}`},
		{status: 501, want: `{"type":"NOT_IMPLEMENTED","message":"m"}`},
		{status: 507, want: `{"type":"INSUFFICIENT_STORAGE","message":"m"}`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		Content.Write(rec, &Error{Status: tt.status, Code: "ignored", Message: "m", Header: tt.header})
		if rec.Code != tt.status {
			t.Errorf("%d: status %d", tt.status, rec.Code)
		}
		if got := rec.Body.String(); got != tt.want+"\n" {
			t.Errorf("%d: body %q, want %q", tt.status, got, tt.want)
		}
		if tt.wantHeader != "" && rec.Header().Get(tt.wantHeader) != tt.wantValue {
			t.Errorf("%d: %s %q, want %q", tt.status, tt.wantHeader, rec.Header().Get(tt.wantHeader), tt.wantValue)
		}
	}
}
