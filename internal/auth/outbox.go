package auth

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/vigilaudit/vigil/schema"
)

// auditEvent is an AUDIT event of the catalog in its input form.
type auditEvent struct {
	Topic     schema.Topic `json:"topic"`
	Event     string       `json:"event"`
	Timestamp string       `json:"timestamp"`
	EventID   string       `json:"event_id"`
	Caller    string       `json:"caller"`
	User      string       `json:"user,omitempty"`
	Device    string       `json:"device,omitempty"`
	Name      string       `json:"name,omitempty"`
	Role      string       `json:"role,omitempty"`
}

// audit writes ev, at time at, into the outbox within tx. It checks the
// event against the catalog first: an event the log would reject must not
// be written, or it would block the outbox.
func (s *Store) audit(ctx context.Context, tx *sql.Tx, at time.Time, ev auditEvent) error {
	id, err := ulid.New(ulid.Timestamp(at), rand.Reader)
	if err != nil {
		return fmt.Errorf("new event id: %w", err)
	}
	ev.Topic = schema.TopicAudit
	ev.Timestamp = schema.FormatTime(at)
	ev.EventID = id.String()
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", ev.Event, err)
	}
	if _, err := schema.Normalize(raw, schema.Meta{}); err != nil {
		return fmt.Errorf("check %s event: %w", ev.Event, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO outbox (event) VALUES (?)`, raw); err != nil {
		return fmt.Errorf("write %s event: %w", ev.Event, err)
	}
	return nil
}

// drainBatch is how many outbox events DrainOutbox reads at a time.
const drainBatch = 64

// DrainOutbox calls fn with each pending audit event, oldest first, and
// deletes an event only after fn returned nil for it. It stops at the
// first error and returns it, with the number of events drained. The
// events are JSON objects in their input form, for ingest's Emit or the
// event log.
//
// Events written by another process (vigil admin on the data directory)
// appear here too, so a server calls DrainOutbox now and then, not only
// after its own admin actions. Delivery is at-least-once: a crash between
// fn and the delete repeats the event, with the same event_id.
func (s *Store) DrainOutbox(ctx context.Context, fn func(event []byte) error) (int, error) {
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
			if err := fn(p.event); err != nil {
				return n, fmt.Errorf("relay audit event %d: %w", p.id, err)
			}
			if _, err := s.db.ExecContext(ctx, `DELETE FROM outbox WHERE id = ?`, p.id); err != nil {
				return n, fmt.Errorf("delete relayed audit event %d: %w", p.id, err)
			}
			n++
		}
	}
}
