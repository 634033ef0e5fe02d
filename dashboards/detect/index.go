package detect

import (
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
)

// eventNames reads from a condition the event names it can hold for:
// `event == "x"`, `event in ["x", "y"]`, and those joined by && (the
// names both sides allow) and || (the names either allows). nil means
// the condition does not limit the name. A condition that is true only
// when the name is in the set lets the engine skip it for every other
// event without evaluating it.
func eventNames(e celast.Expr) map[string]bool {
	if e.Kind() != celast.CallKind {
		return nil
	}
	call := e.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case operators.LogicalAnd:
		var out map[string]bool
		for _, a := range args {
			out = intersect(out, eventNames(a))
		}
		return out
	case operators.LogicalOr:
		out := map[string]bool{}
		for _, a := range args {
			s := eventNames(a)
			if s == nil {
				return nil
			}
			for n := range s {
				out[n] = true
			}
		}
		return out
	case operators.Equals:
		if len(args) != 2 {
			return nil
		}
		if isEventIdent(args[0]) {
			return literalSet(args[1])
		}
		if isEventIdent(args[1]) {
			return literalSet(args[0])
		}
	case operators.In:
		if len(args) == 2 && isEventIdent(args[0]) && args[1].Kind() == celast.ListKind {
			out := map[string]bool{}
			for _, el := range args[1].AsList().Elements() {
				s := literalSet(el)
				if s == nil {
					return nil
				}
				for n := range s {
					out[n] = true
				}
			}
			return out
		}
	}
	return nil
}

// intersect is the names both sets allow; nil allows every name.
func intersect(a, b map[string]bool) map[string]bool {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	out := map[string]bool{}
	for n := range a {
		if b[n] {
			out[n] = true
		}
	}
	return out
}

func isEventIdent(e celast.Expr) bool {
	return e.Kind() == celast.IdentKind && e.AsIdent() == "event"
}

// literalSet is the one-name set of a string literal, nil for anything
// else.
func literalSet(e celast.Expr) map[string]bool {
	if e.Kind() != celast.LiteralKind {
		return nil
	}
	s, ok := e.AsLiteral().Value().(string)
	if !ok {
		return nil
	}
	return map[string]bool{s: true}
}

// fieldPath is the field path an expression only names (`actor`,
// `verified_submitter.user_id`), nil for any other expression.
func fieldPath(e celast.Expr) []string {
	var rev []string
	for e.Kind() == celast.SelectKind {
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return nil
		}
		rev = append(rev, sel.FieldName())
		e = sel.Operand()
	}
	if e.Kind() != celast.IdentKind {
		return nil
	}
	path := []string{e.AsIdent()}
	for i := len(rev) - 1; i >= 0; i-- {
		path = append(path, rev[i])
	}
	return path
}
