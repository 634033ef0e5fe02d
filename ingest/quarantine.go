package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/zeebo/xxh3"

	"github.com/vigilaudit/vigil/internal/localdb"
	"github.com/vigilaudit/vigil/schema"
)

// Quarantined is an event that was not accepted: its raw bytes as sent,
// why, who sent it and when. Nothing rejected is dropped: an admin lists
// these and replays them (after a fix) through ingest again.
type Quarantined struct {
	ID         int64            `json:"id"`
	ReceivedAt time.Time        `json:"received_at"`
	Submitter  schema.Submitter `json:"submitter"`
	Reason     string           `json:"reason"`
	Raw        string           `json:"raw"`
	ReplayedAt *time.Time       `json:"replayed_at,omitempty"`
	EventID    string           `json:"event_id,omitempty"` // set once a replay accepted it
	// Attempts counts how often the same bytes came from the same
	// submitter while this entry waited (a client resending what was
	// rejected); LastReceivedAt is the latest of those.
	Attempts       int        `json:"attempts"`
	LastReceivedAt *time.Time `json:"last_received_at,omitempty"`
	// WholeBody marks a request body refused as a whole (not events, an
	// encoding that cannot be read, over a limit) rather than one event;
	// a replay splits it again. ContentEncoding is the encoding Raw is
	// in ("" for none: the body as decoded), Truncated whether Raw was
	// cut at max_body_bytes.
	WholeBody       bool   `json:"whole_body,omitempty"`
	ContentEncoding string `json:"content_encoding,omitempty"`
	Truncated       bool   `json:"truncated,omitempty"`
	// ReplayError is why the last replay rejected the entry again; Reason
	// stays the reason it was first refused for.
	ReplayError string `json:"replay_error,omitempty"`

	body [][]byte // a whole body's bytes, in place of Raw, for Add
}

// quarantinedJSON is Quarantined on the wire: raw bytes that are not
// valid UTF-8 go base64-encoded in raw_base64, raw omitted, so that they
// come back exactly as received.
type quarantinedJSON struct {
	ID              int64            `json:"id"`
	ReceivedAt      time.Time        `json:"received_at"`
	Submitter       schema.Submitter `json:"submitter"`
	Reason          string           `json:"reason"`
	Raw             *string          `json:"raw,omitempty"`
	RawBase64       string           `json:"raw_base64,omitempty"`
	ReplayedAt      *time.Time       `json:"replayed_at,omitempty"`
	EventID         string           `json:"event_id,omitempty"`
	Attempts        int              `json:"attempts"`
	LastReceivedAt  *time.Time       `json:"last_received_at,omitempty"`
	WholeBody       bool             `json:"whole_body,omitempty"`
	ContentEncoding string           `json:"content_encoding,omitempty"`
	Truncated       bool             `json:"truncated,omitempty"`
	ReplayError     string           `json:"replay_error,omitempty"`
}

