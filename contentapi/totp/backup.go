package totp

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
)

// Backup codes: BackupCount codes of BackupLen characters from a
// 32-letter alphabet without look-alikes (50 bits each), shown as
// "xxxxx-xxxxx".
const (
	BackupCount = 10
	BackupLen   = 10
	// alphabet is Crockford's base32, lower-case: no i, l, o or u.
	alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
)

// NewBackupCodes returns BackupCount fresh codes to show the user once,
// and their hashes to store (hashes[i] is codes[i]'s).
func NewBackupCodes() (codes, hashes []string) {
	for range BackupCount {
		var b [BackupLen]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		for i := range b {
			b[i] = alphabet[b[i]&31]
		}
		c := string(b[:5]) + "-" + string(b[5:])
		codes = append(codes, c)
		h, _ := HashBackupCode(c)
		hashes = append(hashes, h)
	}
	return codes, hashes
}

// NormalizeBackupCode reads a code as a user may type it: any case,
// with spaces or dashes, o for 0 and i or l for 1. It says false for
// anything else.
func NormalizeBackupCode(s string) (string, bool) {
	if len(s) > 4*BackupLen {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		switch c {
		case ' ', '-':
			continue
		case 'o':
			c = '0'
		case 'i', 'l':
			c = '1'
		}
		if strings.IndexByte(alphabet, c) < 0 {
			return "", false
		}
		b.WriteByte(c)
	}
	if b.Len() != BackupLen {
		return "", false
	}
	return b.String(), true
}

// HashBackupCode is the stored form of a code: the SHA-256 of its
// normalized form, 64 hex. It says false for a malformed code.
func HashBackupCode(code string) (string, bool) {
	n, ok := NormalizeBackupCode(code)
	if !ok {
		return "", false
	}
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:]), true
}

// MatchBackupCode returns the index of code's hash among the stored
// hashes, comparing with every one in constant time, or -1. The caller
// deletes hashes[i], so that each code works once.
func MatchBackupCode(code string, hashes []string) int {
	h, ok := HashBackupCode(code)
	if !ok {
		return -1
	}
	found := -1
	for i, s := range hashes {
		if subtle.ConstantTimeCompare([]byte(h), []byte(s)) == 1 && found < 0 {
			found = i
		}
	}
	return found
}
