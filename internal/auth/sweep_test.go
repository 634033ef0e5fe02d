package auth_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// secretHash is a fresh 64-hex hash, as the store keeps secrets.
func secretHash() string { return auth.AppSecretHash(hex32()) }

func hex32() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestSweepExpired fills every kind of row the sweep knows with one
// that stopped working and one that still works, sweeps two days later,
// and checks that exactly the first ones are gone, then that a second
// sweep finds nothing.
func TestSweepExpired(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		s, err := auth.New(ctx, b.New(t).Open(t))
		if err != nil {
			t.Fatal(err)
		}
		const alice = "alice@example.com"
		local := auth.Actor{Email: auth.LocalCaller}
		if _, err := s.CreateUser(ctx, local, auth.NewUser{Email: alice}); err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC().Truncate(time.Millisecond)
		soon, later, sweepAt := now.Add(time.Minute), now.Add(5*24*time.Hour), now.Add(48*time.Hour)

		var sessions, tokens []string // [gone, kept]
		for _, exp := range []time.Time{soon, later} {
			h := secretHash()
			if err := s.CreateSession(ctx, auth.Actor{}, auth.Session{IDHash: h, Email: alice, CreatedAt: now, LastSeen: now, ExpireAt: exp}); err != nil {
				t.Fatal(err)
			}
			sessions = append(sessions, h)
			h = secretHash()
			if err := s.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: h, Email: alice, Scopes: "user.read", Device: hex32(),
				CreatedAt: now, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, h)
		}
		app, _, err := s.AddApp(ctx, local, "App", "https://app.example.com/cb", false)
		if err != nil {
			t.Fatal(err)
		}
		var codes []string // [expired unused, expired and redeemed, live]
		for _, exp := range []time.Time{soon, soon, later} {
			h := secretHash()
			if err := s.IssueCode(ctx, auth.Actor{}, auth.AuthCode{Hash: h, ClientID: app.ClientID, Email: alice, RedirectURI: app.RedirectURI,
				Scopes: "user.read", Device: hex32(), CreatedAt: now, ExpiresAt: exp}); err != nil {
				t.Fatal(err)
			}
			codes = append(codes, h)
		}
		refresh := []string{secretHash(), secretHash()} // [used, current]
		grant := func(r string) auth.Grant {
			return auth.Grant{Access: auth.AccessToken{Hash: secretHash(), Scopes: "user.read", CreatedAt: now, ExpiresAt: later}, RefreshHash: r}
		}
		if _, err := s.RedeemCode(ctx, auth.Actor{}, codes[1], app.ClientID, app.RedirectURI, now,
			func(auth.AuthCode) (auth.Grant, error) { return grant(refresh[0]), nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Refresh(ctx, auth.Actor{}, refresh[0], app.ClientID, now,
			func(auth.Authorization) (auth.Grant, error) { return grant(refresh[1]), nil }); err != nil {
			t.Fatal(err)
		}
		for _, ttl := range []time.Duration{time.Minute, 5 * 24 * time.Hour} {
			if _, _, err := s.IssueAccessCode(ctx, auth.Actor{Email: alice}, false, ttl); err != nil {
				t.Fatal(err)
			}
		}
		for _, exp := range []time.Time{soon, later} {
			if err := s.RequestPasswordReset(ctx, auth.Actor{Email: alice}, alice, secretHash(), exp, auth.Mail{Subject: "reset", Body: "-"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.DrainOutbox(ctx, func(*schema.Event) error { return nil }); err != nil {
			t.Fatal(err)
		}

		got, err := s.SweepExpired(ctx, sweepAt)
		if err != nil {
			t.Fatal(err)
		}
		want := auth.Swept{Sessions: 1, AccessTokens: 1, OAuthCodes: 2, RefreshTokens: 1, AccessCodes: 1, PasswordResets: 1}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("sweep (-want +got):\n%s", diff)
		}
		if _, err := s.Session(ctx, sessions[0]); err == nil {
			t.Error("the expired session is still there")
		}
		if _, err := s.Session(ctx, sessions[1]); err != nil {
			t.Errorf("the live session: %v", err)
		}
		if _, _, err := s.AccessToken(ctx, tokens[1]); err != nil {
			t.Errorf("the live token: %v", err)
		}
		// The current refresh token still works.
		if _, err := s.Refresh(ctx, auth.Actor{}, refresh[1], app.ClientID, sweepAt,
			func(auth.Authorization) (auth.Grant, error) { return grant(secretHash()), nil }); err != nil {
			t.Errorf("the current refresh token: %v", err)
		}
		if got, err := s.SweepExpired(ctx, sweepAt); err != nil || got.Total() != 0 {
			t.Errorf("second sweep: %+v, %v", got, err)
		}
	})
}

// TestTokenRefused_ClientID: the client_id a refused token request
// quotes is cut to 64 bytes on one line, so a request cannot fill the
// event.
func TestTokenRefused_ClientID(t *testing.T) {
	ctx := context.Background()
	s, err := auth.Open(t.TempDir() + "/auth.db")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, tc := range []struct{ in, want string }{
		{"30fd5241-02ea-46d5-ab07-f0aeba4164c3", "30fd5241-02ea-46d5-ab07-f0aeba4164c3"},
		{strings.Repeat("x", 5000), strings.Repeat("x", 64)},
		{"a\nb", "a b"},
		{" ", "-"},
	} {
		if err := s.TokenRefused(ctx, auth.Actor{IP: "192.0.2.1"}, tc.in, "invalid_client", false); err != nil {
			t.Fatal(err)
		}
		var got string
		if _, err := s.DrainOutbox(ctx, func(e *schema.Event) error {
			got = strings.Trim(string(e.Value("client_id")), `"`)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("client_id %.20q: event has %q, want %q", tc.in, got, tc.want)
		}
	}
}
