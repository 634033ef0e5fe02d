package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestSecurity_OneTimeSecrets: a TOTP step is accepted only once and in
// order, a backup code once, a reset token once; deleting the user takes
// their secrets with them.
func TestSecurity_OneTimeSecrets(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		const email = "alice@example.com"
		if _, err := s.CreateUser(ctx, Actor{Email: LocalCaller}, NewUser{Email: email, PasswordHash: "$argon2id$x"}); err != nil {
			t.Fatal(err)
		}
		if err := s.UseTOTPStep(ctx, email, 5); !errors.Is(err, ErrRefused) {
			t.Errorf("a step without two-factor: %v", err)
		}
		if err := s.BeginTwoFactor(ctx, email, "SECRET", []string{"h1", "h2"}); err != nil {
			t.Fatal(err)
		}
		if err := s.EnableTwoFactor(ctx, email, 10); err != nil {
			t.Fatal(err)
		}
		if err := s.EnableTwoFactor(ctx, email, 11); !errors.Is(err, ErrExists) {
			t.Errorf("enabled twice: %v", err)
		}
		if err := s.BeginTwoFactor(ctx, email, "OTHER", nil); !errors.Is(err, ErrExists) {
			t.Errorf("a new setup while enabled: %v", err)
		}
		for _, step := range []struct {
			step int64
			ok   bool
		}{{10, false}, {9, false}, {11, true}, {11, false}, {13, true}, {12, false}} {
			if err := s.UseTOTPStep(ctx, email, step.step); (err == nil) != step.ok || err != nil && !errors.Is(err, ErrRefused) {
				t.Errorf("step %d: %v", step.step, err)
			}
		}
		if err := s.UseBackupCode(ctx, email, "h1"); err != nil {
			t.Fatal(err)
		}
		if err := s.UseBackupCode(ctx, email, "h1"); !errors.Is(err, ErrRefused) {
			t.Errorf("backup code twice: %v", err)
		}
		tf, err := s.TwoFactor(ctx, email)
		if err != nil || !tf.Enabled || tf.LastStep != 13 || tf.BackupCodes != 1 || tf.Secret != "SECRET" {
			t.Errorf("state %+v %v", tf, err)
		}

		hash := strings.Repeat("ef", 32)
		if err := s.RequestPasswordReset(ctx, Actor{Email: email}, email, hash, time.Now().Add(time.Hour), Mail{Subject: "s", Body: "b"}); err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPasswordReset(ctx, Actor{Email: "bob@example.com"}, "bob@example.com", strings.Repeat("01", 32), time.Now().Add(time.Hour), Mail{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown user: %v", err)
		}
		if _, err := s.ResetPassword(ctx, hash, "$argon2id$y", time.Now().Add(2*time.Hour)); !errors.Is(err, ErrRefused) {
			t.Errorf("expired: %v", err)
		}
		if got, err := s.ResetPassword(ctx, hash, "$argon2id$y", time.Now()); err != nil || got != email {
			t.Fatalf("reset: %q %v", got, err)
		}
		if _, err := s.ResetPassword(ctx, hash, "$argon2id$z", time.Now()); !errors.Is(err, ErrRefused) {
			t.Errorf("reset twice: %v", err)
		}
		if err := s.DeleteUser(ctx, Actor{Email: LocalCaller}, email); err != nil {
			t.Fatalf("delete a user with two-factor and a spent reset token: %v", err)
		}
		if _, err := s.TwoFactor(ctx, email); !errors.Is(err, ErrNotFound) {
			t.Errorf("two-factor outlived its user: %v", err)
		}
		drainAll(t, s)
	})
}
