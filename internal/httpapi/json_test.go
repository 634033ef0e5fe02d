package httpapi

import (
	"encoding/json"
	"errors"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	type req struct {
		User string `json:"user"`
		N    int    `json:"n"`
	}
	tests := []struct {
		name, body string
		want       string // the message; "" for success
	}{
		{name: "OK", body: `{"user":"a","n":1}`},
		{name: "NoBody", body: ``, want: "invalid body: a JSON object is required"},
		{name: "NotJSON", body: `user=a`, want: "invalid body: not a JSON object: "},
		{name: "Trailing", body: `{"user":"a"} {}`, want: "invalid body: data after the JSON object"},
		{name: "WrongType", body: `{"user":1}`, want: "invalid user: must be a string"},
		{name: "Unknown", body: `{"owner":"b"}`, want: "invalid owner: unknown field"},
		{name: "TooLarge", body: `{"user":"` + strings.Repeat("x", 64) + `"}`, want: "invalid body: larger than 32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v req
			err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(tt.body)), &v, 32)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 || e.Code != CodeInvalid || !strings.HasPrefix(e.Message, tt.want) {
				t.Errorf("DecodeJSON = %#v, want a 400 invalid_request %q", err, tt.want)
			}
		})
	}
}

func TestDecodeJSONLax(t *testing.T) {
	type req struct {
		User string `json:"user"`
	}
	var v req
	if err := DecodeJSONLax(httptest.NewRequest("POST", "/", strings.NewReader(`{"owner":"b","user":"a"}`)), &v, 64); err != nil || v.User != "a" {
		t.Fatalf("DecodeJSONLax = %v, %+v; want the unknown field ignored", err, v)
	}
	err := DecodeJSONLax(httptest.NewRequest("POST", "/", strings.NewReader(`{"owner":"b","user":1}`)), &v, 64)
	var e *Error
	if !errors.As(err, &e) || e.Status != 400 || e.Message != "invalid user: must be a string" {
		t.Errorf("DecodeJSONLax with a wrong type = %v, want 400 invalid user: must be a string", err)
	}
}

// when is a type with its own decoding that names what it takes.
type when struct{}

func (*when) UnmarshalJSON(b []byte) error {
	return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[when]()}
}

func (*when) JSONType() string { return "a date" }

func TestDecodeJSON_JSONTyper(t *testing.T) {
	var v struct {
		At when `json:"at"`
	}
	err := DecodeJSON(httptest.NewRequest("POST", "/", strings.NewReader(`{"at":true}`)), &v, 64)
	var e *Error
	if !errors.As(err, &e) || e.Message != "invalid at: must be a date" {
		t.Errorf("DecodeJSON = %v, want invalid at: must be a date", err)
	}
}
