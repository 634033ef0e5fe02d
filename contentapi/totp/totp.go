// Package totp is two-factor authentication: time-based one-time
// passwords (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps, one step
// of skew either way) and single-use backup codes.
//
// It is hand-written (RFC 4226's dynamic truncation is a few lines)
// rather than a library, so that it adds no dependency and its only
// behaviour is the one authenticator apps implement, checked against
// RFC 6238's test vectors.
//
// The accounts work uses it so. Enabling: NewSecret, store it (it is a
// secret: never logged), show URI as a QR code and EncodeSecret for
// typing, and turn 2FA on only once the user has sent one code that
// Verify accepts. Signing in: Verify(secret, code, now, last) where last
// is the step of the user's last accepted code (0 for none); on success
// store the returned step as the new last, in the same update that
// accepts the sign-in, so a code cannot be used twice. Count attempts
// with a ratelimit.Limiter keyed by the user. Backup codes: NewBackupCodes
// when 2FA is enabled (show the codes once, store the hashes); a code
// that is not a TOTP code is tried with MatchBackupCode, and the matched
// hash is deleted.
package totp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The parameters every authenticator app supports.
const (
	Digits    = 6
	Period    = 30 * time.Second
	Skew      = 1
	secretLen = 20 // RFC 4226's recommended 160 bits
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewSecret returns a fresh 20-byte secret.
func NewSecret() []byte {
	s := make([]byte, secretLen)
	_, _ = rand.Read(s) // crypto/rand.Read never fails
	return s
}

// EncodeSecret is the secret as apps take it typed in: upper-case
// base32 without padding.
func EncodeSecret(secret []byte) string { return b32.EncodeToString(secret) }

var errSecret = errors.New("invalid totp secret")

// DecodeSecret reads a secret as EncodeSecret writes it, also in lower
// case, with spaces or padding. It must decode to 10 to 64 bytes.
func DecodeSecret(s string) ([]byte, error) {
	s = strings.TrimRight(strings.ToUpper(strings.ReplaceAll(s, " ", "")), "=")
	b, err := b32.DecodeString(s)
	if err != nil || len(b) < 10 || len(b) > 64 || strings.ContainsAny(s, "\r\n") {
		return nil, errSecret
	}
	return b, nil
}

// Step is the time step t falls in: seconds since the Unix epoch over 30.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code is the 6-digit code of a step.
func Code(secret []byte, step int64) string { return hotp(secret, step, Digits) }

// hotp is RFC 4226's HOTP of counter with the given number of digits.
func hotp(secret []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	s := strconv.FormatUint(uint64(bin%mod), 10)
	return strings.Repeat("0", digits-len(s)) + s
}

// Verify checks a code a user typed (spaces ignored) against the steps
// around now (one either way) that are later than last, the step of the
// last code accepted (0 for none). It returns the matched step, to be
// stored as the new last.
func Verify(secret []byte, code string, now time.Time, last int64) (step int64, ok bool) {
	code = strings.ReplaceAll(code, " ", "")
	if len(code) != Digits || strings.Trim(code, "0123456789") != "" {
		return 0, false
	}
	cur := Step(now)
	for s := cur - Skew; s <= cur+Skew; s++ {
		// Every step is computed and compared, matched or not.
		match := subtle.ConstantTimeCompare([]byte(Code(secret, s)), []byte(code)) == 1
		if match && s > last && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}

// escapeLabel escapes a part of the label, a colon too.
func escapeLabel(s string) string { return strings.ReplaceAll(url.PathEscape(s), ":", "%3A") }

// URI is the otpauth:// URI that authenticator apps read from a QR code:
// the label "issuer:account", and the secret, issuer and parameters.
func URI(issuer, account string, secret []byte) string {
	q := url.Values{}
	q.Set("secret", EncodeSecret(secret))
	q.Set("issuer", issuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", strconv.Itoa(Digits))
	q.Set("period", strconv.Itoa(int(Period/time.Second)))
	label := escapeLabel(issuer) + ":" + escapeLabel(account)
	return "otpauth://totp/" + label + "?" + q.Encode()
}
