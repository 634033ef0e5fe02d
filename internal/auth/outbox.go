package auth

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// audit writes the named event (an admin action's AUDIT event, or an
// ALERT the store raises), at time at with fields, into the outbox
// within tx. The event is built through the catalog first: one the
// log would reject must not be written, or it would block the outbox. The
// outbox keeps the event's wire form, with a fresh random event_id so
// that two equal actions are two events. Empty strings are no values
// (a device without a name).
func (s *Store) audit(ctx context.Context, tx *metadb.Tx, event string, at time.Time, fields schema.Fields) error {
	return s.write(ctx, tx, event, at, fields, schema.Submitter{})
}

// write is audit with a verified submitter (zero for none).
func (s *Store) write(ctx context.Context, tx *metadb.Tx, event string, at time.Time, fields schema.Fields, sub schema.Submitter) error {
	for k, v := range fields {
		if v == "" {
			delete(fields, k)
		}
	}
	id, err := ulid.New(ulid.Timestamp(at), rand.Reader)
	if err != nil {
		return fmt.Errorf("new event id: %w", err)
	}
	fields["event_id"] = id.String()
	e, err := schema.NewSubmitted(event, at, fields, sub)
	if err != nil {
		return fmt.Errorf("build %s event: %w", event, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event) VALUES (?)`, e.Wire()); err != nil {
		return fmt.Errorf("write %s event: %w", event, err)
	}
	return nil
}

// drainBatch is how many outbox events DrainOutbox reads at a time.
const drainBatch = 64

// DrainOutbox calls fn with each pending audit event, oldest first, and
// deletes an event only after fn returned nil for it. It stops at the
// first error and returns it, with the number of events drained. The
// outbox holds JSON (the wire form, or the input form that earlier
// versions wrote), read back through the schema as trusted input.
//
// Events written by another process (vigil admin on the data directory)
// appear here too, so a server calls DrainOutbox now and then, not only
// after its own admin actions. Delivery is at-least-once: a crash between
// fn and the delete repeats the event, with the same event_id.
func (s *Store) DrainOutbox(ctx context.Context, fn func(*schema.Event) error) (int, error) {
	type pending struct {
		id    int64
		event []byte
	}
	n := 0
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT id, event FROM outbox ORDER BY id LIMIT ?`, drainBatch)
		if err != nil {
			return n, fmt.Errorf("read outbox: %w", err)
		}
		var batch []pending
		for rows.Next() {
			var p pending
			if err := rows.Scan(&p.id, &p.event); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return n, fmt.Errorf("read outbox: %w", err)
			}
			batch = append(batch, p)
		}
		if err := rows.Err(); err != nil {
			return n, fmt.Errorf("read outbox: %w", err)
		}
		if len(batch) == 0 {
			return n, nil
		}
		for _, p := range batch {
			e, err := schema.Normalize(p.event, schema.Meta{Trusted: true})
			if err != nil {
				return n, fmt.Errorf("read audit event %d: %w", p.id, err)
			}
			if err := fn(e); err != nil {
				return n, fmt.Errorf("relay audit event %d: %w", p.id, err)
			}
			if _, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, p.id); err != nil {
				return n, fmt.Errorf("delete relayed audit event %d: %w", p.id, err)
			}
			n++
		}
	}
}

// relayPeriod is how often RelayOutbox looks for events.
const relayPeriod = time.Second

// RelayOutbox drains the outbox into emit (ingest's Emit) now and every
// second, until ctx is done; the events are admin actions' audit events,
// written by this process or by another on the same file ("vigil admin"
// on the data directory). A failed drain is logged to logger (nil: not
// logged) and tried again at the next tick. It returns nil once ctx is
// done.
func (s *Store) RelayOutbox(ctx context.Context, emit func(context.Context, ...*schema.Event) error, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := time.NewTicker(relayPeriod)
	defer t.Stop()
	relay := func(e *schema.Event) error { return emit(ctx, e) }
	for {
		if _, err := s.DrainOutbox(ctx, relay); err != nil && ctx.Err() == nil {
			logger.Warn("relay audit events", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
