package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
)

// Swept counts the rows SweepExpired deleted, by kind.
type Swept struct {
	Sessions, AccessTokens, OAuthCodes, RefreshTokens, AccessCodes, PasswordResets int64
}

// Total is the number of rows deleted.
func (w Swept) Total() int64 {
	return w.Sessions + w.AccessTokens + w.OAuthCodes + w.RefreshTokens + w.AccessCodes + w.PasswordResets
}

// SweepExpired deletes, in one transaction, the rows that can no longer
// be used at now: sessions and access tokens past their expiry,
// password reset tokens expired or used, and authorization codes,
// mobile access codes and used refresh tokens a day after they stopped
// working (kept that long so that a second use is still recognized as
// one, and ends what it must). Unused refresh tokens do not expire; they
// go with their authorization. Invitations do not expire. It is upkeep,
// not an action: no event.
func (s *Store) SweepExpired(ctx context.Context, now time.Time) (Swept, error) {
	var w Swept
	ms, kept := now.UnixMilli(), now.Add(-keepUsed).UnixMilli()
	err := s.db.InTx(ctx, func(tx *metadb.Tx) error {
		w = Swept{}
		for _, q := range []struct {
			n     *int64
			query string
			args  []any
		}{
			{&w.Sessions, `DELETE FROM sessions WHERE expires_at <= ?`, []any{ms}},
			{&w.AccessTokens, `DELETE FROM access_tokens WHERE expires_at <= ?`, []any{ms}},
			{&w.OAuthCodes, `DELETE FROM oauth_codes WHERE expires_at < ?`, []any{kept}},
			{&w.RefreshTokens, `DELETE FROM oauth_refresh_tokens WHERE used_at IS NOT NULL AND used_at < ?`, []any{kept}},
			{&w.AccessCodes, `DELETE FROM device_access_codes WHERE expires_at < ?`, []any{now.Add(-keepCodes).UnixMilli()}},
			{&w.PasswordResets, `DELETE FROM password_resets WHERE expires_at <= ? OR used_at IS NOT NULL`, []any{ms}},
		} {
			res, err := tx.ExecContext(ctx, q.query, q.args...)
			if err != nil {
				return err
			}
			if *q.n, err = res.RowsAffected(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Swept{}, fmt.Errorf("sweep expired rows: %w", err)
	}
	return w, nil
}
