package sinks

import (
	"bytes"
	"fmt"
	"time"

	"github.com/valyala/fastjson"
)

// Envelope is the start of every canonical event: what a sink needs to
// frame an event (a syslog header, a HEC time) without parsing the rest.
type Envelope struct {
	Topic     string
	Event     string
	Timestamp time.Time
	EventID   string
}

// ParseEnvelope reads topic, event, timestamp and event_id from an event's
// wire JSON. The canonical form puts them first, so this reads only the
// start of value; other JSON objects are parsed in full.
func ParseEnvelope(value []byte) (Envelope, error) {
	if env, ok := fastEnvelope(value); ok {
		return env, nil
	}
	v, err := fastjson.ParseBytes(value)
	if err != nil {
		return Envelope{}, fmt.Errorf("parse event: %w", err)
	}
	env := Envelope{
		Topic:   string(v.GetStringBytes("topic")),
		Event:   string(v.GetStringBytes("event")),
		EventID: string(v.GetStringBytes("event_id")),
	}
	ts := v.GetStringBytes("timestamp")
	if env.Topic == "" || env.Event == "" || ts == nil {
		return Envelope{}, fmt.Errorf("parse event: topic, event and timestamp are required")
	}
	if env.Timestamp, err = time.Parse(time.RFC3339Nano, string(ts)); err != nil {
		return Envelope{}, fmt.Errorf("parse event timestamp: %w", err)
	}
	return env, nil
}

// fastEnvelope reads the canonical prefix
// {"topic":"T","event":"E","timestamp":"TS","event_id":"ID", whose
// values never hold escapes.
func fastEnvelope(b []byte) (Envelope, bool) {
	var env Envelope
	var ok bool
	var ts []byte
	var id []byte
	var topic, event []byte
	if b, ok = cutPrefix(b, `{"topic":"`); !ok {
		return env, false
	}
	if topic, b, ok = plainString(b); !ok {
		return env, false
	}
	if b, ok = cutPrefix(b, `,"event":"`); !ok {
		return env, false
	}
	if event, b, ok = plainString(b); !ok {
		return env, false
	}
	if b, ok = cutPrefix(b, `,"timestamp":"`); !ok {
		return env, false
	}
	if ts, b, ok = plainString(b); !ok {
		return env, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return env, false
	}
	if rest, ok := cutPrefix(b, `,"event_id":"`); ok {
		if id, _, ok = plainString(rest); !ok {
			return env, false
		}
	}
	return Envelope{Topic: string(topic), Event: string(event), Timestamp: t, EventID: string(id)}, true
}

func cutPrefix(b []byte, p string) ([]byte, bool) {
	if len(b) < len(p) || string(b[:len(p)]) != p {
		return b, false
	}
	return b[len(p):], true
}

// plainString returns the bytes up to the closing quote of a string with
// no escapes, and what follows the quote.
func plainString(b []byte) (s, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '"')
	if i <= 0 || bytes.IndexByte(b[:i], '\\') >= 0 {
		return nil, b, false
	}
	return b[:i], b[i+1:], true
}
