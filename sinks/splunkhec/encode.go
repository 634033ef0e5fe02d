package splunkhec

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
)

// encoder builds request bodies: HEC event objects, one per record, each
// followed by a newline. It reuses its buffers and is not safe for
// concurrent use.
type encoder struct {
	// meta is the ,"host":..,"source":..,"sourcetype":..,"index":.. part
	// every event object shares, encoded once.
	meta []byte
	max  int
	body []byte

	// fields are the indexed fields to copy from each event: their
	// names, encoded as JSON strings, and their paths.
	fields []indexedField
	parser fastjson.Parser

	gzip bool
	zw   *gzip.Writer
	zbuf bytes.Buffer
}

func newEncoder(c Config) *encoder {
	e := &encoder{max: c.MaxBatchBytes, gzip: c.Gzip}
	for _, f := range []struct{ key, v string }{
		{"host", c.Host},
		{"source", c.Source},
		{"sourcetype", c.SourceType},
		{"index", c.Index},
	} {
		if f.v == "" {
			continue
		}
		v, _ := json.Marshal(f.v) // a string always marshals
		e.meta = append(e.meta, `,"`...)
		e.meta = append(e.meta, f.key...)
		e.meta = append(e.meta, `":`...)
		e.meta = append(e.meta, v...)
	}
	for _, f := range c.Fields {
		name, _ := json.Marshal(f) // a string always marshals
		e.fields = append(e.fields, indexedField{name: name, path: strings.Split(f, ".")})
	}
	return e
}

// indexedField is one of Config.Fields.
type indexedField struct {
	name []byte
	path []string
}

// fill encodes records from the start of batch into the body until the
// next one would take it past the size limit, and returns how many it
// took: at least one, so that an event larger than the limit goes alone.
// A record that is not an event ends the body before it, and is a
// permanent error when it is the first.
func (e *encoder) fill(batch []eventlog.Record) (int, error) {
	e.body = e.body[:0]
	for i, rec := range batch {
		mark := len(e.body)
		var err error
		if e.body, err = e.appendEvent(e.body, rec); err != nil {
			if i > 0 {
				e.body = e.body[:mark]
				return i, nil
			}
			return 0, sinks.Permanent(err)
		}
		if i > 0 && len(e.body) > e.max {
			e.body = e.body[:mark]
			return i, nil
		}
	}
	return len(batch), nil
}

// forget drops the buffers instead of reusing them: after a request that
// failed or was answered early, the HTTP transport may still be reading
// the last body while the next one would be written over it.
func (e *encoder) forget() {
	e.body, e.zbuf = nil, bytes.Buffer{}
	if e.zw != nil {
		e.zw.Reset(&e.zbuf)
	}
}

// payload returns the body to send: the encoded events, compressed when
// gzip is on. It stays valid until the next fill.
func (e *encoder) payload() ([]byte, error) {
	if !e.gzip {
		return e.body, nil
	}
	e.zbuf.Reset()
	if e.zw == nil {
		e.zw, _ = gzip.NewWriterLevel(&e.zbuf, gzip.BestSpeed) // the level is valid
	} else {
		e.zw.Reset(&e.zbuf)
	}
	if _, err := e.zw.Write(e.body); err != nil {
		return nil, fmt.Errorf("compress request: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return nil, fmt.Errorf("compress request: %w", err)
	}
	return e.zbuf.Bytes(), nil
}

// appendEvent appends rec's HEC event object and a newline to dst.
func (e *encoder) appendEvent(dst []byte, rec eventlog.Record) ([]byte, error) {
	env, err := sinks.ParseEnvelope(rec.Value)
	if err != nil {
		return dst, fmt.Errorf("encode event %s: %w", rec.ID, err)
	}
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, env.Timestamp)
	dst = append(dst, e.meta...)
	if len(e.fields) > 0 {
		dst = e.appendFields(dst, rec.Value)
	}
	dst = append(dst, `,"event":`...)
	dst = append(dst, rec.Value...)
	return append(dst, "}\n"...), nil
}

// appendTime appends t as HEC wants it: seconds since the epoch, with
// milliseconds as three decimals.
func appendTime(dst []byte, t time.Time) []byte {
	ms := t.UnixMilli()
	if ms < 0 {
		dst = append(dst, '-')
		ms = -ms
	}
	dst = strconv.AppendInt(dst, ms/1000, 10)
	frac := ms % 1000
	return append(dst, '.', byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
}

// appendFields appends ,"fields":{...} with the configured fields event
// has, or nothing when it has none. HEC takes a string or an array of
// strings per field: numbers and booleans go as their JSON text, arrays
// keep their strings, numbers and booleans, and objects and nulls are
// left out.
func (e *encoder) appendFields(dst, event []byte) []byte {
	v, err := e.parser.ParseBytes(event) // checked by ParseEnvelope already
	if err != nil {
		return dst
	}
	start, n := len(dst), 0
	dst = append(dst, `,"fields":{`...)
	for _, f := range e.fields {
		fv := v.Get(f.path...)
		if fv == nil {
			continue
		}
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, f.name...)
		dst = append(dst, ':')
		var ok bool
		if fv.Type() == fastjson.TypeArray {
			dst, ok = appendStrings(dst, fv)
		} else {
			dst, ok = appendFieldValue(dst, fv)
		}
		if !ok {
			dst = dst[:mark]
			continue
		}
		n++
	}
	if n == 0 {
		return dst[:start]
	}
	return append(dst, '}')
}

// appendStrings appends the array v with its scalar items as strings; it
// reports false when none is left.
func appendStrings(dst []byte, v *fastjson.Value) ([]byte, bool) {
	items, _ := v.Array() // an array, checked by the caller
	start, n := len(dst), 0
	dst = append(dst, '[')
	for _, it := range items {
		mark := len(dst)
		if n > 0 {
			dst = append(dst, ',')
		}
		var ok bool
		if dst, ok = appendFieldValue(dst, it); !ok {
			dst = dst[:mark]
			continue
		}
		n++
	}
	if n == 0 {
		return dst[:start], false
	}
	return append(dst, ']'), true
}

// appendFieldValue appends a scalar v as a JSON string; it reports false
// for an object, an array or null.
func appendFieldValue(dst []byte, v *fastjson.Value) ([]byte, bool) {
	switch v.Type() {
	case fastjson.TypeString:
		return v.MarshalTo(dst), true // a JSON string already
	case fastjson.TypeNumber, fastjson.TypeTrue, fastjson.TypeFalse:
		return strconv.AppendQuote(dst, string(v.MarshalTo(nil))), true
	}
	return dst, false
}
