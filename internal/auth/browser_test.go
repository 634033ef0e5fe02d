package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cookieSessions knows the sessions whose cookie "s" holds a key of the
// map; "broken" fails as a database would.
type cookieSessions map[string]SessionUser

func (cs cookieSessions) SessionUser(r *http.Request) (SessionUser, error) {
	c, err := r.Cookie("s")
	if err != nil {
		return SessionUser{}, ErrUnauthenticated
	}
	if c.Value == "broken" {
		return SessionUser{}, errors.New("database is locked")
	}
	su, ok := cs[c.Value]
	if !ok {
		return SessionUser{}, ErrUnauthenticated
	}
	return su, nil
}

// roleMap is a RoleFinder over a map; a user not in it is unknown.
type roleMap map[string]Role

func (m roleMap) ConsoleRole(_ context.Context, email string) (Role, error) {
	r, ok := m[email]
	if !ok {
		return "", ErrNotFound
	}
	return r, nil
}

func TestSessionMiddleware(t *testing.T) {
	sessions := cookieSessions{
		"carol": {Email: "carol@example.com", CSRF: "csrf-carol"},
		"dave":  {Email: "dave@example.com", CSRF: "csrf-dave"},
		"gone":  {Email: "gone@example.com", CSRF: "csrf-gone"},
	}
	roles := roleMap{"carol@example.com": RoleAuditor, "dave@example.com": ""}
	token := Principal{Kind: KindToken, Role: RoleAdmin, Name: "ops"}
	authn := authnFunc(func(_ context.Context, tok string) (Principal, error) {
		if tok == "good" {
			return token, nil
		}
		return Principal{}, ErrUnauthenticated
	})
	carol := Principal{Kind: KindUser, UserID: "carol@example.com", Name: "carol@example.com", Role: RoleAuditor}
	dave := Principal{Kind: KindUser, UserID: "dave@example.com", Name: "dave@example.com"}

	tests := []struct {
		name          string
		method        string
		cookie, csrf  string
		authorization string
		status        int
		code          string
		want          *Principal // what the handler saw
	}{
		{name: "SessionRead", method: http.MethodGet, cookie: "carol", status: http.StatusOK, want: &carol},
		{name: "SessionWithoutRoleStillAUser", method: http.MethodGet, cookie: "dave", status: http.StatusOK, want: &dave},
		{name: "SessionChangeWithCSRF", method: http.MethodPost, cookie: "carol", csrf: "csrf-carol", status: http.StatusOK, want: &carol},
		{name: "SessionChangeWithoutCSRF", method: http.MethodPost, cookie: "carol", status: http.StatusForbidden, code: CodeForbidden},
		{name: "SessionChangeWithAnotherSessionsCSRF", method: http.MethodPost, cookie: "carol", csrf: "csrf-dave", status: http.StatusForbidden, code: CodeForbidden},
		{name: "UnknownSession", method: http.MethodGet, cookie: "nobody", status: http.StatusUnauthorized, code: CodeCredentialReq},
		{name: "UserGone", method: http.MethodGet, cookie: "gone", status: http.StatusUnauthorized, code: CodeCredentialReq},
		{name: "SessionStoreError", method: http.MethodGet, cookie: "broken", status: http.StatusInternalServerError, code: CodeInternal},
		{name: "NoCredential", method: http.MethodGet, status: http.StatusUnauthorized, code: CodeCredentialReq},
		{name: "Token", method: http.MethodPost, authorization: "Bearer good", status: http.StatusOK, want: &token},
		// A token wins over a cookie, and needs no CSRF token.
		{name: "TokenBeforeCookie", method: http.MethodPost, cookie: "carol", authorization: "Bearer good", status: http.StatusOK, want: &token},
		{name: "BadTokenWithCookie", method: http.MethodGet, cookie: "carol", authorization: "Bearer bad", status: http.StatusUnauthorized, code: CodeUnknownToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Principal
			h := SessionMiddleware(authn, sessions, roles)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, _ := FromContext(r.Context())
				got = &p
			}))
			req := httptest.NewRequest(tt.method, "/audit/v1/alerts/x/ack", nil)
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: "s", Value: tt.cookie})
			}
			if tt.csrf != "" {
				req.Header.Set(CSRFHeader, tt.csrf)
			}
			if tt.authorization != "" {
				req.Header.Set("Authorization", tt.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("principal (-want +got):\n%s", diff)
			}
			if tt.code != "" {
				if e := decodeError(t, rec.Body.Bytes()); e.Code != tt.code {
					t.Errorf("code %q, want %q", e.Code, tt.code)
				}
			}
		})
	}
}
