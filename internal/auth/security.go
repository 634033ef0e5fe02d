package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Account security: the mail outbox, password change and reset by a
// mailed token, and two-factor authentication (a TOTP secret, its
// single-use backup codes, and the organization's enforcement level).
// Each change writes its USER or ORG event in its own transaction.

// ErrRefused refuses a one-time secret: a password reset token or a
// second-factor code that is unknown, expired or already used.
var ErrRefused = errors.New("refused")

// The organization's two-factor enforcement levels, as org.2fa.level
// records them.
const (
	TwoFactorDisallowed = "DISALLOWED"
	TwoFactorOptIn      = "OPT_IN"
	TwoFactorMandatory  = "MANDATORY"
)

// securityMigrations are the schema's versions of component "security",
// applied after "devices": migrations[i] takes it from version i to
// i+1. Append only.
var securityMigrations = []metadb.Migration{
	// 1: the mail outbox; password reset tokens (by their SHA-256);
	// each user's TOTP secret (enabled once a first code confirmed it)
	// with the step of the last code accepted; backup codes (by their
	// SHA-256); the organization's settings.
	{
		SQLite: `CREATE TABLE mail_outbox (
		id              INTEGER PRIMARY KEY AUTOINCREMENT,
		to_addr         TEXT NOT NULL,
		subject         TEXT NOT NULL,
		body            TEXT NOT NULL,
		created_at      INTEGER NOT NULL,
		sent_at         INTEGER,
		attempts        INTEGER NOT NULL DEFAULT 0,
		next_attempt_at INTEGER NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT ''
	) STRICT;
	CREATE INDEX mail_outbox_pending ON mail_outbox (sent_at, next_attempt_at);
	CREATE TABLE password_resets (
		token_hash TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		used_at    INTEGER
	) STRICT;
	CREATE INDEX password_resets_user ON password_resets (user_email);
	CREATE TABLE two_factor (
		user_email TEXT PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE,
		secret     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		enabled_at INTEGER,
		last_step  INTEGER NOT NULL DEFAULT 0
	) STRICT;
	CREATE TABLE backup_codes (
		user_email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
		code_hash  TEXT NOT NULL,
		PRIMARY KEY (user_email, code_hash)
	) STRICT;
	CREATE TABLE org_settings (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	) STRICT;`,
		Postgres: `CREATE TABLE mail_outbox (
		id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		to_addr         TEXT NOT NULL,
		subject         TEXT NOT NULL,
		body            TEXT NOT NULL,
		created_at      BIGINT NOT NULL,
		sent_at         BIGINT,
		attempts        BIGINT NOT NULL DEFAULT 0,
		next_attempt_at BIGINT NOT NULL DEFAULT 0,
		last_error      TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX mail_outbox_pending ON mail_outbox (sent_at, next_attempt_at);
	CREATE TABLE password_resets (
		token_hash TEXT PRIMARY KEY,
		user_email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
		created_at BIGINT NOT NULL,
		expires_at BIGINT NOT NULL,
		used_at    BIGINT
	);
	CREATE INDEX password_resets_user ON password_resets (user_email);
	CREATE TABLE two_factor (
		user_email TEXT PRIMARY KEY REFERENCES users (email) ON DELETE CASCADE,
		secret     TEXT NOT NULL,
		created_at BIGINT NOT NULL,
		enabled_at BIGINT,
		last_step  BIGINT NOT NULL DEFAULT 0
	);
	CREATE TABLE backup_codes (
		user_email TEXT NOT NULL REFERENCES users (email) ON DELETE CASCADE,
		code_hash  TEXT NOT NULL,
		PRIMARY KEY (user_email, code_hash)
	);
	CREATE TABLE org_settings (
		name  TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	},
}

// securityComponent is account security's schema for the migration
// runner.
var securityComponent = metadb.Component{Name: "security", Migrations: securityMigrations}

// migrateSecurity brings the security component to its newest version.
func (s *Store) migrateSecurity(ctx context.Context) error {
	return s.db.Migrate(ctx, securityComponent)
}

// Mail is a message of the mail outbox.
type Mail struct {
	ID        int64      `json:"id"`
	To        string     `json:"to"`
	Subject   string     `json:"subject"`
	Body      string     `json:"body"`
	CreatedAt time.Time  `json:"created_at"`
	SentAt    *time.Time `json:"sent_at"`
	// Attempts counts failed deliveries; LastError is the last one's
	// reason.
	Attempts  int    `json:"attempts"`
	LastError string `json:"last_error,omitempty"`
}

// queueMail writes m into the mail outbox within tx, so that a mail
// goes out only with the change that wrote it.
func queueMail(ctx context.Context, tx *metadb.Tx, m Mail) error {
	to, err := checkEmail("to", m.To)
	if err != nil {
		return err
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return &FieldError{Field: "subject", Reason: "must be one line"}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO mail_outbox (to_addr, subject, body, created_at) VALUES (?, ?, ?, ?)`,
		to, m.Subject, m.Body, m.CreatedAt.UnixMilli())
	if err != nil {
		return fmt.Errorf("queue mail: %w", err)
	}
	return nil
}

