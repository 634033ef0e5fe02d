package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// authnFunc adapts a function to Authenticator.
type authnFunc func(ctx context.Context, token string) (Principal, error)

func (f authnFunc) Authenticate(ctx context.Context, token string) (Principal, error) {
	return f(ctx, token)
}

// errorDetail is the inside of the audit APIs' error body.
type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// decodeError reads the error shape from a recorded answer.
func decodeError(t *testing.T, body []byte) errorDetail {
	t.Helper()
	var e struct {
		Error errorDetail `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("answer %q is not the error shape: %v", body, err)
	}
	return e.Error
}

func TestMiddleware(t *testing.T) {
	device := Principal{Kind: KindDevice, UserID: "alice@example.com", DeviceID: "0123456789abcdef0123456789abcdef", Name: "laptop"}
	authn := authnFunc(func(_ context.Context, token string) (Principal, error) {
		switch token {
		case "good":
			return device, nil
		case "revoked":
			return Principal{}, ErrRevoked
		case "broken":
			return Principal{}, errors.New("database is locked")
		}
		return Principal{}, ErrUnauthenticated
	})

	tests := []struct {
		name      string
		header    string // Authorization; "" for none
		status    int
		code      string
		challenge string
	}{
		{name: "Valid", header: "Bearer good", status: http.StatusOK},
		{name: "SchemeAnyCase", header: "bearer  good ", status: http.StatusOK},
		{name: "NoHeader", status: http.StatusUnauthorized, code: CodeCredentialReq, challenge: `Bearer realm="vigil"`},
		{name: "NotBearer", header: "Basic Z29vZDo=", status: http.StatusUnauthorized, code: CodeCredentialReq, challenge: `Bearer realm="vigil"`},
		{name: "EmptyToken", header: "Bearer ", status: http.StatusUnauthorized, code: CodeCredentialReq, challenge: `Bearer realm="vigil"`},
		{name: "Unknown", header: "Bearer nope", status: http.StatusUnauthorized, code: CodeUnknownToken, challenge: `Bearer realm="vigil", error="invalid_token"`},
		{name: "Revoked", header: "Bearer revoked", status: http.StatusForbidden, code: CodeRevoked},
		{name: "StoreError", header: "Bearer broken", status: http.StatusInternalServerError, code: CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Principal
			h := Middleware(authn)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				p, ok := FromContext(r.Context())
				if !ok {
					t.Error("no principal in the context")
				}
				got = &p
			}))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if c := rec.Header().Get("WWW-Authenticate"); c != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", c, tt.challenge)
			}
			if tt.status == http.StatusOK {
				if got == nil || *got != device {
					t.Errorf("principal %v, want %v", got, device)
				}
				return
			}
			if got != nil {
				t.Error("the handler ran")
			}
			if e := decodeError(t, rec.Body.Bytes()); e.Code != tt.code || e.Message == "" {
				t.Errorf("error %+v, want code %s and a message", e, tt.code)
			}
		})
	}
}

func TestRequireRole(t *testing.T) {
	tests := []struct {
		name   string
		p      *Principal // nil: no middleware ran
		roles  []Role
		status int
		code   string
	}{
		{name: "Admin", p: &Principal{Kind: KindToken, Role: RoleAdmin, Name: "ops"}, roles: []Role{RoleAdmin}, status: http.StatusOK},
		{name: "AuditorOfTwo", p: &Principal{Kind: KindToken, Role: RoleAuditor, Name: "g"}, roles: []Role{RoleAdmin, RoleAuditor}, status: http.StatusOK},
		{name: "OtherRole", p: &Principal{Kind: KindToken, Role: RoleAuditor, Name: "g"}, roles: []Role{RoleAdmin}, status: http.StatusForbidden, code: CodeForbidden},
		{name: "Device", p: &Principal{Kind: KindDevice, UserID: "a@example.com", DeviceID: "0123456789abcdef0123456789abcdef"}, roles: []Role{RoleAdmin, RoleAuditor}, status: http.StatusForbidden, code: CodeForbidden},
		{name: "NotAuthenticated", roles: []Role{RoleAdmin}, status: http.StatusUnauthorized, code: CodeUnauthenticated},
		{name: "UserAuditor", p: &Principal{Kind: KindUser, UserID: "carol@example.com", Name: "carol@example.com", Role: RoleAuditor}, roles: []Role{RoleAdmin, RoleAuditor}, status: http.StatusOK},
		{name: "UserAuditorOnAdminRoute", p: &Principal{Kind: KindUser, UserID: "carol@example.com", Name: "carol@example.com", Role: RoleAuditor}, roles: []Role{RoleAdmin}, status: http.StatusForbidden, code: CodeForbidden},
		{name: "UserWithoutRole", p: &Principal{Kind: KindUser, UserID: "dave@example.com", Name: "dave@example.com"}, roles: []Role{RoleAdmin, RoleAuditor}, status: http.StatusForbidden, code: CodeForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := false
			h := RequireRole(tt.roles...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true }))
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			if tt.p != nil {
				req = req.WithContext(NewContext(req.Context(), *tt.p))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			if ran != (tt.status == http.StatusOK) {
				t.Errorf("handler ran: %v", ran)
			}
			if tt.code != "" {
				if e := decodeError(t, rec.Body.Bytes()); e.Code != tt.code {
					t.Errorf("code %q, want %q", e.Code, tt.code)
				}
			}
		})
	}
}

func TestPrincipal_Caller(t *testing.T) {
	tests := []struct {
		p    Principal
		want string
	}{
		{p: Principal{Kind: KindToken, Role: RoleAdmin, Name: "ops"}, want: ":token:ops"},
		{p: Principal{Kind: KindDevice, UserID: "alice@example.com", DeviceID: "0123456789abcdef0123456789abcdef"}, want: "alice@example.com"},
		{p: Principal{Kind: KindUser, UserID: "carol@example.com", Name: "carol@example.com", Role: RoleAuditor}, want: "carol@example.com"},
	}
	var got []string
	var want []string
	for _, tt := range tests {
		got = append(got, tt.p.Caller())
		want = append(want, tt.want)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Caller (-want +got):\n%s", diff)
	}
}
