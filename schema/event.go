package schema

import (
	"time"

	"github.com/valyala/fastjson"
)

// Submitter is the user and device whose credential submitted an event;
// the wire form calls it verified_submitter.
type Submitter struct {
	UserID   string `json:"user_id"`
	DeviceID string `json:"device_id"`
}

// IsZero reports whether s is unset.
func (s Submitter) IsZero() bool { return s.UserID == "" && s.DeviceID == "" }

// span locates one field's canonical value inside an event's wire bytes.
type span struct{ off, end int32 }

// extraSpan locates an extra field's name (unquoted, as escaped on the
// wire) and value.
type extraSpan struct{ name, value span }

// Event is a normalized, valid audit event. It is immutable: build one
// with Normalize.
type Event struct {
	spec       *EventSpec
	timestamp  time.Time
	id         string
	receivedAt time.Time
	submitter  Submitter
	extras     int
	extra      []extraSpan // where the extras' names and values are in wire
	wire       []byte
	fields     [maxFields]span
}

// Spec returns the event's catalog entry.
func (e *Event) Spec() *EventSpec { return e.spec }

// Topic returns the event's topic.
func (e *Event) Topic() Topic { return e.spec.Topic }

// Name returns the event's name, for example "file.transfer".
func (e *Event) Name() string { return e.spec.Name }

// Timestamp returns the time the event was published, in UTC with
// millisecond precision.
func (e *Event) Timestamp() time.Time { return e.timestamp }

// ID returns the event's stable identifier.
func (e *Event) ID() string { return e.id }

// ReceivedAt returns when ingest accepted the event, or the zero time.
func (e *Event) ReceivedAt() time.Time { return e.receivedAt }

// Submitter returns the verified submitter, zero when there is none.
func (e *Event) Submitter() Submitter { return e.submitter }

// Extras returns how many fields outside the catalog the event carries.
func (e *Event) Extras() int { return e.extras }

// Wire returns the event's canonical JSON. The bytes are shared: callers
// must not modify them.
func (e *Event) Wire() []byte { return e.wire }

// Value returns the canonical JSON of the named catalog field, or nil when
// the event does not carry it. Envelope fields are not values.
func (e *Event) Value(field string) []byte {
	i := e.spec.Field(field)
	if i < 0 {
		return nil
	}
	sp := e.fields[i]
	if sp.end == 0 {
		return nil
	}
	return e.wire[sp.off:sp.end]
}

// String returns the named field's value when it is a JSON string.
func (e *Event) String(field string) (string, bool) {
	raw := e.Value(field)
	if len(raw) < 2 || raw[0] != '"' {
		return "", false
	}
	var p fastjson.Parser
	v, err := p.ParseBytes(raw)
	if err != nil {
		return "", false
	}
	b, err := v.StringBytes()
	if err != nil {
		return "", false
	}
	return string(b), true
}

// Extra returns the compact JSON of a field outside the catalog, or nil.
func (e *Event) Extra(name string) []byte {
	for _, x := range e.extra {
		if string(e.wire[x.name.off:x.name.end]) == name {
			return e.wire[x.value.off:x.value.end]
		}
	}
	return nil
}
