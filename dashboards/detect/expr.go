package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
	"github.com/google/cel-go/interpreter"
	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// envelope are the wire fields every event has (verified_submitter on
// those a device submitted).
var envelope = []string{"topic", "event", "timestamp", "event_id", "received_at", "verified_submitter"}

// actorVar is the computed variable that names who acted (see
// schema.EventSpec.Actor).
const actorVar = "actor"

// variables are the names an expression may use: every envelope and
// catalog field name, and actor.
var variables = func() []string {
	names := slices.Clone(envelope)
	names = append(names, actorVar)
	for _, spec := range schema.Catalog() {
		for _, f := range spec.Fields {
			names = append(names, f.Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}()

// newEnv returns the CEL environment of rule expressions: each variable
// is dynamic; a field the event does not carry is null. d gives the
// functions external(address, timestamp) and network(ip).
func newEnv(d *domains) (*cel.Env, error) {
	opts := []cel.EnvOption{cel.CrossTypeNumericComparisons(true), externalFunc(d), networkFunc()}
	for _, name := range variables {
		opts = append(opts, cel.Variable(name, cel.DynType))
	}
	return cel.NewEnv(opts...)
}

// program is one compiled expression.
type program struct {
	src string
	prg cel.Program
	// events are the only event names for which the condition can hold,
	// read from its expression; nil when it does not say.
	events map[string]bool
	// path is set when the expression only names a field (`actor`,
	// `verified_submitter.user_id`): its value is read without CEL.
	path []string
}

// compile compiles src; wantBool asks for a boolean result. The error
// gives the position (line:column) of each problem.
func compile(env *cel.Env, src string, wantBool bool) (*program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, fmt.Errorf("empty expression")
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		var msgs []string
		for _, e := range iss.Errors() {
			msgs = append(msgs, fmt.Sprintf("at %d:%d: %s", e.Location.Line(), e.Location.Column()+1, e.Message))
		}
		return nil, fmt.Errorf("%s", strings.Join(msgs, "; "))
	}
	if wantBool {
		if t := ast.OutputType(); !t.IsExactType(types.BoolType) && !t.IsExactType(types.DynType) {
			return nil, fmt.Errorf("must be a condition (a bool), not %s", t)
		}
	}
	prg, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	out := &program{src: src, prg: prg}
	if wantBool {
		out.events = eventNames(ast.NativeRep().Expr())
	} else {
		out.path = fieldPath(ast.NativeRep().Expr())
	}
	return out, nil
}

// fields is one event as expressions see it: its wire fields, decoded
// on first use. It is a CEL activation in which a field the event lacks
// is null. It lives for one event: the parser it reads from is reused.
type fields struct {
	event string
	obj   *fastjson.Object
	actor string
	// hasActor is whether the event names who acted.
	hasActor bool
	cache    map[string]ref.Val
}

func (f *fields) ResolveName(name string) (any, bool) {
	if name == actorVar {
		if !f.hasActor {
			return types.NullValue, true
		}
		return f.actor, true
	}
	if v, ok := f.cache[name]; ok {
		return v, true
	}
	var raw *fastjson.Value
	if f.obj != nil {
		raw = f.obj.Get(name)
	}
	if raw == nil {
		return types.NullValue, true
	}
	// Converted to a CEL value once, however many conditions read it.
	v := types.DefaultTypeAdapter.NativeToValue(native(raw))
	if f.cache == nil {
		f.cache = make(map[string]ref.Val, 8)
	}
	f.cache[name] = v
	return v, true
}

func (f *fields) Parent() interpreter.Activation { return nil }

// text is the value at a field path as program.text gives it: scalars
// only (anything else goes through CEL, as the path's program would).
func (f *fields) text(path []string) (string, bool) {
	if path[0] == actorVar {
		return f.actor, f.hasActor
	}
	if f.obj == nil {
		return "", false
	}
	raw := f.obj.Get(path[0])
	if raw != nil && len(path) > 1 {
		if raw.Type() != fastjson.TypeObject {
			return "", false
		}
		raw = raw.Get(path[1:]...)
	}
	if raw == nil {
		return "", false
	}
	switch raw.Type() {
	case fastjson.TypeObject, fastjson.TypeArray:
		return f.celText(path)
	case fastjson.TypeNull:
		return "", false
	case fastjson.TypeString:
		return string(raw.GetStringBytes()), true
	case fastjson.TypeTrue:
		return "true", true
	case fastjson.TypeFalse:
		return "false", true
	}
	if i, err := raw.Int64(); err == nil {
		return strconv.FormatInt(i, 10), true
	}
	x, _ := raw.Float64()
	return strconv.FormatFloat(x, 'g', -1, 64), true
}

// celText reads a field path the slow way, through the CEL values.
func (f *fields) celText(path []string) (string, bool) {
	v, _ := f.ResolveName(path[0])
	val, ok := v.(ref.Val)
	if !ok {
		val = types.DefaultTypeAdapter.NativeToValue(v)
	}
	for _, name := range path[1:] {
		m, ok := val.(traits.Indexer)
		if !ok || val.Type() == types.NullType {
			return "", false
		}
		val = m.Get(types.String(name))
		if types.IsError(val) {
			return "", false
		}
	}
	return valueText(val)
}

// decoder parses events' wire bytes for the engine; it is not safe for
// concurrent use, and what decode returns lives until its next call.
type decoder struct{ p fastjson.Parser }

// decode returns the fields of an event's wire bytes, with its actor.
// Whole numbers become int64, so that `bytes > 1000` compares integers.
func (d *decoder) decode(e *schema.Event) (*fields, error) {
	v, err := d.p.ParseBytes(e.Wire())
	if err != nil {
		return nil, fmt.Errorf("decode event %s: %w", e.ID(), err)
	}
	f, ok := newFields(v, e.Spec())
	if !ok {
		return nil, fmt.Errorf("decode event %s: not an object", e.ID())
	}
	return f, nil
}

// canonical reads an event in Vigil's canonical form (as the log holds
// it) without the normalizer: its fields and envelope. false when the
// bytes are not that form, for the normalizer to judge.
func (d *decoder) canonical(b []byte) (*fields, meta, bool) {
	v, err := d.p.ParseBytes(b)
	if err != nil {
		return nil, meta{}, false
	}
	spec, ok := schema.Lookup(string(v.GetStringBytes("event")))
	if !ok {
		return nil, meta{}, false
	}
	var m meta
	if m.ts, ok = millis(v.Get("timestamp")); !ok {
		return nil, meta{}, false
	}
	if r := v.Get("received_at"); r != nil {
		if m.received, ok = millis(r); !ok {
			return nil, meta{}, false
		}
	}
	id := v.Get("event_id")
	if id == nil || id.Type() != fastjson.TypeString {
		return nil, meta{}, false
	}
	m.id = string(id.GetStringBytes())
	f, ok := newFields(v, spec)
	return f, m, ok
}

// millis reads a canonical time (an RFC 3339 string) as Unix ms.
func millis(v *fastjson.Value) (int64, bool) {
	if v == nil || v.Type() != fastjson.TypeString {
		return 0, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(v.GetStringBytes()))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// newFields is the fields of a parsed event of spec.
func newFields(v *fastjson.Value, spec *schema.EventSpec) (*fields, bool) {
	obj, err := v.Object()
	if err != nil {
		return nil, false
	}
	f := &fields{event: spec.Name, obj: obj}
	if path := spec.Actor(); path != nil {
		if s := v.Get(path...); s != nil && s.Type() == fastjson.TypeString {
			f.actor, f.hasActor = string(s.GetStringBytes()), true
		}
	}
	return f, true
}

// native is a JSON value as Go values CEL adapts: objects as
// map[string]any, arrays as []any, whole numbers as int64, other numbers
// as float64. Strings are copied out of the parser's buffer.
func native(v *fastjson.Value) any {
	switch v.Type() {
	case fastjson.TypeString:
		return string(v.GetStringBytes())
	case fastjson.TypeNumber:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	case fastjson.TypeTrue:
		return true
	case fastjson.TypeFalse:
		return false
	case fastjson.TypeObject:
		o, _ := v.Object()
		m := make(map[string]any, o.Len())
		o.Visit(func(k []byte, e *fastjson.Value) { m[string(k)] = native(e) })
		return m
	case fastjson.TypeArray:
		a, _ := v.Array()
		out := make([]any, len(a))
		for i, e := range a {
			out[i] = native(e)
		}
		return out
	}
	return nil
}

// match evaluates a condition; an error (a missing field compared, a
// wrong type) is no match.
func (p *program) match(f *fields) bool {
	if p.events != nil && !p.events[f.event] {
		return false
	}
	out, _, err := p.prg.Eval(f)
	if err != nil {
		return false
	}
	b, ok := out.Value().(bool)
	return ok && b
}

// text evaluates a value expression to text; false when it errs or is
// null.
func (p *program) text(f *fields) (string, bool) {
	if p.path != nil {
		return f.text(p.path)
	}
	out, _, err := p.prg.Eval(f)
	if err != nil {
		return "", false
	}
	return valueText(out)
}

// number evaluates a value expression to a whole number; false when it
// is not one.
func (p *program) number(f *fields) (int64, bool) {
	out, _, err := p.prg.Eval(f)
	if err != nil {
		return 0, false
	}
	switch v := out.Value().(type) {
	case int64:
		return v, true
	case uint64:
		if v > math.MaxInt64 {
			return math.MaxInt64, true
		}
		return int64(v), true
	case float64:
		if v >= 0 && v < math.MaxInt64 {
			return int64(v), true
		}
	}
	return 0, false
}

// valueText is a CEL value as text: strings as they are, other scalars in
// their usual form, anything else as JSON.
func valueText(v ref.Val) (string, bool) {
	switch x := v.Value().(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	}
	if v.Type() == types.NullType {
		return "", false
	}
	native, err := v.ConvertToNative(reflect.TypeFor[any]())
	if err != nil {
		native = v.Value()
	}
	b, err := json.Marshal(native)
	if err != nil {
		return fmt.Sprint(v.Value()), true
	}
	return string(b), true
}
