package schema

import "errors"

// Member is one member of a compact JSON object: its name as written
// between the quotes, and its value as written.
type Member struct{ Key, Value []byte }

var errNotCompact = errors.New("not a compact JSON object")

// SplitObject splits a compact JSON object (no whitespace between tokens,
// as the wire form and the stores' rows write it) into its members,
// without decoding them.
func SplitObject(b []byte) ([]Member, error) {
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, errNotCompact
	}
	var out []Member
	i := 1
	if b[i] == '}' {
		if i != len(b)-1 {
			return nil, errNotCompact
		}
		return out, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, errNotCompact
		}
		end, ok := SkipString(b, i)
		if !ok || end >= len(b) || b[end] != ':' {
			return nil, errNotCompact
		}
		key := b[i+1 : end-1]
		vs := end + 1
		ve, ok := SkipValue(b, vs)
		if !ok || ve >= len(b) {
			return nil, errNotCompact
		}
		out = append(out, Member{key, b[vs:ve]})
		switch b[ve] {
		case ',':
			i = ve + 1
		case '}':
			if ve != len(b)-1 {
				return nil, errNotCompact
			}
			return out, nil
		default:
			return nil, errNotCompact
		}
	}
}

// SkipString returns the index after the JSON string that starts at
// b[i], for code that walks compact JSON without decoding it.
func SkipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// SkipValue returns the index after the compact JSON value that starts
// at b[i].
func SkipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch b[i] {
	case '"':
		return SkipString(b, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				e, ok := SkipString(b, j)
				if !ok {
					return 0, false
				}
				j = e - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, true
				}
			}
		}
		return 0, false
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' {
		j++
	}
	if j == i {
		return 0, false
	}
	return j, true
}
