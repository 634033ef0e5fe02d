package alerts

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/metadb"
	"github.com/vigilaudit/vigil/schema"
)

// States of an alert.
const (
	Open         = "open"
	Acknowledged = "acknowledged"
	Resolved     = "resolved"
	Dismissed    = "dismissed"
)

// SelfDismissal is the rule of the alert raised when someone dismisses
// an alert about themselves.
const SelfDismissal = "self-dismissal"

// Errors of the store.
var (
	ErrNotFound = errors.New("no such alert")
	ErrConflict = errors.New("alert state does not allow this change")
	ErrInvalid  = errors.New("invalid alert request")
)

var component = metadb.Component{Name: "alerts", Migrations: []metadb.Migration{{
	SQL: `CREATE TABLE alerts (
	id TEXT PRIMARY KEY,
	rule TEXT NOT NULL,
	severity TEXT NOT NULL,
	grp TEXT NOT NULL,
	usr TEXT NOT NULL,
	summary TEXT NOT NULL,
	count BIGINT NOT NULL,
	window_start BIGINT NOT NULL,
	window_end BIGINT NOT NULL,
	raised_at BIGINT NOT NULL,
	state TEXT NOT NULL,
	assignee TEXT NOT NULL,
	changed_by TEXT NOT NULL,
	changed_at BIGINT NOT NULL,
	reason TEXT NOT NULL,
	note TEXT NOT NULL
);
CREATE INDEX alerts_start ON alerts (window_start, id)`,
}}}

// Alert is one alert with its current state.
type Alert struct {
	ID          string    `json:"id"`
	Rule        string    `json:"rule"`
	Severity    string    `json:"severity"`
	Group       string    `json:"group"`
	User        string    `json:"user,omitempty"`
	Summary     string    `json:"summary"`
	Count       int64     `json:"count"`
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	RaisedAt    time.Time `json:"raised_at"`
	State       string    `json:"state"`
	Assignee    string    `json:"assignee,omitempty"`
	// ChangedBy and ChangedAt are who changed the state last and when
	// (empty and zero while the alert is open as raised).
	ChangedBy string     `json:"changed_by,omitempty"`
	ChangedAt *time.Time `json:"changed_at,omitempty"`
	Reason    string     `json:"reason,omitempty"`
	Note      string     `json:"note,omitempty"`
}

// Store keeps alert states beside the credential store's tables.
type Store struct {
	auth *auth.Store
	db   *metadb.DB
	now  func() time.Time
}

// New migrates the alerts component of a's database and returns its store.
func New(ctx context.Context, a *auth.Store) (*Store, error) {
	db := a.DB()
	if err := db.Migrate(ctx, component); err != nil {
		return nil, fmt.Errorf("migrate alerts: %w", err)
	}
	return &Store{auth: a, db: db, now: time.Now}, nil
}

// Emitter makes events durable (ingest's Emit).
type Emitter interface {
	Emit(ctx context.Context, events ...*schema.Event) error
}

// Recording returns an Emitter that records the alert.raised events
// among those it is given and then emits them through next. The rows go
// first: a failure to record them fails the call before anything is in
// the log, so the detector's retry cannot put a second copy of an alert
// there; a failure to emit leaves rows (open, as they will be) that the
// retry finds already recorded.
func (s *Store) Recording(next Emitter) Emitter { return recording{next: next, s: s} }

type recording struct {
	next Emitter
	s    *Store
}

func (r recording) Emit(ctx context.Context, events ...*schema.Event) error {
	if err := r.s.Record(ctx, events...); err != nil {
		return err
	}
	return r.next.Emit(ctx, events...)
}

// Record records the alert.raised events among events, open; an alert
// already recorded keeps its row.
func (s *Store) Record(ctx context.Context, events ...*schema.Event) error {
	var raised []Alert
	for _, e := range events {
		if e.Name() != "alert.raised" {
			continue
		}
		a, err := fromEvent(e)
		if err != nil {
			return err
		}
		raised = append(raised, a)
	}
	if len(raised) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *metadb.Tx) error {
		for _, a := range raised {
			if err := insert(ctx, tx, a); err != nil {
				return err
			}
		}
		return nil
	})
}