// MarshalJSON writes raw as a string when it is valid UTF-8 and as
// raw_base64 otherwise.
func (e Quarantined) MarshalJSON() ([]byte, error) {
	j := quarantinedJSON{ID: e.ID, ReceivedAt: e.ReceivedAt, Submitter: e.Submitter, Reason: e.Reason,
		ReplayedAt: e.ReplayedAt, EventID: e.EventID, Attempts: e.Attempts, LastReceivedAt: e.LastReceivedAt,
		WholeBody: e.WholeBody, ContentEncoding: e.ContentEncoding, Truncated: e.Truncated, ReplayError: e.ReplayError}
	if utf8.ValidString(e.Raw) {
		j.Raw = &e.Raw
	} else {
		j.RawBase64 = base64.StdEncoding.EncodeToString([]byte(e.Raw))
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Quarantined) UnmarshalJSON(b []byte) error {
	var j quarantinedJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Quarantined{ID: j.ID, ReceivedAt: j.ReceivedAt, Submitter: j.Submitter, Reason: j.Reason,
		ReplayedAt: j.ReplayedAt, EventID: j.EventID, Attempts: j.Attempts, LastReceivedAt: j.LastReceivedAt,
		WholeBody: j.WholeBody, ContentEncoding: j.ContentEncoding, Truncated: j.Truncated, ReplayError: j.ReplayError}
	switch {
	case j.RawBase64 != "":
		raw, err := base64.StdEncoding.DecodeString(j.RawBase64)
		if err != nil {
			return fmt.Errorf("raw_base64: %w", err)
		}
		e.Raw = string(raw)
	case j.Raw != nil:
		e.Raw = *j.Raw
	}
	return nil
}

// Quarantine keeps rejected events in a SQLite file.
type Quarantine struct {
	db *sql.DB
}

// OpenQuarantine opens (creating if needed) the quarantine at path.
func OpenQuarantine(path string) (*Quarantine, error) {
	const ddl = `CREATE TABLE IF NOT EXISTS quarantine (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		received_at INTEGER NOT NULL,
		submitter_user TEXT NOT NULL,
		submitter_device TEXT NOT NULL,
		reason TEXT NOT NULL,
		raw BLOB NOT NULL,
		replayed_at INTEGER,
		event_id TEXT
	)`
	db, err := localdb.Open(path, ddl)
	if err != nil {
		return nil, fmt.Errorf("open quarantine: %w", err)
	}
	if err := migrateQuarantine(db); err != nil {
		db.Close()
		return nil, fmt.Errorf("open quarantine %s: %w", path, err)
	}
	return &Quarantine{db: db}, nil
}

// migrateQuarantine adds what later versions keep: a hash of submitter
// and raw bytes, unique among the entries not replayed yet, so that a
// resent rejected event counts an attempt instead of a new entry.
func migrateQuarantine(db *sql.DB) error {
	rows, err := db.Query(`SELECT name FROM pragma_table_info('quarantine')`)
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		have[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, col := range []struct{ name, ddl string }{
		{"raw_hash", `ALTER TABLE quarantine ADD COLUMN raw_hash BLOB`},
		{"attempts", `ALTER TABLE quarantine ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1`},
		{"last_received_at", `ALTER TABLE quarantine ADD COLUMN last_received_at INTEGER`},
		{"whole_body", `ALTER TABLE quarantine ADD COLUMN whole_body INTEGER NOT NULL DEFAULT 0`},
		{"raw_gzip", `ALTER TABLE quarantine ADD COLUMN raw_gzip INTEGER NOT NULL DEFAULT 0`},
		{"content_encoding", `ALTER TABLE quarantine ADD COLUMN content_encoding TEXT NOT NULL DEFAULT ''`},
		{"truncated", `ALTER TABLE quarantine ADD COLUMN truncated INTEGER NOT NULL DEFAULT 0`},
		{"replay_error", `ALTER TABLE quarantine ADD COLUMN replay_error TEXT`},
	} {
		if !have[col.name] {
			if _, err := db.Exec(col.ddl); err != nil {
				return err
			}
		}
	}
	_, err = db.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS quarantine_pending ON quarantine (raw_hash) WHERE replayed_at IS NULL`)
	return err
}

// rawHash identifies the same bytes from the same submitter.
func rawHash(e Quarantined) []byte {
	h := xxh3.New()
	_, _ = h.WriteString(e.Submitter.UserID)
	_, _ = h.Write([]byte{0})
	_, _ = h.WriteString(e.Submitter.DeviceID)
	_, _ = h.Write([]byte{0})
	if e.body != nil {
		// A whole body is told apart from an event of the same bytes.
		_, _ = h.WriteString("body\x00" + e.ContentEncoding + "\x00")
		for _, b := range e.body {
			_, _ = h.Write(b)
		}
	} else {
		_, _ = h.WriteString(e.Raw)
	}
	sum := h.Sum128().Bytes()
	return sum[:]
}

// stored returns the bytes of e's raw column and whether they are
// gzipped: a whole body is, an event is kept as it came.
func (e Quarantined) stored() ([]byte, bool, error) {
	if e.body == nil && !e.WholeBody {
		return []byte(e.Raw), false, nil
	}
	parts := e.body
	if parts == nil {
		parts = [][]byte{[]byte(e.Raw)}
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, false, err
	}
	for _, p := range parts {
		if _, err := zw.Write(p); err != nil {
			return nil, false, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, false, err
	}
	return buf.Bytes(), true, nil
}

// gunzip reads a raw column written gzipped by stored.
func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// Close closes the database.
func (q *Quarantine) Close() error { return q.db.Close() }

// Add stores entries in one transaction; it returns once they are on disk.
func (q *Quarantine) Add(ctx context.Context, entries []Quarantined) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := q.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("quarantine %d events: %w", len(entries), err)
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO quarantine (received_at, submitter_user, submitter_device, reason, raw, raw_hash,
			whole_body, raw_gzip, content_encoding, truncated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (raw_hash) WHERE replayed_at IS NULL
		DO UPDATE SET attempts = attempts + 1, last_received_at = excluded.received_at, reason = excluded.reason`)
	if err != nil {
		return fmt.Errorf("quarantine %d events: %w", len(entries), err)
	}
	defer stmt.Close()
	for _, e := range entries {
		raw, gz, err := e.stored()
		if err != nil {
			return fmt.Errorf("quarantine %d events: compress body: %w", len(entries), err)
		}
		whole := e.WholeBody || e.body != nil
		if _, err := stmt.ExecContext(ctx, e.ReceivedAt.UnixMilli(), e.Submitter.UserID, e.Submitter.DeviceID, e.Reason, raw, rawHash(e),
			whole, gz, e.ContentEncoding, e.Truncated); err != nil {
			return fmt.Errorf("quarantine %d events: %w", len(entries), err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("quarantine %d events: %w", len(entries), err)
	}
	return nil
}

// ListOptions selects quarantined events.
type ListOptions struct {
	After    int64 // entries with a larger id (a cursor)
	Limit    int   // default 100
	Replayed bool  // include the ones already replayed
	// MaxBytes ends a page early, after the entry that brings its raw
	// bytes (decompressed) to MaxBytes: whole refused bodies are up to
	// max_body_bytes each. Default 16 MiB; a page holds at least one
	// entry.
	MaxBytes int
}

// listMaxBytes is ListOptions.MaxBytes's default.
const listMaxBytes = 16 << 20

// List returns entries in id order: at most Limit, fewer when they are
// large (MaxBytes), none once the list is done.
func (q *Quarantine) List(ctx context.Context, o ListOptions) ([]Quarantined, error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = listMaxBytes
	}
	query := `SELECT id, received_at, submitter_user, submitter_device, reason, raw, replayed_at, event_id, attempts, last_received_at,
		whole_body, raw_gzip, content_encoding, truncated, replay_error
		FROM quarantine WHERE id > ?`
	if !o.Replayed {
		query += ` AND replayed_at IS NULL`
	}
	query += ` ORDER BY id LIMIT ?`
	rows, err := q.db.QueryContext(ctx, query, o.After, o.Limit)
	if err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	defer rows.Close()
	var out []Quarantined
	size := 0
	for size < o.MaxBytes && rows.Next() {
		var (
			e        Quarantined
			received int64
			replayed sql.NullInt64
			eventID  sql.NullString
			raw      []byte
			last     sql.NullInt64
			gz       bool
			replayEr sql.NullString
		)
		if err := rows.Scan(&e.ID, &received, &e.Submitter.UserID, &e.Submitter.DeviceID, &e.Reason, &raw, &replayed, &eventID, &e.Attempts, &last,
			&e.WholeBody, &gz, &e.ContentEncoding, &e.Truncated, &replayEr); err != nil {
			return nil, fmt.Errorf("list quarantine: %w", err)
		}
		e.ReceivedAt = time.UnixMilli(received).UTC()
		if gz {
			var err error
			if raw, err = gunzip(raw); err != nil {
				return nil, fmt.Errorf("list quarantine: entry %d: %w", e.ID, err)
			}
		}
		e.Raw = string(raw)
		size += len(raw)
		e.ReplayError = replayEr.String
		if replayed.Valid {
			t := time.UnixMilli(replayed.Int64).UTC()
			e.ReplayedAt = &t
		}
		e.EventID = eventID.String
		if last.Valid {
			t := time.UnixMilli(last.Int64).UTC()
			e.LastReceivedAt = &t
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list quarantine: %w", err)
	}
	return out, nil
}

// markReplayed records that entry id was accepted as eventID.
func (q *Quarantine) markReplayed(ctx context.Context, id int64, eventID string, at time.Time) error {
	res, err := q.db.ExecContext(ctx, `UPDATE quarantine SET replayed_at = ?, event_id = ? WHERE id = ? AND replayed_at IS NULL`, at.UnixMilli(), eventID, id)
	if err != nil {
		return fmt.Errorf("mark quarantined event %d replayed: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errors.New("already replayed")
	}
	return nil
}

// setReplayError records why a replay was rejected again, keeping the
// entry's first reason.
func (q *Quarantine) setReplayError(ctx context.Context, id int64, reason string) error {
	if _, err := q.db.ExecContext(ctx, `UPDATE quarantine SET replay_error = ? WHERE id = ?`, reason, id); err != nil {
		return fmt.Errorf("update quarantined event %d: %w", id, err)
	}
	return nil
}
