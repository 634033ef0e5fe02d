package eventlog

import (
	"context"
	"errors"
	"time"
)

// Errors a Log returns that callers branch on.
var (
	// ErrFull means the log's disk budget is used up: the append was not
	// made, and the caller should retry later (ingest answers 503 with
	// Retry-After). Nothing appended before is lost.
	ErrFull = errors.New("event log full")
	// ErrClosed means the log or subscription was closed.
	ErrClosed = errors.New("event log closed")
)

// Record is one event in the log.
type Record struct {
	// Key orders records: those with the same key are read in append
	// order. It is the event's order key (schema.Event.OrderKey).
	Key []byte
	// ID is the event's event_id.
	ID string
	// Value is the event's canonical wire bytes.
	Value []byte

	// Set by the log on records it returns.
	Partition int
	Offset    int64     // position within the partition
	Time      time.Time // when the log stored the record
}

// Appender makes records durable.
type Appender interface {
	// Append stores recs and returns once every one of them is durable
	// (fsynced, or acknowledged by every in-sync replica). On error none
	// of them may be assumed stored, though some may be; consumers
	// deduplicate by ID.
	Append(ctx context.Context, recs []Record) error
}

// Log is a durable, ordered event log with consumer groups.
type Log interface {
	Appender
	// Subscribe opens a reader for the named consumer group. It starts at
	// the group's committed position, or at the oldest retained record
	// for a group that never committed.
	Subscribe(ctx context.Context, group string) (Subscription, error)
	// Lag returns how many retained records the group has not committed.
	Lag(ctx context.Context, group string) (int64, error)
	// Replay calls fn, in order per key, for the retained records stored
	// at or after since (it may start a little earlier), without a
	// consumer group. It returns fn's first error.
	Replay(ctx context.Context, since time.Time, fn func(Record) error) error
	// Ready reports whether the log takes appends now: nil, or why not
	// (full, failed, closed), for readiness checks.
	Ready() error
	// Close releases the log. Records whose Append returned stay durable.
	Close() error
}

// Subscription reads a consumer group's records.
type Subscription interface {
	// Fetch returns up to max records that follow the ones this
	// subscription returned before. It waits until at least one record is
	// available (or ctx is done), then up to linger for more. When ctx
	// ends while it lingers, it returns the records it has with a nil
	// error; it returns ctx's error only when it has none.
	Fetch(ctx context.Context, max int, linger time.Duration) ([]Record, error)
	// Commit records that the group processed recs and every record
	// before them in their partitions. recs must come from Fetch.
	Commit(ctx context.Context, recs []Record) error
	// Close ends the subscription without committing anything more.
	Close() error
}