const mailColumns = `id, to_addr, subject, body, created_at, sent_at, attempts, last_error`

func scanMail(row rowScanner) (Mail, error) {
	var (
		m       Mail
		created int64
		sent    sql.NullInt64
	)
	if err := row.Scan(&m.ID, &m.To, &m.Subject, &m.Body, &created, &sent, &m.Attempts, &m.LastError); err != nil {
		return Mail{}, err
	}
	m.CreatedAt, m.SentAt = fromMillis(created), optMillis(sent)
	return m, nil
}

func (s *Store) queryMail(ctx context.Context, query string, args ...any) ([]Mail, error) {
	return queryAll(ctx, s.db, scanMail, `SELECT `+mailColumns+` FROM mail_outbox `+query, args...)
}

// ListMail returns the mail outbox, sent or not, oldest first.
func (s *Store) ListMail(ctx context.Context) ([]Mail, error) {
	ms, err := s.queryMail(ctx, `ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	return ms, nil
}

// PendingMail returns at most limit unsent messages due at now (their
// next attempt not later), oldest first.
func (s *Store) PendingMail(ctx context.Context, now time.Time, limit int) ([]Mail, error) {
	ms, err := s.queryMail(ctx, `WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("read pending mail: %w", err)
	}
	return ms, nil
}

// MailSent marks a message sent at at.
func (s *Store) MailSent(ctx context.Context, id int64, at time.Time) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE mail_outbox SET sent_at = ?, last_error = '' WHERE id = ?`, at.UnixMilli(), id); err != nil {
		return fmt.Errorf("mark mail %d sent: %w", id, err)
	}
	return nil
}

// MailFailed records a failed delivery of a message and when to try it
// again. reason must hold no secret.
func (s *Store) MailFailed(ctx context.Context, id int64, next time.Time, reason string) error {
	if len(reason) > 500 {
		reason = reason[:500]
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?`,
		next.UnixMilli(), reason, id); err != nil {
		return fmt.Errorf("record failed mail %d: %w", id, err)
	}
	return nil
}

// RequestPasswordReset stores a reset token of email's, kept by its
// hash (64 hex) and valid until expires, and queues m, the mail that
// carries it, with user.password.reset.request (a's caller), in one
// transaction. An unknown user is ErrNotFound, and one an external
// authority provisioned ErrExternalAccount; nothing is written for them.
func (s *Store) RequestPasswordReset(ctx context.Context, a Actor, email, hash string, expires time.Time, m Mail) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	if email, err = checkEmail("user", email); err != nil {
		return err
	}
	if err := checkHash(hash); err != nil {
		return err
	}
	now := s.timestamp()
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		switch found, err := exists(ctx, tx, `SELECT 1 FROM users WHERE email = ?`, email); {
		case err != nil:
			return err
		case !found:
			return ErrNotFound
		}
		if err := refuseExternal(ctx, tx, email); err != nil {
			return err
		}
		// Forget this user's spent and expired tokens.
		if _, err := tx.ExecContext(ctx, `DELETE FROM password_resets WHERE user_email = ? AND (used_at IS NOT NULL OR expires_at <= ?)`,
			email, now.UnixMilli()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO password_resets (token_hash, user_email, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hash, email, now.UnixMilli(), expires.UnixMilli()); err != nil {
			return err
		}
		m.To, m.CreatedAt = email, now
		if err := queueMail(ctx, tx, m); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.password.reset.request", now, schema.Fields{"user": email, "caller": caller})
	})
	if err != nil {
		return fmt.Errorf("request password reset of %s: %w", email, err)
	}
	return nil
}

