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
// with Normalize or New.
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

// Extras returns how many fields outside the catalog the event carries
// (catalog fields written among them are not counted).
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
	if e.spec.Fields[i].extra {
		return e.Extra(field)
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

// Extra returns the compact JSON of a field outside the catalog (or of a
// catalog field written among them), or nil.
func (e *Event) Extra(name string) []byte {
	for _, x := range e.extra {
		if string(e.wire[x.name.off:x.name.end]) == name {
			return e.wire[x.value.off:x.value.end]
		}
	}
	return nil
}

// orderKeyFields are the fields that name the user an event is about,
// most telling first. The first one present gives the order key.
var orderKeyFields = []string{"user", "admin_user", "email", "inviter", "sharer", "target_user", "target", "org", "destination_user"}

// OrderKey returns the key that orders the event among others in the log:
// events with the same key keep their order. It is the submitting user
// when a device submitted the event, else the user the event is about,
// else its caller, else its device, else the event's name.
func (e *Event) OrderKey() string {
	if s := e.Submitter(); s.UserID != "" {
		return s.UserID
	}
	for _, f := range orderKeyFields {
		if v, ok := e.String(f); ok {
			return v
		}
	}
	if raw := e.Value("caller"); raw != nil {
		if email := fastjson.GetString(raw, "email"); email != "" {
			return email
		}
	}
	for _, f := range []string{"device", "device_id"} {
		if v, ok := e.String(f); ok {
			return v
		}
	}
	return e.Name()
}

// WithReceivedAt returns a copy of e whose received_at is at, in place of
// any it had: ingest stamps Vigil's own events with it when it accepts
// them. The copy's wire form is what Normalize makes of e's with at as
// Meta.ReceivedAt.
func (e *Event) WithReceivedAt(at time.Time) *Event {
	// The envelope ends "event_id":"ID" and then received_at, if any.
	idEnd := len(`{"topic":"","event":"","timestamp":"","event_id":""`) + len(e.spec.Topic) + len(e.spec.Name) + timeLen + len(e.id)
	const recvLen = len(`,"received_at":""`) + timeLen
	rest := idEnd
	if !e.receivedAt.IsZero() {
		rest += recvLen
	}
	w := make([]byte, 0, len(e.wire)+recvLen-(rest-idEnd))
	w = append(w, e.wire[:idEnd]...)
	w = append(w, `,"received_at":"`...)
	w = AppendTime(w, at)
	w = append(w, '"')
	w = append(w, e.wire[rest:]...)

	c := *e
	shift := int32(len(w) - len(e.wire))
	for i := range c.fields {
		if c.fields[i].end != 0 {
			c.fields[i].off += shift
			c.fields[i].end += shift
		}
	}
	if len(e.extra) > 0 {
		c.extra = make([]extraSpan, len(e.extra))
		for i, x := range e.extra {
			c.extra[i] = extraSpan{span{x.name.off + shift, x.name.end + shift}, span{x.value.off + shift, x.value.end + shift}}
		}
	}
	idAt := idEnd - 1 - len(e.id)
	c.id = b2s(w[idAt : idEnd-1])
	c.receivedAt = at
	c.wire = w
	return &c
}
