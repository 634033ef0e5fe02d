package tree

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
)

// RootOID is the object id of a store's root folder.
const RootOID = "00000000000000000000000000000000"

// ID is a file or folder: its store and its object in the store.
type ID struct {
	SID, OID string
}

// String is the id as the API writes it: SID followed by OID, 64 hex.
func (id ID) String() string { return id.SID + id.OID }

// IsZero reports whether id is unset.
func (id ID) IsZero() bool { return id.SID == "" && id.OID == "" }

// IsRoot reports whether id is a store's root folder.
func (id ID) IsRoot() bool { return id.OID == RootOID }

// The aliases a Ref may name.
const (
	AliasRoot    = "root"
	AliasAppData = "appdata"
)

// Ref is what a path or body names: an alias, a store (its root
// folder), or an object.
type Ref struct {
	// Alias is AliasRoot or AliasAppData, or "".
	Alias string
	// ID is the object; for a bare SID its root folder.
	ID ID
}

// ErrBadID rejects a reference that is none of the forms ParseRef reads.
var ErrBadID = errors.New("not an id: want root, appdata, a 32-hex store id or a 64-hex object id")

// ParseRef reads a reference: "root", "appdata" (in any case), a store
// id (32 hex: its root folder) or an object id (64 hex: SID then OID).
// Hex is read in any case and kept lower-cased.
func ParseRef(s string) (Ref, error) {
	switch strings.ToLower(s) {
	case AliasRoot:
		return Ref{Alias: AliasRoot}, nil
	case AliasAppData:
		return Ref{Alias: AliasAppData}, nil
	}
	if !isHex(s) {
		return Ref{}, ErrBadID
	}
	s = strings.ToLower(s)
	switch len(s) {
	case 32:
		return Ref{ID: ID{SID: s, OID: RootOID}}, nil
	case 64:
		return Ref{ID: ID{SID: s[:32], OID: s[32:]}}, nil
	}
	return Ref{}, ErrBadID
}

// newHexID returns 16 random bytes in lower-case hex.
func newHexID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	return hex.EncodeToString(b)
}

// newOID returns a fresh object id, never the root's.
func newOID() string {
	for {
		if id := newHexID(); id != RootOID {
			return id
		}
	}
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return false
		}
	}
	return true
}
