package config

import (
	"reflect"
	"strings"
)

// A section that chooses a kind ("log: {file: ...}" or "{kafka: ...}")
// is a struct whose kinds are its pointer-to-struct fields, each named by
// its yaml key; which one is set chooses the kind.

// Kind returns the key of the one kind set in section (a struct or a
// pointer to one), or "" when none or several are set.
func Kind(section any) string {
	set, _ := kinds(section)
	if len(set) != 1 {
		return ""
	}
	return set[0].key
}

// OneKind records a problem unless exactly one kind of section is set,
// and the problems of each kind that is set (its Validate method), under
// its key.
func (p *Problems) OneKind(section any) {
	set, all := kinds(section)
	if len(set) != 1 {
		p.Add("", "exactly one of %s must be set, got %d", strings.Join(all, ", "), len(set))
	}
	for _, k := range set {
		if v, ok := k.value.(interface{ Validate() error }); ok {
			p.Nest(k.key, v.Validate())
		}
	}
}

type kindField struct {
	key   string
	value any
}

// kinds returns the kinds set in section and the keys of all of them, in
// declaration order.
func kinds(section any) (set []kindField, all []string) {
	v := reflect.ValueOf(section)
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil, nil
		}
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if f.PkgPath != "" || f.Type.Kind() != reflect.Pointer || f.Type.Elem().Kind() != reflect.Struct {
			continue
		}
		name, flags, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || hasFlag(flags, "inline") || custom(f.Type.Elem()) {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		all = append(all, name)
		if fv := v.Field(i); !fv.IsNil() {
			set = append(set, kindField{key: name, value: fv.Interface()})
		}
	}
	return set, all
}
