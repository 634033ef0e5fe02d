package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// Recorder writes audit events into the outbox of the transaction
// Audited runs, so that they commit with the change they describe or
// not at all. It is valid only within that call.
type Recorder struct {
	s   *Store
	ctx context.Context
	tx  *metadb.Tx
}

// Record writes the named event, at time at with fields, as the store's
// own actions write theirs (a fresh event_id; empty strings are no
// values).
func (r Recorder) Record(event string, at time.Time, fields schema.Fields) error {
	return r.s.audit(r.ctx, r.tx, event, at, fields)
}

// RecordSubmitted writes the named event as Record does, with sub as its
// verified_submitter: for events whose catalog entry needs one (FILE),
// submitted by the server itself.
func (r Recorder) RecordSubmitted(event string, at time.Time, fields schema.Fields, sub schema.Submitter) error {
	return r.s.auditAs(r.ctx, r.tx, event, at, fields, sub)
}

// RecordEvent writes e, built by the caller with its own event_id (an
// alert whose id derives from what raised it), into the outbox.
func (r Recorder) RecordEvent(e *schema.Event) error {
	if _, err := r.tx.ExecContext(r.ctx, `INSERT INTO outbox (event) VALUES (?)`, e.Wire()); err != nil {
		return fmt.Errorf("write %s event: %w", e.Name(), err)
	}
	return nil
}

// QueueMail puts m into the mail outbox in the same transaction, so
// that a mail about a change (a share invitation) goes out only with it.
// m.CreatedAt zero is now.
func (r Recorder) QueueMail(m Mail) error {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = r.s.timestamp()
	}
	return queueMail(r.ctx, r.tx, m)
}

// Audited runs fn in one transaction of the store's database and commits
// the rows fn writes together with the events it records; an error from
// fn (or from recording) rolls both back and is returned as it is. Like
// metadb.DB.InTx, fn may run more than once.
//
// Other components keep their tables in the same database (see DB) and
// audit their changes through it, so that no change commits without its
// event.
func (s *Store) Audited(ctx context.Context, fn func(tx *metadb.Tx, rec Recorder) error) error {
	return s.db.InTx(ctx, func(tx *metadb.Tx) error {
		return fn(tx, Recorder{s: s, ctx: ctx, tx: tx})
	})
}

// DB is the store's database, for components that keep their own tables
// (their own migration components) beside the store's and audit through
// Audited.
func (s *Store) DB() *metadb.DB { return s.db }

// auditAs is audit with a verified submitter.
func (s *Store) auditAs(ctx context.Context, tx *metadb.Tx, event string, at time.Time, fields schema.Fields, sub schema.Submitter) error {
	if sub.IsZero() {
		return fmt.Errorf("build %s event: no submitter", event)
	}
	return s.write(ctx, tx, event, at, fields, sub)
}
