package session

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"mime"
	"net/http"

	"github.com/vigilaudit/vigil/internal/httpapi"
)

// The CSRF token travels in this header, or in this form field of an
// application/x-www-form-urlencoded body.
const (
	CSRFHeader = "X-CSRF-Token"
	CSRFField  = "csrf_token"
	// maxFormBytes caps a form read for its token.
	maxFormBytes = 1 << 20
)

// csrfDomain separates the CSRF token's hash from the stored one.
const csrfDomain = "vigil session csrf v1\x00"

// CSRFToken is the CSRF token of the session whose id (the cookie's
// value) is id: 32 hex.
func CSRFToken(id string) string {
	sum := sha256.Sum256([]byte(csrfDomain + id))
	return hex.EncodeToString(sum[:16])
}

// CSRFToken is the CSRF token of r's session cookie, for a page's forms;
// false without a cookie.
func (m *Manager) CSRFToken(r *http.Request) (string, bool) {
	id, ok := m.cookieID(r)
	if !ok {
		return "", false
	}
	return CSRFToken(id), true
}

// errCSRF is the answer to a state-changing request by cookie without
// its session's CSRF token.
var errCSRF = httpapi.NewError(http.StatusForbidden, httpapi.CodeForbidden, "Missing or invalid CSRF token")

// CheckCSRF checks a request that carries a session cookie and a
// state-changing method (anything but GET, HEAD, OPTIONS and TRACE):
// its X-CSRF-Token header, or its csrf_token form field, must be the
// session's token (compared in constant time). Otherwise it is a 403
// FORBIDDEN in the content API's shape. A request without a session
// cookie passes: it does not authenticate by cookie.
func (m *Manager) CheckCSRF(r *http.Request) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return nil
	}
	id, ok := m.cookieID(r)
	if !ok {
		return nil
	}
	given := r.Header.Get(CSRFHeader)
	if given == "" && isForm(r) {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
		given = r.PostFormValue(CSRFField)
	}
	want := CSRFToken(id)
	if subtle.ConstantTimeCompare([]byte(given), []byte(want)) != 1 {
		return errCSRF
	}
	return nil
}

func isForm(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// RequireCSRF is CheckCSRF as middleware: a request it refuses is
// answered by mapper (the content API's), and next never sees it.
func (m *Manager) RequireCSRF(mapper httpapi.Mapper) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := m.CheckCSRF(r); err != nil {
				mapper.WriteError(w, r, err)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}
