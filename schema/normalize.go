package schema

import (
	"bytes"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Limits bound what Normalize accepts. The zero value means the defaults.
type Limits struct {
	// MaxStringLen is the longest string value, in bytes (default 4096).
	MaxStringLen int `yaml:"max_string_len"`
	// MaxExtraFields is how many fields outside the catalog an event may
	// carry (default 64).
	MaxExtraFields int `yaml:"max_extra_fields"`
	// MaxExtraBytes is the largest encoded value of one extra field
	// (default 16384).
	MaxExtraBytes int `yaml:"max_extra_bytes"`
}

func (l Limits) withDefaults() Limits {
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = 4096
	}
	if l.MaxExtraFields <= 0 {
		l.MaxExtraFields = 64
	}
	if l.MaxExtraBytes <= 0 {
		l.MaxExtraBytes = 16384
	}
	return l
}

// Meta is what the server knows about an event besides its bytes.
type Meta struct {
	// Submitter is set by ingest from the authenticated credential and
	// emitted as verified_submitter. A body that carries its own
	// verified_submitter is rejected unless Trusted.
	Submitter Submitter
	// ReceivedAt is when ingest accepted the event; zero leaves it out.
	ReceivedAt time.Time
	// Trusted marks input that is already Vigil's wire form (read back
	// from the log or a store): verified_submitter and received_at are
	// then taken from the body.
	Trusted bool
}

// Normalizer decodes, validates and normalizes events. It reuses its
// buffers between calls, so it must not be used from several goroutines
// at once; Normalize (the function) keeps a pool of them.
type Normalizer struct {
	limits Limits
	parser fastjson.Parser

	// per call
	meta      Meta
	spec      *EventSpec
	ts        time.Time
	err       *ValidationError
	scratch   []byte          // canonical values, in input order
	vals      [maxFields]span // into scratch
	extras    []extra
	caller    string // email of the last caller value
	id        []byte
	body      []byte
	idbuf     [26]byte
	hash      []byte
	recvd     time.Time
	submitter Submitter
	envelope  uint8  // envelope fields seen, by envelopeBit
	nulls     uint16 // catalog fields given as null, by index
	visit     func(k []byte, v *fastjson.Value)
}

// envelopeBit numbers the envelope fields, to catch one given twice.
func envelopeBit(k []byte) uint8 {
	switch string(k) {
	case "topic":
		return 1
	case "event":
		return 2
	case "timestamp":
		return 4
	case "event_id":
		return 8
	case "received_at":
		return 16
	case "verified_submitter":
		return 32
	}
	return 0
}

// hasLoneSurrogate reports whether raw holds a \u escape of half a
// surrogate pair without its other half, which no UTF-8 text can hold.
func hasLoneSurrogate(raw []byte) bool {
	for i := 0; ; {
		j := bytes.Index(raw[i:], []byte(`\u`))
		if j < 0 {
			return false
		}
		i += j
		// Count the backslashes before: an even number means this one is
		// itself escaped.
		k := i
		for k > 0 && raw[k-1] == '\\' {
			k--
		}
		if (i-k)%2 == 1 || i+6 > len(raw) {
			i += 2
			continue
		}
		r, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		if err != nil {
			i += 2
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			// A high half needs a low half right after it.
			if i+12 > len(raw) || raw[i+6] != '\\' || raw[i+7] != 'u' {
				return true
			}
			lo, err := strconv.ParseUint(string(raw[i+8:i+12]), 16, 16)
			if err != nil || lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 12
		case r >= 0xDC00 && r <= 0xDFFF:
			return true
		default:
			i += 6
		}
	}
}

type extra struct {
	name     []byte
	off, end int // into scratch
}

// NewNormalizer returns a Normalizer with the given limits.
func NewNormalizer(l Limits) *Normalizer {
	n := &Normalizer{limits: l.withDefaults()}
	n.visit = n.visitField
	return n
}

var pool = sync.Pool{New: func() any { return NewNormalizer(Limits{}) }}

// Normalize decodes one event with the default limits. See
// Normalizer.Normalize.
func Normalize(raw []byte, meta Meta) (*Event, error) {
	n := pool.Get().(*Normalizer)
	defer pool.Put(n)
	return n.Normalize(raw, meta)
}

// Normalize decodes one JSON event, checks it against the catalog and
// returns it in canonical form. Every error is a *ValidationError.
func (n *Normalizer) Normalize(raw []byte, meta Meta) (*Event, error) {
	e, verr := n.normalize(raw, meta)
	if verr != nil {
		if n.spec != nil {
			verr.Event = n.spec.Name
		}
		return nil, verr
	}
	return e, nil
}

func (n *Normalizer) reset(meta Meta) {
	n.meta = meta
	n.spec = nil
	n.ts = time.Time{}
	n.err = nil
	n.scratch = n.scratch[:0]
	n.vals = [maxFields]span{}
	n.extras = n.extras[:0]
	n.caller = ""
	n.id = n.id[:0]
	n.recvd = meta.ReceivedAt
	n.envelope = 0
	n.nulls = 0
	n.submitter = meta.Submitter
}

