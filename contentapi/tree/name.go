package tree

import (
	"strings"
	"unicode/utf8"
)

// MaxNameBytes bounds a file or folder name, in bytes.
const MaxNameBytes = 255

// NameError rejects a name: Field is the body's field ("name"), Reason
// says why.
type NameError struct {
	Field, Reason string
}

func (e *NameError) Error() string { return "invalid " + e.Field + ": " + e.Reason }

// CheckName checks a file or folder name: valid UTF-8, not empty, at
// most MaxNameBytes bytes, no "/" and no NUL, not "." or "..".
func CheckName(name string) error {
	bad := func(reason string) error { return &NameError{Field: "name", Reason: reason} }
	switch {
	case name == "":
		return bad("empty")
	case !utf8.ValidString(name):
		return bad("not valid UTF-8")
	case len(name) > MaxNameBytes:
		return bad("longer than 255 bytes")
	case strings.ContainsRune(name, '/'):
		return bad(`holds a path separator "/"`)
	case strings.ContainsRune(name, 0):
		return bad("holds a NUL character")
	case name == "." || name == "..":
		return bad(`"." and ".." are not names`)
	}
	return nil
}
