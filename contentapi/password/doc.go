// Package password hashes local account passwords with argon2id and
// checks them.
//
// The accounts work uses it so: build one Hasher from the configured
// Config (content.password) at start; on sign-up, password change and
// reset store Hasher.Hash's PHC string; on sign-in call Verify with the
// stored string, and after a match ask NeedsRehash and, when it says so,
// store a fresh Hash of the password just checked, so that a raised cost
// reaches every account as its user signs in. A stored string that does
// not parse is an error (a server problem), never a mismatch. Neither
// the password nor the hash is ever logged or put in an error.
package password