func (n *Normalizer) normalize(raw []byte, meta Meta) (*Event, *ValidationError) {
	n.reset(meta)
	if !utf8.Valid(raw) {
		return nil, invalid("", CodeUTF8, "invalid UTF-8")
	}
	// The parser alone is lenient (NaN, 0030, "\q"): validate first so
	// that bad input is an error rather than quietly changed.
	if err := fastjson.ValidateBytes(raw); err != nil {
		return nil, invalid("", CodeSyntax, "not valid JSON")
	}
	if hasLoneSurrogate(raw) {
		return nil, invalid("", CodeUTF8, "a \\u escape encodes half a surrogate pair")
	}
	v, err := n.parser.ParseBytes(raw)
	if err != nil {
		return nil, invalid("", CodeSyntax, "not valid JSON")
	}
	o, err := v.Object()
	if err != nil {
		return nil, invalid("", CodeSyntax, "not a JSON object")
	}

	// The event decides how every other field reads, and the timestamp
	// is needed by link expiries: read both first.
	if verr := n.readEvent(o); verr != nil {
		return nil, verr
	}
	tv := o.Get("timestamp")
	if tv == nil {
		return nil, invalid("timestamp", CodeMissing, "required")
	}
	if n.ts, n.err = timeValue(tv, "timestamp"); n.err != nil {
		return nil, n.err
	}

	o.Visit(n.visit)
	if n.err != nil {
		return nil, n.err
	}
	return n.finish()
}

// readEvent finds the catalog entry from "event" and checks "topic".
func (n *Normalizer) readEvent(o *fastjson.Object) *ValidationError {
	ev := o.Get("event")
	if ev == nil {
		return invalid("event", CodeMissing, "required")
	}
	name, err := ev.StringBytes()
	if err != nil {
		return invalid("event", CodeType, "must be a string")
	}
	spec, ok := byName[string(name)]
	if !ok {
		spec, ok = byName[strings.ToLower(string(name))]
	}
	if !ok {
		return invalid("event", CodeUnknown, "unknown event "+quote(name))
	}
	n.spec = spec
	tv := o.Get("topic")
	if tv == nil {
		return invalid("topic", CodeMissing, "required")
	}
	tb, err := tv.StringBytes()
	if err != nil {
		return invalid("topic", CodeType, "must be a string")
	}
	topic, ok := parseTopic(string(tb))
	if !ok {
		return invalid("topic", CodeUnknown, "unknown topic "+quote(tb))
	}
	if topic != spec.Topic {
		return invalid("topic", CodeFormat, "event "+spec.Name+" belongs to topic "+string(spec.Topic))
	}
	return nil
}

// visitField normalizes one member of the event object.
func (n *Normalizer) visitField(k []byte, v *fastjson.Value) {
	if n.err != nil {
		return
	}
	if bit := envelopeBit(k); bit != 0 {
		if n.envelope&bit != 0 {
			n.err = invalid(string(k), CodeDuplicate, "field given twice")
			return
		}
		n.envelope |= bit
	}
	switch string(k) {
	case "topic", "event", "timestamp":
		return // read before the visit
	case "event_id":
		n.err = n.readID(v)
		return
	case "received_at":
		if n.meta.Trusted {
			n.recvd, n.err = timeValue(v, "received_at")
		}
		// Otherwise ingest's own time wins; a client's copy is dropped.
		return
	case "verified_submitter":
		if !n.meta.Trusted {
			n.err = invalid("verified_submitter", CodeForbidden, "set by the server from the submitting credential; clients must not send it")
			return
		}
		n.submitter, n.err = submitterValue(v)
		return
	}
	i := n.spec.Field(string(k))
	if i < 0 {
		i = n.spec.alias(string(k))
	}
	if i >= 0 {
		f := &n.spec.Fields[i]
		if v.Type() == fastjson.TypeNull && f.Type != TypeRole {
			// null is absence; a required field is then reported missing.
			if n.nulls&(1<<i) != 0 {
				n.err = invalid(f.Name, CodeDuplicate, "field given twice")
			}
			n.nulls |= 1 << i
			return
		}
		if n.vals[i].end != 0 || n.nulls&(1<<i) != 0 {
			n.err = invalid(f.Name, CodeDuplicate, "field given twice")
			return
		}
		off := len(n.scratch)
		n.scratch, n.err = n.appendField(n.scratch, f.Type, v, f.Name)
		n.vals[i] = span{int32(off), int32(len(n.scratch))}
		return
	}
	n.addExtra(k, v)
}

