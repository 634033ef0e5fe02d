package config

import (
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	unmarshalerType     = reflect.TypeFor[yaml.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkKeys walks the document against dst's type and reports every
// mapping key that dst does not declare, with its dotted path and line.
// It follows the YAML library's rules for field names: the yaml tag, or
// the lowercased field name, with ",inline" structs and maps merged in.
//
// It also turns a section key with no value (`duckdb:`) into an empty
// mapping when the field is a pointer to a struct, so the section is
// allocated rather than left nil.
func checkKeys(doc *yaml.Node, dst any) error {
	t := reflect.TypeOf(dst)
	if t == nil || t.Kind() != reflect.Pointer {
		return fmt.Errorf("config: decode into %v: need a non-nil pointer", t)
	}
	w := keyWalker{seen: make(map[visit]bool)}
	w.walk(doc, t.Elem(), "")
	return errors.Join(w.errs...)
}

type visit struct {
	node *yaml.Node
	typ  reflect.Type
}

type keyWalker struct {
	// seen bounds the work on documents whose aliases repeat (or contain)
	// the same nodes: each node is checked once against each type.
	seen map[visit]bool
	errs []error
}

func (w *keyWalker) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			w.walk(c, t, path)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return
		}
		n = n.Alias
	}
	v := visit{n, t}
	if w.seen[v] {
		return
	}
	w.seen[v] = true

	if t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct && isNull(n) && !custom(t) {
		n.Kind, n.Tag, n.Value, n.Style = yaml.MappingNode, "!!map", "", 0
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == durationType {
		w.duration(n)
		return
	}
	if custom(t) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if w.want(n, yaml.MappingNode, path) {
			w.mapping(n, fieldsOf(t), path)
		}
	case reflect.Map:
		if !w.want(n, yaml.MappingNode, path) {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if isMerge(k) {
				w.walk(val, t, path)
				continue
			}
			w.walk(val, t.Elem(), join(path, k.Value))
		}
	case reflect.Slice, reflect.Array:
		if !w.want(n, yaml.SequenceNode, path) {
			return
		}
		for i, c := range n.Content {
			w.walk(c, t.Elem(), path+"["+strconv.Itoa(i)+"]")
		}
	}
	// Scalars and interfaces have no keys to check; the decoder reports
	// a node of the wrong kind.
}

// want reports whether n is of the kind the destination needs, recording
// an error naming the path when it is not. Null is left to the decoder,
// which keeps the destination's current value.
func (w *keyWalker) want(n *yaml.Node, kind yaml.Kind, path string) bool {
	if n.Kind == kind {
		return true
	}
	if isNull(n) {
		return false
	}
	what := "a list"
	if kind == yaml.MappingNode {
		what = "a mapping"
	}
	where := strconv.Quote(path)
	if path == "" {
		where = "the document"
	}
	w.errs = append(w.errs, fmt.Errorf("config line %d: %s must be %s, not %s", n.Line, where, what, describe(n)))
	return false
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!int", "!!float":
		return "a number"
	case "!!bool":
		return "a boolean"
	case "!!timestamp":
		return "a timestamp"
	}
	return "a string"
}

// mapping checks one mapping node against a struct's fields.
func (w *keyWalker) mapping(n *yaml.Node, fs fields, path string) {
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if isMerge(k) {
			w.merge(val, fs, path)
			continue
		}
		if ft, ok := fs.known[k.Value]; ok {
			if fs.bytes[k.Value] {
				w.byteSize(val)
				continue
			}
			w.walk(val, ft, join(path, k.Value))
			continue
		}
		if fs.rest != nil {
			w.walk(val, fs.rest, join(path, k.Value))
			continue
		}
		w.errs = append(w.errs, unknownKey(k, join(path, k.Value), fs))
	}
}

// merge checks the value of a "<<" key: a mapping or a sequence of them,
// whose keys land in the enclosing struct.
func (w *keyWalker) merge(n *yaml.Node, fs fields, path string) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		w.mapping(n, fs, path)
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.AliasNode && c.Alias != nil {
				c = c.Alias
			}
			if c.Kind == yaml.MappingNode {
				w.mapping(c, fs, path)
			}
		}
	}
}

func unknownKey(k *yaml.Node, path string, fs fields) error {
	msg := fmt.Sprintf("config line %d: unknown key %q", k.Line, path)
	if s := Closest(k.Value, fs.names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return errors.New(msg)
}

// fields is what a struct accepts: named keys, and for an ",inline" map,
// the type of any other key's value.
type fields struct {
	known map[string]reflect.Type
	bytes map[string]bool // integer fields tagged `size:"bytes"`
	names []string        // in declaration order, for suggestions
	rest  reflect.Type
}

func fieldsOf(t reflect.Type) fields {
	fs := fields{known: make(map[string]reflect.Type), bytes: make(map[string]bool)}
	addFields(&fs, t)
	return fs
}

func addFields(fs *fields, t reflect.Type) {
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "" && !strings.Contains(string(f.Tag), ":") {
			tag = string(f.Tag)
		}
		if tag == "-" {
			continue
		}
		name, flags, _ := strings.Cut(tag, ",")
		if hasFlag(flags, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			switch {
			case ft.Kind() == reflect.Map:
				fs.rest = ft.Elem()
			case ft.Kind() == reflect.Struct && !custom(ft):
				addFields(fs, ft)
			default:
				// An inline type with its own decoder may take any key.
				fs.rest = reflect.TypeFor[any]()
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fs.known[name] = f.Type
		fs.names = append(fs.names, name)
		if f.Tag.Get("size") == "bytes" {
			fs.bytes[name] = true
		}
	}
}

// durationType is read like Duration: a package's Config may keep plain
// time.Duration fields and still take "7d".
var durationType = reflect.TypeFor[time.Duration]()

// duration rewrites a duration scalar into time.ParseDuration's form, so
// that the YAML library decodes it into a time.Duration.
func (w *keyWalker) duration(n *yaml.Node) {
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return // the YAML library reports the wrong shape
	}
	d, err := ParseDuration(n.Value)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("config line %d: %w", n.Line, err))
		return
	}
	n.Value, n.Tag, n.Style = time.Duration(d).String(), "!!str", 0
}

// byteSize rewrites a size scalar ("256MiB") into its number of bytes, for
// an integer field tagged `size:"bytes"`.
func (w *keyWalker) byteSize(n *yaml.Node) {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.ScalarNode || isNull(n) {
		return
	}
	b, err := ParseByteSize(n.Value)
	if err != nil {
		w.errs = append(w.errs, fmt.Errorf("config line %d: %w", n.Line, err))
		return
	}
	n.Value, n.Tag, n.Style = strconv.FormatUint(uint64(b), 10), "!!int", 0
}

func hasFlag(flags, flag string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		if f == flag {
			return true
		}
	}
	return false
}

// custom reports whether values of t decode themselves, so their shape is
// theirs to check.
func custom(t reflect.Type) bool {
	if t.Kind() == reflect.Interface {
		return true
	}
	pt := t
	if t.Kind() != reflect.Pointer {
		pt = reflect.PointerTo(t)
	}
	return pt.Implements(unmarshalerType) || pt.Implements(textUnmarshalerType)
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Closest returns the name nearest to s by edit distance, if it is close
// enough to be a likely typo: one edit for every three characters.
func Closest(s string, names []string) string {
	best, bestD := "", max(1, len(s)/3)+1
	for _, n := range names {
		if d := distance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b, capped for long
// inputs since only small distances matter.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	// Three rows: two letters swapped count as one edit ("FIEL", "FILE").
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
