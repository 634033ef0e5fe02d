package contentapi

import (
	"fmt"
	"slices"
	"strings"
)

// The scopes of a content API token.
const (
	ScopeFilesRead      = "files.read"
	ScopeFilesWrite     = "files.write"
	ScopeFilesAppData   = "files.appdata"
	ScopeACLRead        = "acl.read"
	ScopeACLWrite       = "acl.write"
	ScopeACLInvitations = "acl.invitations"
	ScopeUserRead       = "user.read"
	ScopeUserWrite      = "user.write"
	ScopeUserPassword   = "user.password"
	ScopeOrgAdmin       = "organization.admin"
	ScopeLinkSharing    = "linksharing"
	ScopeGroupsRead     = "groups.read"
)

// scopeNames lists every scope; the first four may be qualified with an
// object id.
var scopeNames = []string{
	ScopeFilesRead, ScopeFilesWrite, ScopeFilesAppData, ScopeACLRead,
	ScopeACLWrite, ScopeACLInvitations, ScopeUserRead, ScopeUserWrite,
	ScopeUserPassword, ScopeOrgAdmin, ScopeLinkSharing, ScopeGroupsRead,
}

// qualifiable says whether a scope may be restricted to an object.
func qualifiable(name string) bool {
	i := slices.Index(scopeNames, name)
	return i >= 0 && i < 4
}

// Scope is one scope of a token: its name, and the object (a store id,
// 32 hex, or a file or folder id, 64 hex) whose subtree it is restricted
// to; "" for none.
type Scope struct {
	Name, Object string
}

func (s Scope) String() string {
	if s.Object == "" {
		return s.Name
	}
	return s.Name + ":" + s.Object
}

// Scopes are a token's scopes, sorted, without duplicates.
type Scopes []Scope

// ParseScopes reads a scope list: names separated by commas (or
// spaces, as OAuth 2.0 clients send them), each of the first four
// optionally qualified, "files.read:<id>". Ids are lower-cased. An
// unknown name, a qualifier on a scope that takes none, or an id that is
// not 32 or 64 hex is an error.
func ParseScopes(s string) (Scopes, error) {
	var out Scopes
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		name, obj, qualified := strings.Cut(item, ":")
		if !slices.Contains(scopeNames, name) {
			return nil, fmt.Errorf("unknown scope %q", item)
		}
		if qualified {
			if !qualifiable(name) {
				return nil, fmt.Errorf("scope %s takes no object", name)
			}
			obj = strings.ToLower(obj)
			if (len(obj) != 32 && len(obj) != 64) || !isHex(obj) {
				return nil, fmt.Errorf("scope %s: object %q is not a 32 or 64 hex id", name, obj)
			}
		}
		out = append(out, Scope{Name: name, Object: obj})
	}
	slices.SortFunc(out, func(a, b Scope) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.Object, b.Object)
	})
	return slices.Compact(out), nil
}

// String is the list in ParseScopes' form, comma-separated.
func (ss Scopes) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// Has says whether the token has the scope at all, restricted or not:
// what a route asks before its handler runs.
func (ss Scopes) Has(name string) bool {
	for _, s := range ss {
		if s.Name == name {
			return true
		}
	}
	return false
}

// Permits says whether the scope lets the token act on object (a 64-hex
// file or folder id, or a 32-hex store id), given the ids of the
// object's ancestors: an unrestricted scope permits everything; a
// restricted one permits its object, whatever lies below it (an
// ancestor is its object), and, for a store id, everything in that
// store.
func (ss Scopes) Permits(name, object string, ancestors ...string) bool {
	for _, s := range ss {
		if s.Name != name {
			continue
		}
		switch {
		case s.Object == "", s.Object == object, slices.Contains(ancestors, s.Object):
			return true
		case len(s.Object) == 32 && strings.HasPrefix(object, s.Object):
			return true
		}
	}
	return false
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
