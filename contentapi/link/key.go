package link

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
)

// KeyBytes is the randomness of a key: 128 bits.
const KeyBytes = 16

// ErrBadKey rejects a string that is not a key.
var ErrBadKey = errors.New("not a link key: want 32 hex digits")

// NewKey returns a fresh key: KeyBytes from crypto/rand, 32 lower-case
// hex, the form of the API's other identifiers.
func NewKey() string {
	b := make([]byte, KeyBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails; it crashes the program instead
	return hex.EncodeToString(b)
}

// ParseKey reads a key as a URL or a body carries it: 32 hex digits in
// any case, returned lower-cased.
func ParseKey(s string) (string, error) {
	if len(s) != 2*KeyBytes {
		return "", ErrBadKey
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') && (c < 'A' || c > 'F') {
			return "", ErrBadKey
		}
	}
	return strings.ToLower(s), nil
}