func insert(ctx context.Context, tx *metadb.Tx, a Alert) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alerts (id, rule, severity, grp, usr, summary, count, window_start, window_end,
		raised_at, state, assignee, changed_by, changed_at, reason, note)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', '', 0, '', '') ON CONFLICT (id) DO NOTHING`,
		a.ID, a.Rule, a.Severity, a.Group, a.User, a.Summary, a.Count, a.WindowStart.UnixMilli(), a.WindowEnd.UnixMilli(),
		a.RaisedAt.UnixMilli(), Open)
	if err != nil {
		return fmt.Errorf("record alert %s: %w", a.ID, err)
	}
	return nil
}

// fromEvent reads an alert.raised event.
func fromEvent(e *schema.Event) (Alert, error) {
	str := func(f string) string { v, _ := e.String(f); return v }
	a := Alert{ID: e.ID(), Rule: str("rule"), Severity: str("severity"), Group: str("group"), User: str("user"),
		Summary: str("summary"), RaisedAt: e.Timestamp(), State: Open}
	var err error
	if a.Count, err = strconv.ParseInt(string(e.Value("count")), 10, 64); err != nil {
		return Alert{}, fmt.Errorf("alert %s: count: %w", a.ID, err)
	}
	if a.WindowStart, err = time.Parse(time.RFC3339Nano, str("window_start")); err != nil {
		return Alert{}, fmt.Errorf("alert %s: window_start: %w", a.ID, err)
	}
	if a.WindowEnd, err = time.Parse(time.RFC3339Nano, str("window_end")); err != nil {
		return Alert{}, fmt.Errorf("alert %s: window_end: %w", a.ID, err)
	}
	return a, nil
}

const columns = `id, rule, severity, grp, usr, summary, count, window_start, window_end, raised_at, state, assignee, changed_by, changed_at, reason, note`

type scanner interface{ Scan(dest ...any) error }

func scan(r scanner) (Alert, error) {
	var a Alert
	var ws, we, ra, ca int64
	if err := r.Scan(&a.ID, &a.Rule, &a.Severity, &a.Group, &a.User, &a.Summary, &a.Count, &ws, &we, &ra,
		&a.State, &a.Assignee, &a.ChangedBy, &ca, &a.Reason, &a.Note); err != nil {
		return Alert{}, err
	}
	a.WindowStart, a.WindowEnd, a.RaisedAt = time.UnixMilli(ws).UTC(), time.UnixMilli(we).UTC(), time.UnixMilli(ra).UTC()
	if ca != 0 {
		t := time.UnixMilli(ca).UTC()
		a.ChangedAt = &t
	}
	return a, nil
}

