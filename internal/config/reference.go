package config

import (
	"fmt"
	"reflect"
	"strings"
)

// Key is one key of a configuration file, for its reference: its dotted
// path ("sinks[].tls.ca_file"), the kind of value it takes and the value
// it has in the example given to Keys (its default, when the example is
// a config with its defaults set).
type Key struct {
	Path    string
	Type    string
	Default string
}

// Keys lists every key the YAML decoder accepts for v's type, in
// declaration order, with v's values as defaults. Nil pointers to structs
// are listed from their zero value.
func Keys(v any) []Key {
	var out []Key
	keys(reflect.ValueOf(v), "", "", &out)
	return out
}

func keys(v reflect.Value, path, sizeTag string, out *[]Key) {
	t := v.Type()
	for t.Kind() == reflect.Pointer {
		if v.IsNil() {
			v = reflect.Zero(t.Elem())
		} else {
			v = v.Elem()
		}
		t = v.Type()
	}
	switch {
	case t == durationType || t == reflect.TypeFor[Duration]():
		*out = append(*out, Key{Path: path, Type: "duration", Default: nonZero(v, func() string { return Duration(v.Int()).String() })})
		return
	case t == reflect.TypeFor[ByteSize]() || sizeTag == "bytes":
		*out = append(*out, Key{Path: path, Type: "size", Default: nonZero(v, func() string { return ByteSize(toUint(v)).String() })})
		return
	case custom(t):
		*out = append(*out, Key{Path: path, Type: "value", Default: nonZero(v, func() string { return fmt.Sprint(v.Interface()) })})
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		n := len(*out)
		defer func() {
			if len(*out) == n && path != "" {
				*out = append(*out, Key{Path: path, Type: "section, no settings"})
			}
		}()
		for i := range t.NumField() {
			f := t.Field(i)
			if f.PkgPath != "" && !f.Anonymous {
				continue
			}
			name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if name == "-" || f.Type.Kind() == reflect.Func {
				continue
			}
			if hasFlag(flags, "inline") {
				keys(v.Field(i), path, "", out)
				continue
			}
			if name == "" {
				name = strings.ToLower(f.Name)
			}
			keys(v.Field(i), join(path, name), f.Tag.Get("size"), out)
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Struct || t.Elem().Kind() == reflect.Pointer {
			elem := reflect.New(t.Elem()).Elem()
			if v.Len() > 0 {
				elem = v.Index(0)
			}
			keys(elem, path+"[]", "", out)
			return
		}
		*out = append(*out, Key{Path: path, Type: "list of " + kindName(t.Elem()), Default: nonZero(v, func() string { return fmt.Sprint(v.Interface()) })})
	case reflect.Map:
		*out = append(*out, Key{Path: path, Type: "map of " + kindName(t.Elem())})
	default:
		*out = append(*out, Key{Path: path, Type: kindName(t), Default: nonZero(v, func() string { return fmt.Sprint(v.Interface()) })})
	}
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "bool"
	case reflect.String:
		return "string"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	}
	return t.Kind().String()
}

func toUint(v reflect.Value) uint64 {
	if v.CanUint() {
		return v.Uint()
	}
	return uint64(max(v.Int(), 0))
}

func nonZero(v reflect.Value, format func() string) string {
	if v.IsZero() {
		return ""
	}
	return format()
}
