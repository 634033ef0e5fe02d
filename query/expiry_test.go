package query_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
)

// countingExpirer counts DropExpired calls and fails the first fail ones.
type countingExpirer struct {
	calls atomic.Int32
	fail  int32
}

func (e *countingExpirer) DropExpired(context.Context, time.Time) (int, error) {
	if e.calls.Add(1) <= e.fail {
		return 0, errors.New("server away")
	}
	return 1, nil
}

func TestExpiry_Run(t *testing.T) {
	for _, tt := range []struct {
		name        string
		period      time.Duration
		fail, calls int32
	}{
		{"DropsAtStart", 0, 0, 1},                        // hourly: one call at start
		{"RetriesAfterAFailure", time.Millisecond, 2, 3}, // a failure is logged and tried again
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := &countingExpirer{fail: tt.fail}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			x := query.NewExpiry(e, query.ExpiryConfig{Period: tt.period}, slog.New(slog.DiscardHandler))
			go func() { done <- x.Run(ctx) }()
			deadline := time.Now().Add(5 * time.Second)
			for e.calls.Load() < tt.calls && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v on cancel, want nil", err)
			}
			if n := e.calls.Load(); n < tt.calls || (tt.period == 0 && n != tt.calls) {
				t.Errorf("%d calls to DropExpired, want %d", n, tt.calls)
			}
		})
	}
}
