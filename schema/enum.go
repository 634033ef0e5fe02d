package schema

// enum is a closed set of values, matched ignoring letter case and the
// separators that emitters put in them (spaces, '_', '-', '#'), and
// emitted in one spelling.
type enum struct {
	name   string
	values []string       // canonical spellings, in canonical order
	index  map[string]int // fold(value) -> position in values
}

func newEnum(name string, values ...string) *enum {
	e := &enum{name: name, values: values, index: make(map[string]int, len(values))}
	for i, v := range values {
		e.index[fold(v)] = i
	}
	return e
}

// match returns the position of s in e.values.
func (e *enum) match(s string) (int, bool) {
	if len(s) <= 32 {
		// Fold on the stack: the map lookup of string(b) does not copy.
		var buf [32]byte
		b := foldTo(buf[:0], s)
		i, ok := e.index[string(b)]
		return i, ok
	}
	i, ok := e.index[fold(s)]
	return i, ok
}

func foldTo(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b = append(b, c+'a'-'A')
		case c == ' ' || c == '_' || c == '-' || c == '#':
		default:
			b = append(b, c)
		}
	}
	return b
}

// fold lower-cases ASCII letters and drops separators. It allocates only
// when s is not already folded.
func fold(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c == ' ' || c == '_' || c == '-' || c == '#' {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	return string(foldTo(make([]byte, 0, len(s)), s))
}

// The enumerations of the catalog, spelled as EVENT-NAMES.md emits them.
var (
	enumOperations = newEnum("operation", "CREATE", "MODIFY", "MOVE", "DELETE", "META_REQUEST", "CONTENT_REQUEST", "CONTENT_COMPLETED")
	enumDeviceType = newEnum("device type", "Desktop Client", "Team Server", "Mobile App", "API Client", "Storage Agent")
	enumAuthority  = newEnum("authority", "Credential", "LDAP", "OpenID")
	enumOrgLevel   = newEnum("organization level", "USER", "ADMIN")
	enum2FALevel   = newEnum("two-factor level", "DISALLOWED", "OPT_IN", "MANDATORY")
	enumJoinAs     = newEnum("join_as", "internal", "external")
	enumRole       = newEnum("role", "MANAGE", "WRITE")
)

// enumOf returns the enumeration of an enum-typed field type, or nil.
func enumOf(t Type) *enum {
	switch t {
	case TypeDeviceType:
		return enumDeviceType
	case TypeAuthority:
		return enumAuthority
	case TypeOrgLevel:
		return enumOrgLevel
	case Type2FALevel:
		return enum2FALevel
	case TypeJoinAs:
		return enumJoinAs
	}
	return nil
}
