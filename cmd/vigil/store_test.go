package main

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
)

// expiringStore is a query.Store whose DropExpired the test counts; the
// embedded interface is never called.
type expiringStore struct {
	query.Store
	calls atomic.Int32
}

func (s *expiringStore) DropExpired(context.Context, time.Time) (int, error) {
	s.calls.Add(1)
	return 1, nil
}

func TestRunRetention(t *testing.T) {
	s := &expiringStore{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runRetention(ctx, s, slog.New(slog.DiscardHandler)) }()
	deadline := time.Now().Add(5 * time.Second)
	for s.calls.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil || s.calls.Load() != 1 {
		t.Errorf("runRetention = %v after %d calls; want one call at start, then nil on cancel", err, s.calls.Load())
	}
	// A store without retention: nothing to run.
	if err := runRetention(context.Background(), nil, slog.New(slog.DiscardHandler)); err != nil {
		t.Error(err)
	}
}