// ResetPassword spends the reset token whose hash is hash: it sets its
// user's password to newHash, ends every session and access token of
// theirs, and records user.password.reset, in one transaction. A token
// that is unknown, used or expired at now is ErrRefused; one of a user an
// external authority provisioned since is ErrExternalAccount. It returns
// the user.
func (s *Store) ResetPassword(ctx context.Context, hash, newHash string, now time.Time) (string, error) {
	if newHash == "" {
		return "", &FieldError{Field: "password", Reason: "required"}
	}
	var email string
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := execOne(ctx, tx, ErrRefused, `UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?`,
			now.UnixMilli(), hash, now.UnixMilli()); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT user_email FROM password_resets WHERE token_hash = ?`, hash).Scan(&email); err != nil {
			return err
		}
		if err := refuseExternal(ctx, tx, email); err != nil {
			return err
		}
		if err := updateOne(ctx, tx, `UPDATE users SET password_hash = ? WHERE email = ?`, newHash, email); err != nil {
			return err
		}
		if err := endAll(ctx, tx, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.password.reset", now, schema.Fields{"user": email})
	})
	if err != nil {
		return "", fmt.Errorf("reset password: %w", err)
	}
	return email, nil
}

// ChangePassword sets the password of a user who proved the current
// one (user.password.change). Their sessions and tokens stay. A user an
// external authority provisioned is ErrExternalAccount.
func (s *Store) ChangePassword(ctx context.Context, email, newHash string) error {
	email, err := checkEmail("user", email)
	if err != nil {
		return err
	}
	if newHash == "" {
		return &FieldError{Field: "password", Reason: "required"}
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		if err := refuseExternal(ctx, tx, email); err != nil {
			return err
		}
		if err := updateOne(ctx, tx, `UPDATE users SET password_hash = ? WHERE email = ?`, newHash, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.password.change", s.timestamp(), schema.Fields{"user": email})
	})
	if err != nil {
		return fmt.Errorf("change password of %s: %w", email, err)
	}
	return nil
}

// TwoFactor is a user's two-factor state. Secret is the TOTP secret in
// base32: a secret, never logged.
type TwoFactor struct {
	Secret string
	// Enabled says that a first code confirmed the secret; before, the
	// user is setting it up and sign-in asks no code.
	Enabled  bool
	LastStep int64
	// BackupCodes is how many unused backup codes are left.
	BackupCodes int
}

// TwoFactor returns email's two-factor state; ErrNotFound for a user
// who never began setting it up.
func (s *Store) TwoFactor(ctx context.Context, email string) (TwoFactor, error) {
	email, err := checkEmail("user", email)
	if err != nil {
		return TwoFactor{}, err
	}
	var (
		tf      TwoFactor
		enabled sql.NullInt64
	)
	err = s.db.QueryRowContext(ctx, `SELECT secret, enabled_at, last_step, (SELECT COUNT(*) FROM backup_codes b WHERE b.user_email = t.user_email)
		FROM two_factor t WHERE user_email = ?`, email).Scan(&tf.Secret, &enabled, &tf.LastStep, &tf.BackupCodes)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return TwoFactor{}, fmt.Errorf("two-factor of %s: %w", email, ErrNotFound)
	case err != nil:
		return TwoFactor{}, fmt.Errorf("two-factor of %s: %w", email, err)
	}
	tf.Enabled = enabled.Valid
	return tf, nil
}

// BeginTwoFactor stores a new TOTP secret (base32) and backup code
// hashes for email, replacing a setup not yet confirmed. A user whose
// two-factor is enabled is ErrExists. Nothing is audited until
// EnableTwoFactor.
func (s *Store) BeginTwoFactor(ctx context.Context, email, secret string, backupHashes []string) error {
	email, err := checkEmail("user", email)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var enabled sql.NullInt64
		switch err := tx.QueryRowContext(ctx, `SELECT enabled_at FROM two_factor WHERE user_email = ?`+tx.Dialect().ForUpdate(), email).Scan(&enabled); {
		case err == nil && enabled.Valid:
			return ErrExists
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM two_factor WHERE user_email = ?`, email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_email = ?`, email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO two_factor (user_email, secret, created_at) VALUES (?, ?, ?)`,
			email, secret, s.timestamp().UnixMilli()); err != nil {
			return err
		}
		for _, h := range backupHashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO backup_codes (user_email, code_hash) VALUES (?, ?)`, email, h); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("begin two-factor of %s: %w", email, err)
	}
	return nil
}

// EnableTwoFactor turns on the two-factor authentication that email
// began setting up, its first code being of step (user.2fa.enable). A
// user with no setup is ErrNotFound; one already enabled ErrExists.
func (s *Store) EnableTwoFactor(ctx context.Context, email string, step int64) error {
	email, err := checkEmail("user", email)
	if err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		now := s.timestamp()
		res, err := tx.ExecContext(ctx, `UPDATE two_factor SET enabled_at = ?, last_step = ? WHERE user_email = ? AND enabled_at IS NULL`,
			now.UnixMilli(), step, email)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, `SELECT 1 FROM two_factor WHERE user_email = ?`, email).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return ErrExists
		}
		return s.audit(ctx, tx, "user.2fa.enable", now, schema.Fields{"user": email})
	})
	if err != nil {
		return fmt.Errorf("enable two-factor of %s: %w", email, err)
	}
	return nil
}

// DisableTwoFactor turns off email's two-factor authentication and
// forgets its secret and backup codes (user.2fa.disable, a's caller). A
// user whose two-factor is not enabled is ErrNotFound.
func (s *Store) DisableTwoFactor(ctx context.Context, a Actor, email string) error {
	caller, err := a.caller()
	if err != nil {
		return err
	}
	if email, err = checkEmail("user", email); err != nil {
		return err
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		var enabled sql.NullInt64
		err := tx.QueryRowContext(ctx, `SELECT enabled_at FROM two_factor WHERE user_email = ?`+tx.Dialect().ForUpdate(), email).Scan(&enabled)
		switch {
		case errors.Is(err, sql.ErrNoRows) || err == nil && !enabled.Valid:
			return ErrNotFound
		case err != nil:
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM two_factor WHERE user_email = ?`, email); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM backup_codes WHERE user_email = ?`, email); err != nil {
			return err
		}
		return s.audit(ctx, tx, "user.2fa.disable", s.timestamp(), schema.Fields{"user": email, "caller": caller})
	})
	if err != nil {
		return fmt.Errorf("disable two-factor of %s: %w", email, err)
	}
	return nil
}

// UseTOTPStep accepts a code of step for email's enabled two-factor:
// only a step later than the last accepted one, so that a code works
// once. Otherwise it is ErrRefused.
func (s *Store) UseTOTPStep(ctx context.Context, email string, step int64) error {
	if err := execOne(ctx, s.db, ErrRefused, `UPDATE two_factor SET last_step = ? WHERE user_email = ? AND enabled_at IS NOT NULL AND last_step < ?`,
		step, email, step); err != nil {
		return fmt.Errorf("use code of %s: %w", email, err)
	}
	return nil
}

// UseBackupCode spends the backup code of email's whose hash is hash;
// an unknown or spent one is ErrRefused.
func (s *Store) UseBackupCode(ctx context.Context, email, hash string) error {
	if err := execOne(ctx, s.db, ErrRefused, `DELETE FROM backup_codes WHERE user_email = ? AND code_hash = ?`, email, hash); err != nil {
		return fmt.Errorf("use backup code of %s: %w", email, err)
	}
	return nil
}

// SecondFactorFailed records a sign-in whose password was right and
// whose second-factor code was not, or was not tried because the
// code limiter refused it (user.password.error with two_factor, and
// rate_limited).
func (s *Store) SecondFactorFailed(ctx context.Context, a Actor, user string, rateLimited bool) error {
	email, err := checkEmail("user", user)
	if err != nil {
		return err
	}
	fields := a.signinFields(schema.Fields{"user": email, "two_factor": true})
	if rateLimited {
		fields["rate_limited"] = true
	}
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		return s.audit(ctx, tx, "user.password.error", s.timestamp(), fields)
	})
	if err != nil {
		return fmt.Errorf("record failed code of %s: %w", email, err)
	}
	return nil
}

// twoFactorLevelSetting is the org_settings row of the enforcement level.
const twoFactorLevelSetting = "two_factor_level"

// TwoFactorLevel returns the organization's two-factor enforcement
// level; OPT_IN until an administrator sets one.
func (s *Store) TwoFactorLevel(ctx context.Context) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM org_settings WHERE name = ?`, twoFactorLevelSetting).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return TwoFactorOptIn, nil
	case err != nil:
		return "", fmt.Errorf("read two-factor level: %w", err)
	}
	return v, nil
}

