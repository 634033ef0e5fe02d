package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// AuthorityCredential is the authority of a sign-in with a local
// password, as user.signin records it.
const AuthorityCredential = "Credential"

// AccessToken is a content API bearer token, kept by the hash of its
// secret.
type AccessToken struct {
	// Hash is the secret's SHA-256, 64 hex; the secret itself is never
	// kept.
	Hash  string
	Email string
	// Scopes is the token's scope list, as the content API writes it.
	Scopes string
	// Device is the id (32 hex) of the app that holds the token.
	Device               string
	CreatedAt, ExpiresAt time.Time
	// Authority is who vouched for the user at the sign-in, as user.signin
	// records it: AuthorityLDAP, AuthorityOpenID, or empty for a local
	// password (AuthorityCredential). It is not kept.
	Authority string
}

// Session is a cookie session, kept by the hash of its id.
type Session struct {
	// IDHash is the session id's SHA-256, 64 hex.
	IDHash                        string
	Email                         string
	CreatedAt, LastSeen, ExpireAt time.Time
	// Authority is who vouched for the user at the sign-in, as
	// AccessToken's. It is not kept.
	Authority string
}

// IssueAccessToken stores a token that a user got by signing in, and
// records the sign-in (user.signin, with t's authority and the actor's
// ip), in one transaction.
func (s *Store) IssueAccessToken(ctx context.Context, a Actor, t AccessToken) error {
	if err := checkHash(t.Hash); err != nil {
		return err
	}
	email, err := checkEmail("user", t.Email)
	if err != nil {
		return err
	}
	if _, ok := normalizeID(t.Device); !ok {
		return &FieldError{Field: "device", Reason: "not a device id (32 hex digits)"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO access_tokens (token_hash, user_email, scopes, device_id, expires_at, created_at)
			VALUES (?, ?, ?, ?, ?, ?)`, t.Hash, email, t.Scopes, t.Device, t.ExpiresAt.UnixMilli(), t.CreatedAt.UnixMilli()); err != nil {
			return err
		}
		return s.signedIn(ctx, tx, a, email, t.Authority, t.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("issue access token for %s: %w", email, err)
	}
	return nil
}

// AccessToken returns the token whose hash is hash, expired or not, with
// its user's current level; ErrNotFound for none.
func (s *Store) AccessToken(ctx context.Context, hash string) (AccessToken, Level, error) {
	var (
		t                AccessToken
		level            string
		expires, created int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT t.token_hash, t.user_email, t.scopes, t.device_id, t.expires_at, t.created_at, u.level
		FROM access_tokens t JOIN users u ON u.email = t.user_email WHERE t.token_hash = ?`, hash).
		Scan(&t.Hash, &t.Email, &t.Scopes, &t.Device, &expires, &created, &level)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return AccessToken{}, "", ErrNotFound
	case err != nil:
		return AccessToken{}, "", fmt.Errorf("look up access token: %w", err)
	}
	t.ExpiresAt, t.CreatedAt = fromMillis(expires), fromMillis(created)
	return t, Level(level), nil
}

// DeleteAccessToken ends a token: signing out. An unknown one is no
// error.
func (s *Store) DeleteAccessToken(ctx context.Context, hash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM access_tokens WHERE token_hash = ?`, hash); err != nil {
		return fmt.Errorf("delete access token: %w", err)
	}
	return nil
}

// CreateSession stores a cookie session that a user got by signing in,
// and records the sign-in (user.signin, with ss's authority and the
// actor's ip), in one transaction.
func (s *Store) CreateSession(ctx context.Context, a Actor, ss Session) error {
	if err := checkHash(ss.IDHash); err != nil {
		return err
	}
	email, err := checkEmail("user", ss.Email)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_email, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?)`,
			ss.IDHash, email, ss.CreatedAt.UnixMilli(), ss.LastSeen.UnixMilli(), ss.ExpireAt.UnixMilli()); err != nil {
			return err
		}
		return s.signedIn(ctx, tx, a, email, ss.Authority, ss.CreatedAt)
	})
	if err != nil {
		return fmt.Errorf("create session for %s: %w", email, err)
	}
	return nil
}

// Session returns the session whose id hash is idHash; ErrNotFound for
// none.
func (s *Store) Session(ctx context.Context, idHash string) (Session, error) {
	var (
		ss                     Session
		created, seen, expires int64
	)
	err := s.db.QueryRowContext(ctx, `SELECT id_hash, user_email, created_at, last_seen, expires_at FROM sessions WHERE id_hash = ?`, idHash).
		Scan(&ss.IDHash, &ss.Email, &created, &seen, &expires)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return Session{}, ErrNotFound
	case err != nil:
		return Session{}, fmt.Errorf("look up session: %w", err)
	}
	ss.CreatedAt, ss.LastSeen, ss.ExpireAt = fromMillis(created), fromMillis(seen), fromMillis(expires)
	return ss, nil
}

// TouchSession records a session's use at at; an unknown one is no
// error.
func (s *Store) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id_hash = ?`, at.UnixMilli(), idHash); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession ends a session: signing out. An unknown one is no error.
func (s *Store) DeleteSession(ctx context.Context, idHash string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// SignOutEverywhere ends every session and access token of email.
func (s *Store) SignOutEverywhere(ctx context.Context, email string) error {
	if err := s.db.InTx(ctx, func(tx *metadb.Tx) error { return endAll(ctx, tx, email) }); err != nil {
		return fmt.Errorf("sign %s out everywhere: %w", email, err)
	}
	return nil
}

// SignInFailed records a refused sign-in as user (user.password.error,
// with the actor's ip, and rate_limited when the limiter refused it
// before the password was checked).
func (s *Store) SignInFailed(ctx context.Context, a Actor, user string, rateLimited bool) error {
	email, err := checkEmail("user", user)
	if err != nil {
		return err
	}
	fields := a.signinFields(schema.Fields{"user": email})
	if rateLimited {
		fields["rate_limited"] = true
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		return s.audit(ctx, tx, "user.password.error", s.timestamp(), fields)
	})
	if err != nil {
		return fmt.Errorf("record failed sign-in of %s: %w", email, err)
	}
	return nil
}

// signedIn writes the user.signin event of a sign-in that authority
// vouched for (empty: a local password).
func (s *Store) signedIn(ctx context.Context, tx *metadb.Tx, a Actor, email, authority string, at time.Time) error {
	if authority == "" {
		authority = AuthorityCredential
	}
	return s.audit(ctx, tx, "user.signin", at.UTC().Truncate(time.Millisecond),
		a.signinFields(schema.Fields{"user": email, "authority": authority}))
}

// endAll deletes every session and access token of email, in tx.
func endAll(ctx context.Context, tx *metadb.Tx, email string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_email = ?`, email); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM access_tokens WHERE user_email = ?`, email)
	return err
}

// checkHash accepts a secret's stored form: its SHA-256 as 64 lower-case
// hex.
func checkHash(h string) error {
	if len(h) != 64 || !isLowerHex(h) {
		return &FieldError{Field: "hash", Reason: "not a SHA-256 in hex"}
	}
	return nil
}
