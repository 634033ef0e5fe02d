package metadb

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"
)

// Retry bounds for InTx.
const (
	// maxAttempts is how many times InTx tries a transaction.
	maxAttempts = 8
	// firstBackoff is the wait before the second attempt; each later
	// wait doubles, up to maxBackoff, with jitter.
	firstBackoff = 5 * time.Millisecond
	maxBackoff   = 250 * time.Millisecond
)

// errDSN rejects a DSN without quoting it: it may hold a password.
var errDSN = errors.New("the PostgreSQL DSN cannot be parsed (a URL postgres://... or key=value pairs)")

// InTx runs fn in a write transaction and commits it when fn returns nil;
// when fn returns an error, InTx rolls back and returns fn's error as it
// is. When the database says the transaction lost a race (IsRetryable:
// SQLite busy, a PostgreSQL serialization failure or deadlock), in fn or
// at commit, InTx rolls back and runs fn again, a bounded number of
// times, waiting a little longer each time. fn may therefore run more
// than once: it must not keep state from an earlier attempt (reset what
// it collects at its start), and act outside the database only after
// InTx returned.
func (db *DB) InTx(ctx context.Context, fn func(*Tx) error) error {
	return db.inTx(ctx, fn, sleep)
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (db *DB) inTx(ctx context.Context, fn func(*Tx) error, wait func(context.Context, time.Duration) error) error {
	backoff := firstBackoff
	for attempt := 1; ; attempt++ {
		err := db.try(ctx, fn)
		if err == nil || !IsRetryable(err) {
			return err
		}
		if attempt == maxAttempts {
			return fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		// Full jitter within [backoff/2, backoff): contenders that lost
		// together do not retry together.
		d := backoff/2 + rand.N(backoff/2)
		// A context that ended while the timer also fired may let
		// wait return nil (select picks either): check it too, or the
		// next attempt would report the cancellation instead of err.
		if werr := wait(ctx, d); werr != nil || ctx.Err() != nil {
			return err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// try runs fn in one transaction.
func (db *DB) try(ctx context.Context, fn func(*Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(&Tx{tx: tx, dialect: db.dialect}); err != nil {
		_ = tx.Rollback() // fn's error is the one to report
		return err
	}
	return tx.Commit()
}