// Get returns the alert id.
func (s *Store) Get(ctx context.Context, id string) (Alert, error) {
	a, err := scan(s.db.QueryRowContext(ctx, `SELECT `+columns+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, fmt.Errorf("alert %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Alert{}, fmt.Errorf("read alert %s: %w", id, err)
	}
	return a, nil
}

// Filter selects alerts; empty fields select all. Since and Until bound
// the window start (Until exclusive).
type Filter struct {
	State, Severity, Rule, User string
	Since, Until                time.Time
	// Cursor is the last id of the previous page.
	Cursor string
	Limit  int
}

// Limits of List.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// List returns the alerts f selects, newest window first, and the cursor
// of the next page ("" at the end).
func (s *Store) List(ctx context.Context, f Filter) ([]Alert, string, error) {
	var where []string
	var args []any
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("state", f.State)
	eq("severity", f.Severity)
	eq("rule", f.Rule)
	eq("usr", f.User)
	if !f.Since.IsZero() {
		where = append(where, "window_start >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		where = append(where, "window_start < ?")
		args = append(args, f.Until.UnixMilli())
	}
	if f.Cursor != "" {
		// Ids are ULIDs whose time is the window start: id order is
		// window order.
		where = append(where, "id < ?")
		args = append(args, f.Cursor)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	q := `SELECT ` + columns + ` FROM alerts`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scan(rows)
		if err != nil {
			return nil, "", fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list alerts: %w", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, nil
}

// Change is what a state change may carry.
type Change struct {
	Assignee string `json:"assignee,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Note     string `json:"note,omitempty"`
}

// maxText bounds the texts of a change.
const maxText = 1024

// from lists the states each target state may be reached from:
// resolved and dismissed are final; acknowledging again reassigns.
var from = map[string][]string{
	Acknowledged: {Open, Acknowledged},
	Resolved:     {Open, Acknowledged},
	Dismissed:    {Open, Acknowledged},
}

// RecordRead records, through the metadata database's outbox, that
// caller read alerts without the API (vigil admin alerts list on the
// data directory): an audit.query event with route and filter, as the
// API records its reads.
func (s *Store) RecordRead(ctx context.Context, caller, route, filter string) error {
	return s.auth.Audited(ctx, func(_ *metadb.Tx, rec auth.Recorder) error {
		return rec.Record("audit.query", s.now().UTC().Truncate(time.Millisecond),
			schema.Fields{"caller": caller, "route": route, "filter": filter, "format": "json"})
	})
}

// Set moves alert id to state for caller, with its alert.state event in
// the same transaction, and returns the alert as it is now.
func (s *Store) Set(ctx context.Context, caller, id, state string, c Change) (Alert, error) {
	allowed, ok := from[state]
	if !ok {
		return Alert{}, fmt.Errorf("state %q: %w", state, ErrInvalid)
	}
	for name, v := range map[string]string{"assignee": c.Assignee, "reason": c.Reason, "note": c.Note} {
		if len(v) > maxText {
			return Alert{}, fmt.Errorf("%s longer than %d bytes: %w", name, maxText, ErrInvalid)
		}
	}
	var out Alert
	err := s.auth.Audited(ctx, func(tx *metadb.Tx, rec auth.Recorder) error {
		a, err := scan(tx.QueryRowContext(ctx, `SELECT `+columns+` FROM alerts WHERE id = ?`+tx.Dialect().ForUpdate(), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("alert %s: %w", id, ErrNotFound)
		}
		if err != nil {
			return fmt.Errorf("read alert %s: %w", id, err)
		}
		if !contains(allowed, a.State) {
			return fmt.Errorf("alert %s is %s: %w", id, a.State, ErrConflict)
		}
		now := s.now().UTC().Truncate(time.Millisecond)
		if _, err := tx.ExecContext(ctx, `UPDATE alerts SET state = ?, assignee = ?, changed_by = ?, changed_at = ?, reason = ?, note = ? WHERE id = ?`,
			state, c.Assignee, caller, now.UnixMilli(), c.Reason, c.Note, id); err != nil {
			return fmt.Errorf("update alert %s: %w", id, err)
		}
		if err := rec.Record("alert.state", now, schema.Fields{"alert_id": id, "state": state, "caller": caller,
			"assignee": c.Assignee, "reason": c.Reason, "note": c.Note}); err != nil {
			return err
		}
		a.State, a.Assignee, a.ChangedBy, a.ChangedAt, a.Reason, a.Note = state, c.Assignee, caller, &now, c.Reason, c.Note
		out = a
		if state == Dismissed && a.User != "" && a.User == caller && a.Rule != SelfDismissal {
			return selfDismissal(ctx, tx, rec, a, now)
		}
		return nil
	})
	if err != nil {
		return Alert{}, fmt.Errorf("%s alert %s: %w", state, id, err)
	}
	return out, nil
}

// selfDismissal raises the alert of a's dismissal by its own user.
func selfDismissal(ctx context.Context, tx *metadb.Tx, rec auth.Recorder, a Alert, now time.Time) error {
	start := a.WindowStart.UnixMilli()
	id := SelfDismissalID(a.ID, start)
	f := schema.Fields{
		"event_id": id, "rule": SelfDismissal, "severity": "high", "group": a.User, "user": a.User,
		"summary": cutText(fmt.Sprintf("%s dismissed alert %s (%s) about themselves", a.User, a.ID, a.Rule)),
		"count":   int64(1), "window_start": a.WindowStart, "window_end": a.WindowEnd,
		"evidence": a.ID, "evidence_count": int64(1),
	}
	e, err := schema.New("alert.raised", now, f)
	if err != nil && f["user"] != nil {
		delete(f, "user")
		e, err = schema.New("alert.raised", now, f)
	}
	if err != nil {
		return fmt.Errorf("build self-dismissal alert: %w", err)
	}
	if err := rec.RecordEvent(e); err != nil {
		return err
	}
	r, err := fromEvent(e)
	if err != nil {
		return err
	}
	r.User = a.User
	return insert(ctx, tx, r)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func cutText(s string) string {
	if len(s) <= maxText {
		return s
	}
	i := maxText
	for i > 0 && s[i]&0xc0 == 0x80 {
		i--
	}
	return s[:i]
}

// SelfDismissalID is the id of the alert raised when the alert id,
// whose window started at start (Unix ms), is dismissed by its own user.
func SelfDismissalID(id string, start int64) string {
	return detect.AlertID(SelfDismissal, id, start)
}
