package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// WriteJSON writes v as JSON (one line) with status and Content-Type
// application/json.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client is gone if this fails
}

// DecodeJSON reads r's body, at most max bytes, into v, strictly: an
// unknown field, a value of the wrong type, trailing data, no body or a
// larger one is a 400 invalid_request naming the field ("invalid user:
// must be a string", "invalid body: ...").
func DecodeJSON(r *http.Request, v any, max int64) error {
	return decodeJSON(r, v, max, false)
}

// DecodeJSONLax is DecodeJSON for APIs whose clients send fields the
// server does not know (the content API's): unknown fields are ignored;
// everything else is as strict.
func DecodeJSONLax(r *http.Request, v any, max int64) error {
	return decodeJSON(r, v, max, true)
}

// JSONTyper is a type with its own JSON decoding that names what it
// takes, for the message of a value of the wrong type: its UnmarshalJSON
// returns a *json.UnmarshalTypeError, and the message says "invalid
// FIELD: must be " and JSONType() ("a date").
type JSONTyper interface {
	JSONType() string
}

func decodeJSON(r *http.Request, v any, max int64, unknownOK bool) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, max))
	if !unknownOK {
		dec.DisallowUnknownFields()
	}
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return invalid("body", "data after the JSON object")
		}
		return nil
	}
	var (
		te  *json.UnmarshalTypeError
		big *http.MaxBytesError
	)
	switch {
	case errors.As(err, &te) && te.Field != "":
		if n, ok := reflect.New(te.Type).Interface().(JSONTyper); ok {
			return invalid(te.Field, "must be "+n.JSONType())
		}
		return invalid(te.Field, "must be a "+te.Type.Kind().String())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(name, "unknown field")
	case errors.As(err, &big):
		return invalid("body", fmt.Sprintf("larger than %d bytes", big.Limit))
	case errors.Is(err, io.EOF):
		return invalid("body", "a JSON object is required")
	}
	return invalid("body", fmt.Sprintf("not a JSON object: %v", err))
}

func invalid(field, reason string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalid, Message: "invalid " + field + ": " + reason}
}
