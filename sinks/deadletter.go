package sinks

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/localdb"
)

// Parked is an event a sink refused permanently, kept for an admin to
// inspect and, once the cause is fixed, to replay.
type Parked struct {
	ID       int64           `json:"id"`
	Sink     string          `json:"sink"`
	EventID  string          `json:"event_id"`
	Reason   string          `json:"reason"`
	ParkedAt time.Time       `json:"parked_at"`
	Event    json.RawMessage `json:"event"`
	key      []byte
}

// DeadLetter keeps the events each sink refused permanently, in a SQLite
// file. Parking is durable before the Forwarder lets the log move on, so
// a refused event is never lost.
type DeadLetter struct {
	db *sql.DB
}

// OpenDeadLetter opens (creating if needed) the dead letter at path.
func OpenDeadLetter(path string) (*DeadLetter, error) {
	const ddl = `CREATE TABLE IF NOT EXISTS dead_letter (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		sink TEXT NOT NULL,
		event_id TEXT NOT NULL,
		key BLOB NOT NULL,
		event BLOB NOT NULL,
		reason TEXT NOT NULL,
		parked_at INTEGER NOT NULL
	);
	CREATE INDEX IF NOT EXISTS dead_letter_sink ON dead_letter (sink, id);
	CREATE UNIQUE INDEX IF NOT EXISTS dead_letter_event ON dead_letter (sink, event_id);`
	db, err := localdb.Open(path, ddl)
	if err != nil {
		return nil, fmt.Errorf("open dead letter: %w", err)
	}
	return &DeadLetter{db: db}, nil
}

// Close closes the database.
func (d *DeadLetter) Close() error { return d.db.Close() }

// Park stores recs for sink with the reason they were refused, in one
// transaction; it returns once they are on disk. An event the sink has
// parked already (a batch handed over again) is kept once.
func (d *DeadLetter) Park(ctx context.Context, sink string, recs []eventlog.Record, reason string, at time.Time) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("park %d events: %w", len(recs), err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO dead_letter (sink, event_id, key, event, reason, parked_at) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (sink, event_id) DO UPDATE SET reason = excluded.reason`)
	if err != nil {
		return fmt.Errorf("park %d events: %w", len(recs), err)
	}
	defer stmt.Close()
	for _, r := range recs {
		if _, err := stmt.ExecContext(ctx, sink, r.ID, nonNil(r.Key), r.Value, reason, at.UnixMilli()); err != nil {
			return fmt.Errorf("park %d events: %w", len(recs), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("park %d events: %w", len(recs), err)
	}
	return nil
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// List returns up to limit of sink's parked events with an id above
// after, oldest first.
func (d *DeadLetter) List(ctx context.Context, sink string, after int64, limit int) ([]Parked, error) {
	rows, err := d.db.QueryContext(ctx,
		`SELECT id, event_id, key, event, reason, parked_at FROM dead_letter WHERE sink = ? AND id > ? ORDER BY id LIMIT ?`,
		sink, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list dead letter: %w", err)
	}
	defer rows.Close()
	var out []Parked
	for rows.Next() {
		p := Parked{Sink: sink}
		var event []byte
		var at int64
		if err := rows.Scan(&p.ID, &p.EventID, &p.key, &event, &p.Reason, &at); err != nil {
			return nil, fmt.Errorf("list dead letter: %w", err)
		}
		p.Event, p.ParkedAt = event, time.UnixMilli(at).UTC()
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list dead letter: %w", err)
	}
	return out, nil
}

// Count returns how many events sink has parked.
func (d *DeadLetter) Count(ctx context.Context, sink string) (int64, error) {
	var n int64
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM dead_letter WHERE sink = ?`, sink).Scan(&n); err != nil {
		return 0, fmt.Errorf("count dead letter: %w", err)
	}
	return n, nil
}

// Remove deletes parked events by id, once they were delivered.
func (d *DeadLetter) Remove(ctx context.Context, sink string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, sink)
	for _, id := range ids {
		args = append(args, id)
	}
	q := `DELETE FROM dead_letter WHERE sink = ? AND id IN (?` + strings.Repeat(",?", len(ids)-1) + `)`
	if _, err := d.db.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("remove %d dead letter entries: %w", len(ids), err)
	}
	return nil
}

// record rebuilds the log record of a parked event.
func (p Parked) record() eventlog.Record {
	return eventlog.Record{ID: p.EventID, Key: p.key, Value: p.Event}
}
