package contentapi

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/contentapi/token"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
)

// TestSweeper_Run: the sweeper deletes an expired token as it starts
// and a later one at its next period, then returns nil when its context
// ends.
func TestSweeper_Run(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		ctx := context.Background()
		store, err := auth.New(ctx, b.New(t).Open(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: aliceEmail}); err != nil {
			t.Fatal(err)
		}
		clock := &testClock{t: time.Now().UTC()}
		issue := func(life time.Duration) string {
			t.Helper()
			h, now := token.Hash(token.New()), clock.Now()
			if err := store.IssueAccessToken(ctx, auth.Actor{}, auth.AccessToken{Hash: h, Email: aliceEmail, Scopes: ScopeUserRead,
				Device: token.New(), CreatedAt: now, ExpiresAt: now.Add(life)}); err != nil {
				t.Fatal(err)
			}
			return h
		}
		gone := func(h string) bool {
			_, _, err := store.AccessToken(ctx, h)
			return err != nil
		}
		waitGone := func(what, h string) {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); !gone(h); time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%s: the expired token is still there", what)
				}
			}
		}
		first, second, live := issue(-time.Minute), issue(time.Hour), issue(24*time.Hour)
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			done <- NewSweeper(store, SweepConfig{Every: 20 * time.Millisecond}, clock.Now, testLogger(io.Discard)).Run(rctx)
		}()
		waitGone("at the start", first)
		if gone(second) || gone(live) {
			t.Fatal("a live token was swept")
		}
		clock.Add(2 * time.Hour)
		waitGone("a period later", second)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if gone(live) {
			t.Error("the live token was swept")
		}
	})
}

func TestSweepConfig(t *testing.T) {
	var c SweepConfig
	c.SetDefaults()
	if c.Every != DefaultSweepEvery || c.Validate() != nil {
		t.Errorf("defaults %+v: %v", c, c.Validate())
	}
	if err := (SweepConfig{Every: time.Millisecond}).Validate(); err == nil {
		t.Error("Validate accepts a sweep every millisecond")
	}
}