// CheckTwoFactorLevel accepts DISALLOWED, OPT_IN and MANDATORY, in any
// case, and returns it in upper case.
func CheckTwoFactorLevel(level string) (string, error) {
	switch l := strings.ToUpper(level); l {
	case TwoFactorDisallowed, TwoFactorOptIn, TwoFactorMandatory:
		return l, nil
	}
	return "", &FieldError{Field: "level", Reason: "must be DISALLOWED, OPT_IN or MANDATORY"}
}

// SetTwoFactorLevel sets the organization's enforcement level
// (org.2fa.level; org is the organization's pseudo-user id) and returns
// the previous one. Setting the level in force writes nothing.
func (s *Store) SetTwoFactorLevel(ctx context.Context, a Actor, org, level string) (string, error) {
	caller, err := a.caller()
	if err != nil {
		return "", err
	}
	if level, err = CheckTwoFactorLevel(level); err != nil {
		return "", err
	}
	var old string
	err = s.db.InTx(ctx, func(tx *metadb.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT value FROM org_settings WHERE name = ?`+tx.Dialect().ForUpdate(), twoFactorLevelSetting).Scan(&old)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = TwoFactorOptIn
		case err != nil:
			return err
		}
		if old == level {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO org_settings (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value`, twoFactorLevelSetting, level); err != nil {
			return err
		}
		return s.audit(ctx, tx, "org.2fa.level", s.timestamp(),
			schema.Fields{"org": org, "caller": caller, "old_level": old, "new_level": level})
	})
	if err != nil {
		return "", fmt.Errorf("set two-factor level: %w", err)
	}
	return old, nil
}
