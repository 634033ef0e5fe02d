package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/interpreter"

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
	return &program{src: src, prg: prg}, nil
}

// fields is one event as expressions see it: its wire fields, decoded.
// It is a CEL activation in which a field the event lacks is null.
type fields map[string]any

func (f fields) ResolveName(name string) (any, bool) {
	if v, ok := f[name]; ok {
		return v, true
	}
	return types.NullValue, true
}

func (f fields) Parent() interpreter.Activation { return nil }

// decode returns the fields of an event's wire bytes, with its actor.
// Whole numbers become int64, so that `bytes > 1000` compares integers.
func decode(e *schema.Event) (fields, error) {
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(e.Wire()))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", e.ID(), err)
	}
	for k, v := range m {
		m[k] = numbers(v)
	}
	if path := e.Spec().Actor(); path != nil {
		var v any = map[string]any(m)
		for _, p := range path {
			mm, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = mm[p]
		}
		if s, ok := v.(string); ok {
			m[actorVar] = s
		}
	}
	return fields(m), nil
}

// numbers replaces json.Numbers in v by int64 (whole) or float64.
func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}

// match evaluates a condition; an error (a missing field compared, a
// wrong type) is no match.
func (p *program) match(f fields) bool {
	out, _, err := p.prg.Eval(f)
	if err != nil {
		return false
	}
	b, ok := out.Value().(bool)
	return ok && b
}

// text evaluates a value expression to text; false when it errs or is
// null.
func (p *program) text(f fields) (string, bool) {
	out, _, err := p.prg.Eval(f)
	if err != nil {
		return "", false
	}
	return valueText(out)
}

// number evaluates a value expression to a whole number; false when it
// is not one.
func (p *program) number(f fields) (int64, bool) {
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