func (n *Normalizer) addExtra(k []byte, v *fastjson.Value) {
	if len(n.extras) >= n.limits.MaxExtraFields {
		n.err = invalid(string(k), CodeTooMany, "more than "+itoa(n.limits.MaxExtraFields)+" fields outside the catalog")
		return
	}
	if len(k) == 0 || len(k) > 256 {
		n.err = invalid(string(k), CodeFormat, "field names outside the catalog must be 1 to 256 bytes")
		return
	}
	off := len(n.scratch)
	var err error
	n.scratch, err = appendValue(n.scratch, v)
	switch err {
	case nil:
	case errNumber:
		n.err = invalid(string(k), CodeSyntax, "holds a number JSON cannot spell")
		return
	default:
		n.err = invalid(string(k), CodeUTF8, "invalid UTF-8")
		return
	}
	if len(n.scratch)-off > n.limits.MaxExtraBytes {
		n.err = invalid(string(k), CodeTooLong, "longer than "+itoa(n.limits.MaxExtraBytes)+" bytes")
		return
	}
	n.extras = append(n.extras, extra{name: k, off: off, end: len(n.scratch)})
}

func (n *Normalizer) readID(v *fastjson.Value) *ValidationError {
	b, err := v.StringBytes()
	if err != nil {
		return invalid("event_id", CodeType, "must be a string")
	}
	if len(b) == 0 || len(b) > 64 {
		return invalid("event_id", CodeFormat, "must be 1 to 64 characters")
	}
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return invalid("event_id", CodeFormat, "may hold only letters, digits, '-', '_', '.' and ':'")
		}
	}
	n.id = append(n.id[:0], b...)
	return nil
}

// finish checks required fields, derives what may be derived and lays out
// the wire form.
func (n *Normalizer) finish() (*Event, *ValidationError) {
	spec := n.spec
	for i := range spec.Fields {
		f := &spec.Fields[i]
		if f.Type == TypeSubmitter {
			if n.submitter.IsZero() {
				return nil, invalid(f.Name, CodeMissing, "required; ingest sets it from the submitting device's credential")
			}
			continue
		}
		if n.vals[i].end != 0 {
			continue
		}
		if f.fromCaller && n.caller != "" {
			off := len(n.scratch)
			n.scratch = appendString(n.scratch, n.caller)
			n.vals[i] = span{int32(off), int32(len(n.scratch))}
			continue
		}
		if !f.Optional {
			return nil, invalid(f.Name, CodeMissing, "required")
		}
	}
	slices.SortFunc(n.extras, func(a, b extra) int { return bytes.Compare(a.name, b.name) })
	for i := 1; i < len(n.extras); i++ {
		if bytes.Equal(n.extras[i-1].name, n.extras[i].name) {
			return nil, invalid(string(n.extras[i].name), CodeDuplicate, "field given twice")
		}
	}

	// The body (fields in catalog order, then extras by name) is built
	// first: a derived event_id hashes it.
	b := n.body[:0]
	var spans [maxFields]span
	for i := range spec.Fields {
		sp := n.vals[i]
		if sp.end == 0 {
			continue
		}
		b = append(b, ',', '"')
		b = append(b, spec.Fields[i].Name...)
		b = append(b, '"', ':')
		off := len(b)
		b = append(b, n.scratch[sp.off:sp.end]...)
		spans[i] = span{int32(off), int32(len(b))}
	}
	for _, x := range n.extras {
		b = append(b, ',')
		b = appendString(b, x.name)
		b = append(b, ':')
		b = append(b, n.scratch[x.off:x.end]...)
	}
	b = append(b, '}')
	n.body = b

	id := n.id
	if len(id) == 0 {
		id = n.deriveID(b)
	}

	e := &Event{spec: spec, timestamp: n.ts, receivedAt: n.recvd, submitter: n.submitter, extras: len(n.extras)}
	w := make([]byte, 0, 200+len(spec.Name)+len(id)+len(n.submitter.UserID)+len(b))
	w = append(w, `{"topic":"`...)
	w = append(w, spec.Topic...)
	w = append(w, `","event":"`...)
	w = append(w, spec.Name...)
	w = append(w, `","timestamp":"`...)
	w = AppendTime(w, n.ts)
	w = append(w, `","event_id":`...)
	idAt := len(w) + 1
	w = appendString(w, id) // ids hold no characters that need escapes
	e.id = b2s(w[idAt : len(w)-1])
	if !n.recvd.IsZero() {
		w = append(w, `,"received_at":"`...)
		w = AppendTime(w, n.recvd)
		w = append(w, '"')
	}
	if !n.submitter.IsZero() {
		w = append(w, `,"verified_submitter":{"user_id":`...)
		w = appendString(w, n.submitter.UserID)
		w = append(w, `,"device_id":`...)
		w = appendString(w, n.submitter.DeviceID)
		w = append(w, '}')
	}
	base := int32(len(w))
	w = append(w, b...)
	for i, sp := range spans {
		if sp.end != 0 {
			e.fields[i] = span{sp.off + base, sp.end + base}
		}
	}
	e.wire = w
	return e, nil
}
