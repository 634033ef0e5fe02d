package schema

import (
	"bytes"
	"slices"
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
	known     int    // extras that are catalog fields written among them
	caller    string // email of the last caller value
	id        []byte
	env       []byte
	hash      []byte
	in        []byte // New's input form
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

// checkLexical does, in one pass, the checks the parser leaves out:
// control characters (only tab, newline and carriage return may appear,
// and inside strings they are read as their escapes), backslash escapes
// that JSON does not define, and \u escapes of half a surrogate pair,
// which no UTF-8 text can hold. Numbers are checked where they are read.
func checkLexical(raw []byte) *ValidationError {
	for i := 0; i < len(raw); i++ {
		i += lexicalPrefix(raw[i:])
		if i >= len(raw) {
			break
		}
		c := raw[i]
		if c >= 0x20 && c != '\\' {
			continue
		}
		if c == '\t' || c == '\n' || c == '\r' {
			continue
		}
		if c != '\\' {
			return invalid("", CodeSyntax, "not valid JSON: control character")
		}
		if i+1 >= len(raw) {
			return invalid("", CodeSyntax, "not valid JSON")
		}
		switch raw[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i++
			continue
		case 'u':
		default:
			return invalid("", CodeSyntax, "not valid JSON: unknown escape \\"+string(rune(raw[i+1])))
		}
		r, ok := hex4(raw, i+2)
		if !ok {
			return invalid("", CodeSyntax, "not valid JSON: bad \\u escape")
		}
		i += 5
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			// A high half needs a low half right after it.
			lo, ok := rune(0), false
			if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
				lo, ok = hex4(raw, i+3)
			}
			if !ok || lo < 0xDC00 || lo > 0xDFFF {
				return invalid("", CodeUTF8, "a \\u escape encodes half a surrogate pair")
			}
			i += 6
		case r >= 0xDC00 && r <= 0xDFFF:
			return invalid("", CodeUTF8, "a \\u escape encodes half a surrogate pair")
		}
	}
	return nil
}

// hex4 reads four hex digits at raw[i:].
func hex4(raw []byte, i int) (rune, bool) {
	if i+4 > len(raw) {
		return 0, false
	}
	var r rune
	for _, c := range raw[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
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

// Limits returns the limits n applies.
func (n *Normalizer) Limits() Limits { return n.limits }

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
	n.known = 0
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
	// The parser is lenient where JSON is not ("\q", 0030, NaN): what
	// it lets through is checked here and where numbers are read, so that
	// bad input is an error rather than quietly changed.
	if verr := checkLexical(raw); verr != nil {
		return nil, verr
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
	topic, ok := ParseTopic(string(tb))
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
		if f.extra {
			// Checked as its type, written among the extras (a second copy
			// is caught there).
			off := len(n.scratch)
			n.scratch, n.err = n.appendField(n.scratch, f.Type, v, f.Name)
			n.extras = append(n.extras, extra{name: k, off: off, end: len(n.scratch)})
			n.known++
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
	if len(n.extras)-n.known >= n.limits.MaxExtraFields {
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

	// The envelope's tail (received_at, verified_submitter) goes to env
	// first, so that the wire's size is known before it is written.
	env := n.env[:0]
	if !n.recvd.IsZero() {
		env = append(env, `,"received_at":"`...)
		env = AppendTime(env, n.recvd)
		env = append(env, '"')
	}
	if !n.submitter.IsZero() {
		env = append(env, `,"verified_submitter":{"user_id":`...)
		env = appendString(env, n.submitter.UserID)
		env = append(env, `,"device_id":`...)
		env = appendString(env, n.submitter.DeviceID)
		env = append(env, '}')
	}
	n.env = env
	idLen := len(n.id)
	if idLen == 0 {
		idLen = ulidLen
	}
	size := len(`{"topic":"","event":"","timestamp":"","event_id":""`) + len(spec.Topic) + len(spec.Name) + timeLen + idLen + len(env) + len(n.scratch) + 1
	for i := range spec.Fields {
		if n.vals[i].end != 0 {
			size += len(spec.Fields[i].Name) + 4
		}
	}
	for _, x := range n.extras {
		size += len(x.name) + 8 // escapes may need more; append grows then
	}

	e := &Event{spec: spec, timestamp: n.ts, receivedAt: n.recvd, submitter: n.submitter, extras: len(n.extras) - n.known}
	w := make([]byte, 0, size)
	w = append(w, `{"topic":"`...)
	w = append(w, spec.Topic...)
	w = append(w, `","event":"`...)
	w = append(w, spec.Name...)
	w = append(w, `","timestamp":"`...)
	w = AppendTime(w, n.ts)
	w = append(w, `","event_id":"`...)
	idAt := len(w)
	w = append(w, n.id...) // ids hold no characters that need escapes
	w = w[:idAt+idLen]     // a derived id is written below
	w = append(w, '"')
	w = append(w, env...)
	// The body: fields in catalog order, then extras by name.
	body := len(w)
	for i := range spec.Fields {
		sp := n.vals[i]
		if sp.end == 0 {
			continue
		}
		w = append(w, ',', '"')
		w = append(w, spec.Fields[i].Name...)
		w = append(w, '"', ':')
		off := len(w)
		w = append(w, n.scratch[sp.off:sp.end]...)
		e.fields[i] = span{int32(off), int32(len(w))}
	}
	if len(n.extras) > 0 {
		e.extra = make([]extraSpan, len(n.extras))
	}
	for i, x := range n.extras {
		w = append(w, ',')
		nameAt := len(w) + 1
		w = appendString(w, x.name)
		nameEnd := len(w) - 1
		w = append(w, ':')
		valAt := len(w)
		w = append(w, n.scratch[x.off:x.end]...)
		e.extra[i] = extraSpan{span{int32(nameAt), int32(nameEnd)}, span{int32(valAt), int32(len(w))}}
	}
	w = append(w, '}')
	if len(n.id) == 0 {
		n.deriveID(w[body:], w[idAt:idAt+ulidLen])
	}
	e.id = b2s(w[idAt : idAt+idLen])
	e.wire = w
	return e, nil
}
