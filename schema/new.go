package schema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Fields are the values of an event's catalog fields, by field name, for
// New. A value's Go type must suit the field's catalog type:
//
//	string                  text, user ids, emails, org ids, hex ids, IPs,
//	                        link keys, enums, a caller (its email), a soid
//	                        (64 hex)
//	int, int64, ... uint64  integer, link_expiry
//	bool                    boolean
//	time.Time               timestamp
//	[]string                role, operations
//	json.RawMessage         one JSON value for a structured field (caller,
//	                        soid, path, shared_folder, role, operations)
//
// A nil value is no value. "event_id" may be given as a string; without it
// the id is derived from the content, as ingest derives it.
type Fields map[string]any

// New builds one of Vigil's own events from its catalog entry and typed
// field values, with the default limits. See Normalizer.New.
func New(event string, at time.Time, fields Fields) (*Event, error) {
	n := pool.Get().(*Normalizer)
	defer pool.Put(n)
	return n.New(event, at, fields)
}

// New builds the named event, published at at, from fields. The values go
// through the same normalization and validation as ingest's input, so the
// event's wire form is the bytes ingest makes of the equivalent JSON. An
// unknown event or field, a value of the wrong type and a missing required
// field are reported as a *ValidationError.
func (n *Normalizer) New(event string, at time.Time, fields Fields) (*Event, error) {
	return n.NewSubmitted(event, at, fields, Submitter{})
}

// NewSubmitted builds an event as New does, with sub as its
// verified_submitter: for events the server submits itself (the content
// API's FILE events, whose submitter is the server's own device). A zero
// sub is New.
func NewSubmitted(event string, at time.Time, fields Fields, sub Submitter) (*Event, error) {
	n := pool.Get().(*Normalizer)
	defer pool.Put(n)
	return n.NewSubmitted(event, at, fields, sub)
}

// NewSubmitted is the package's NewSubmitted, with n's limits.
func (n *Normalizer) NewSubmitted(event string, at time.Time, fields Fields, sub Submitter) (*Event, error) {
	spec, ok := byName[event]
	if !ok {
		return nil, invalid("event", CodeUnknown, "unknown event "+quote(event))
	}
	raw, verr := n.input(spec, at, fields)
	if verr != nil {
		verr.Event = spec.Name
		return nil, verr
	}
	return n.Normalize(raw, Meta{Submitter: sub})
}

// input writes the JSON input form of an event for New.
func (n *Normalizer) input(spec *EventSpec, at time.Time, fields Fields) ([]byte, *ValidationError) {
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	slices.Sort(names) // the first error is the same on every call

	raw := n.in[:0]
	raw = append(raw, `{"topic":"`...)
	raw = append(raw, spec.Topic...)
	raw = append(raw, `","event":"`...)
	raw = append(raw, spec.Name...)
	raw = append(raw, `","timestamp":"`...)
	raw = AppendTime(raw, at)
	raw = append(raw, '"')
	for _, name := range names {
		v := fields[name]
		if v == nil {
			continue
		}
		raw = append(raw, ',')
		raw = appendString(raw, name)
		raw = append(raw, ':')
		var verr *ValidationError
		switch i := spec.Field(name); {
		case name == "event_id":
			id, ok := v.(string)
			if !ok {
				return nil, invalid(name, CodeType, "must be a string")
			}
			raw = appendString(raw, id)
		case envelopeBit([]byte(name)) != 0 || i >= 0 && spec.Fields[i].Type == TypeSubmitter:
			return nil, invalid(name, CodeForbidden, "set by the event's envelope or by ingest, not a field value")
		case i < 0:
			return nil, invalid(name, CodeUnknown, "not a field of "+spec.Name)
		default:
			if raw, verr = appendGo(raw, spec.Fields[i].Type, v, name); verr != nil {
				return nil, verr
			}
		}
	}
	raw = append(raw, '}')
	n.in = raw
	return raw, nil
}

// appendGo appends the JSON input form of a Go value for a field of type
// t, or says why the value does not suit the type.
func appendGo(dst []byte, t Type, v any, path string) ([]byte, *ValidationError) {
	wrong := func() ([]byte, *ValidationError) {
		return dst, invalid(path, CodeType, fmt.Sprintf("a %s field does not take a Go %T", t, v))
	}
	switch x := v.(type) {
	case string:
		switch t {
		case TypeString, TypeUserID, TypeEmail, TypeOrgID, TypeSID, TypeOID, TypeDID, TypeIP, TypeLinkKey, TypeCaller, TypeSOID:
		default:
			if enumOf(t) == nil {
				return wrong()
			}
		}
		if !utf8.ValidString(x) {
			return dst, invalid(path, CodeUTF8, "invalid UTF-8")
		}
		return appendString(dst, x), nil
	case int, int8, int16, int32, int64:
		if t != TypeInteger && t != TypeLinkExpiry {
			return wrong()
		}
		return strconv.AppendInt(dst, toInt64(x), 10), nil
	case uint, uint8, uint16, uint32, uint64:
		if t != TypeInteger && t != TypeLinkExpiry {
			return wrong()
		}
		return strconv.AppendUint(dst, toUint64(x), 10), nil
	case bool:
		if t != TypeBoolean {
			return wrong()
		}
		return strconv.AppendBool(dst, x), nil
	case time.Time:
		if t != TypeTime {
			return wrong()
		}
		dst = append(dst, '"')
		dst = AppendTime(dst, x)
		return append(dst, '"'), nil
	case []string:
		if t != TypeRole && t != TypeOperations {
			return wrong()
		}
		dst = append(dst, '[')
		for i, s := range x {
			if !utf8.ValidString(s) {
				return dst, invalid(path+"["+itoa(i)+"]", CodeUTF8, "invalid UTF-8")
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, s)
		}
		return append(dst, ']'), nil
	case json.RawMessage:
		switch t {
		case TypeCaller, TypeSOID, TypePath, TypeSharedFolder, TypeRole, TypeOperations:
		default:
			return wrong()
		}
		if !json.Valid(x) {
			return dst, invalid(path, CodeSyntax, "not one JSON value")
		}
		return append(dst, x...), nil
	}
	return wrong()
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	}
	return v.(int64)
}

func toUint64(v any) uint64 {
	switch x := v.(type) {
	case uint:
		return uint64(x)
	case uint8:
		return uint64(x)
	case uint16:
		return uint64(x)
	case uint32:
		return uint64(x)
	}
	return v.(uint64)
}
