package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// AdminPath is where the server mounts AdminAPI, and where Client calls it.
const AdminPath = "/audit/v1/admin"

// maxAdminBody bounds an admin request's body.
const maxAdminBody = 64 << 10

// The admin API's request and response bodies.
type (
	addDeviceRequest struct {
		User string `json:"user"`
		Name string `json:"name"`
	}
	// AddedDevice answers POST /devices: the device and its token, shown
	// only this once.
	AddedDevice struct {
		Device
		Token string `json:"token"`
	}
	devicesResponse struct {
		Devices []Device `json:"devices"`
	}
	addTokenRequest struct {
		Role Role   `json:"role"`
		Name string `json:"name"`
	}
	// AddedToken answers POST /tokens: the token and its secret, shown
	// only this once.
	AddedToken struct {
		Token
		Secret string `json:"token"`
	}
	tokensResponse struct {
		Tokens []Token `json:"tokens"`
	}
)

// AdminAPI returns the admin HTTP API on s, to mount at AdminPath behind
// Middleware:
//
//	POST   /devices        {user, name} -> 201 {device_id, user, name, token, ...}
//	GET    /devices        -> 200 {"devices": [...]}
//	DELETE /devices/{id}   -> 204
//	POST   /tokens         {role, name} -> 201 {name, role, token, ...}
//	GET    /tokens         -> 200 {"tokens": [...]}
//	DELETE /tokens/{name}  -> 204
//
// It requires an API token with role admin itself (RequireRole), so that
// mounting it without the check cannot open it; the audit events of its
// actions record the caller ":token:NAME". Errors have WriteError's shape:
// 400 invalid_request naming the field, 404 not_found, 409 exists or
// revoked (revoking twice).
func AdminAPI(s *Store) http.Handler {
	r := chi.NewRouter()
	r.Use(RequireRole(RoleAdmin))
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusNotFound, CodeNotFound, "no such admin API route: "+r.URL.Path)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, http.StatusMethodNotAllowed, CodeMethod, r.Method+" is not allowed on "+r.URL.Path)
	})

	r.Post("/devices", handle(func(r *http.Request, caller string) (int, any, error) {
		var req addDeviceRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		d, token, err := s.AddDevice(r.Context(), caller, req.User, req.Name)
		return http.StatusCreated, AddedDevice{Device: d, Token: token}, err
	}))
	r.Get("/devices", handle(func(r *http.Request, _ string) (int, any, error) {
		ds, err := s.ListDevices(r.Context())
		return http.StatusOK, devicesResponse{Devices: ds}, err
	}))
	r.Delete("/devices/{id}", handle(func(r *http.Request, caller string) (int, any, error) {
		return http.StatusNoContent, nil, s.RevokeDevice(r.Context(), caller, chi.URLParam(r, "id"))
	}))
	r.Post("/tokens", handle(func(r *http.Request, caller string) (int, any, error) {
		var req addTokenRequest
		if err := decode(r, &req); err != nil {
			return 0, nil, err
		}
		t, secret, err := s.AddToken(r.Context(), caller, req.Role, req.Name)
		return http.StatusCreated, AddedToken{Token: t, Secret: secret}, err
	}))
	r.Get("/tokens", handle(func(r *http.Request, _ string) (int, any, error) {
		ts, err := s.ListTokens(r.Context())
		return http.StatusOK, tokensResponse{Tokens: ts}, err
	}))
	r.Delete("/tokens/{name}", handle(func(r *http.Request, caller string) (int, any, error) {
		return http.StatusNoContent, nil, s.RevokeToken(r.Context(), caller, chi.URLParam(r, "name"))
	}))
	return r
}

// handle adapts an admin endpoint, which returns its status and body or an
// error, to a handler; errors become the error shape, by kind.
func handle(f func(r *http.Request, caller string) (int, any, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := FromContext(r.Context()) // RequireRole checked it
		status, body, err := f(r, p.Caller())
		var fe *FieldError
		switch {
		case errors.As(err, &fe):
			WriteError(w, http.StatusBadRequest, CodeInvalid, fe.Error())
		case errors.Is(err, ErrNotFound):
			WriteError(w, http.StatusNotFound, CodeNotFound, err.Error())
		case errors.Is(err, ErrExists):
			WriteError(w, http.StatusConflict, CodeExists, err.Error())
		case errors.Is(err, ErrRevoked):
			WriteError(w, http.StatusConflict, CodeRevoked, err.Error())
		case err != nil:
			WriteError(w, http.StatusInternalServerError, CodeInternal, err.Error())
		case body == nil:
			w.WriteHeader(status)
		default:
			writeJSON(w, status, body)
		}
	}
}

// decode reads a request's JSON body into v, strictly: an unknown field,
// a value of the wrong type or trailing data is a *FieldError naming it.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return &FieldError{Field: "body", Reason: "data after the JSON object"}
		}
		return nil
	}
	var (
		te  *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &te) && te.Field != "":
		return &FieldError{Field: te.Field, Reason: "must be a " + te.Type.Kind().String()}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &FieldError{Field: name, Reason: "unknown field"}
	case errors.As(err, &big):
		return &FieldError{Field: "body", Reason: fmt.Sprintf("larger than %d bytes", big.Limit)}
	case errors.Is(err, io.EOF):
		return &FieldError{Field: "body", Reason: "a JSON object is required"}
	}
	return &FieldError{Field: "body", Reason: fmt.Sprintf("not a JSON object: %v", err)}
}
