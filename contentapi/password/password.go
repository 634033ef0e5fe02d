package password

import (
	"crypto/rand"
	"crypto/subtle"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes passwords at one cost.
type Hasher struct {
	p Params
}

// New returns a Hasher of cfg, which has its defaults set and passed
// Validate.
func New(cfg Config) *Hasher { return &Hasher{p: cfg.params()} }

// Params is the cost of h's hashes.
func (h *Hasher) Params() Params { return h.p }

// Hash returns the PHC string of password with a fresh 16-byte salt.
func (h *Hasher) Hash(password string) string {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	key := argon2.IDKey([]byte(password), salt, h.p.Iterations, h.p.Memory, h.p.Parallelism, keyLen)
	return Hashed{Params: h.p, Salt: salt, Key: key}.String()
}

// Verify says whether password is the one stored as the PHC string
// stored, comparing the keys in constant time. A stored string that does
// not parse is an error.
func Verify(password, stored string) (bool, error) {
	h, err := Parse(stored)
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	key := argon2.IDKey([]byte(password), h.Salt, h.Iterations, h.Memory, h.Parallelism, uint32(len(h.Key)))
	return subtle.ConstantTimeCompare(key, h.Key) == 1, nil
}

// NeedsRehash says whether stored was made at another cost than h's, or
// with another salt or key length, or does not parse: after a successful
// sign-in, store a fresh Hash.
func (h *Hasher) NeedsRehash(stored string) bool {
	p, err := Parse(stored)
	return err != nil || p.Params != h.p || len(p.Salt) != saltLen || len(p.Key) != keyLen
}
