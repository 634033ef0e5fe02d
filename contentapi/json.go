package contentapi

import (
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// TimeLayout is how the content API writes dates: UTC, to the second.
const TimeLayout = "2006-01-02T15:04:05Z"

// Time is a date in a body: written as TimeLayout; read from that, from
// RFC 3339 with an offset or fractions, from the reference's
// "2013-03-17T01:23Z" (no seconds), or from epoch milliseconds (a number
// or a string of digits). Its zero value is no date: tag fields
// `json:",omitzero"` so that it is left out.
type Time struct {
	time.Time
}

// MarshalJSON writes t as TimeLayout, in UTC.
func (t Time) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.UTC().Format(TimeLayout) + `"`), nil
}

// UnmarshalJSON reads any form ParseTime does; null leaves t as it is.
func (t *Time) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" {
		return nil
	}
	if u, err := strconv.Unquote(s); err == nil {
		s = u
	} else if len(s) > 0 && s[0] == '"' {
		return &json.UnmarshalTypeError{Value: "string", Type: reflect.TypeFor[Time]()}
	}
	v, err := ParseTime(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Time]()}
	}
	t.Time = v
	return nil
}

// JSONType names what Time takes, for the message of a wrong value.
func (*Time) JSONType() string { return "a date (yyyy-MM-ddTHH:mm:ssZ or epoch milliseconds)" }

// ParseTime reads a date in any form Time takes, as UTC.
func ParseTime(s string) (time.Time, error) {
	if s != "" && len(s) <= 16 && strings.Trim(s, "0123456789") == "" {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a date: want yyyy-MM-ddTHH:mm:ssZ or epoch milliseconds")
}

// ParseEmail reads a user id from a path segment, escaped or not (and,
// for clients that escape twice, escaped twice), lower-cased. It must
// look like an address: an @ with something on each side, no spaces,
// no control characters, none of <>,;"\.
func ParseEmail(segment string) (string, error) {
	s := segment
	if u, err := url.PathUnescape(s); err == nil {
		s = u
		if !strings.Contains(s, "@") {
			if u, err := url.PathUnescape(s); err == nil {
				s = u
			}
		}
	}
	return bodyEmail(s)
}

// bodyEmail reads a user id from a body: an address as ParseEmail
// takes it, not escaped, lower-cased.
func bodyEmail(s string) (string, error) {
	at := strings.LastIndexByte(s, '@')
	if len(s) > 254 || at <= 0 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>,;\"\\") || hasControl(s) {
		return "", errors.New("not an email address")
	}
	return strings.ToLower(s), nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\uFFFD' {
			return true
		}
	}
	return false
}
