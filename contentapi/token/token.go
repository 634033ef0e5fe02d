// Package token makes and checks the content API's opaque secrets: API
// bearer tokens, session ids, authorization codes, refresh tokens,
// signup codes and password-reset tokens. Each is 32 lower-case hex (16
// bytes from crypto/rand), the form CONTENT-API.md gives tokens.
//
// The accounts work uses it so: New makes the secret, which is handed
// out once (in a response, a cookie or an email) and never stored or
// logged; Hash is what goes into the database, as its lookup key; a
// presented secret is checked with Valid (its form, before any lookup)
// and found by its Hash. Where a row is fetched by another key and the
// stored hash must be compared, Match compares in constant time.
package token

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Len is the length of a token: 32 hex digits.
const Len = 32

// New returns a fresh token: 16 random bytes as 32 lower-case hex.
func New() string {
	var b [Len / 2]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// Valid says whether s has a token's form: 32 lower-case hex digits.
func Valid(s string) bool {
	if len(s) != Len {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Hash is the stored form of a token: its SHA-256 as 64 lower-case hex.
// A token has 128 random bits, so a fast hash is enough: the database
// never holds a secret that works as a credential.
func Hash(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// Match says, in constant time, whether tok is the token whose Hash is
// stored.
func Match(tok, stored string) bool {
	return subtle.ConstantTimeCompare([]byte(Hash(tok)), []byte(stored)) == 1
}
