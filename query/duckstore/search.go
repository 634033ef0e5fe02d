package duckstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/vigilaudit/vigil/query"
)

// Search returns one page of events.
func (s *Store) Search(ctx context.Context, p query.Page) (query.Result, error) {
	p, err := p.Checked()
	if err != nil {
		return query.Result{}, err
	}
	var after *query.Cursor
	if p.Cursor != "" {
		c, err := query.ParseCursor(p.Cursor, p.Filter, p.Order)
		if err != nil {
			return query.Result{}, err
		}
		after = &c
	}
	where, args := whereOf(p.Filter, after, p.Order)
	// A user's events are found by searching every event's users list,
	// which costs the same per row read whichever way: one scan of the
	// filter is fastest for them (measured at 10M events). Other searches
	// read the page's keys from a window first (query.Window), then the
	// page.
	keysFirst := p.Filter.User == ""
	var win query.Window
	if keysFirst {
		win = s.window(ctx, p.Filter, p.Order, after)
	}
	for {
		wwhere, wargs := where, slices.Clone(args)
		if b, ok := win.Bound(); ok {
			// The window's SQL holds only a number of its own making.
			window := "time >= " + strconv.FormatInt(b.Since.UnixMilli(), 10)
			if p.Order == query.Asc {
				window = "time < " + strconv.FormatInt(b.Until.UnixMilli(), 10)
			}
			if wwhere == "" {
				wwhere = " WHERE " + window
			} else {
				wwhere += " AND " + window
			}
		}
		wargs = append(wargs, p.Limit+1)
		if !keysFirst {
			res, err := s.searchRows(ctx, "SELECT "+readColumns+" FROM events"+wwhere+orderBy(p.Order)+" LIMIT ?", wargs, p)
			if err != nil {
				return query.Result{}, fmt.Errorf("search events: %w", err)
			}
			return res, nil
		}
		// The page's keys first: DuckDB sorts whole rows before a LIMIT,
		// and keys are a fraction of them.
		keys, err := s.keys(ctx, "SELECT time, event_id FROM events"+wwhere+orderBy(p.Order)+" LIMIT ?", wargs)
		if err != nil {
			return query.Result{}, fmt.Errorf("search events: %w", err)
		}
		if win.Widen(len(keys), p.Limit) {
			continue
		}
		if len(keys) == 0 {
			return query.Result{}, nil
		}
		lo, hi := keys[0].Time, keys[len(keys)-1].Time
		if lo > hi {
			lo, hi = hi, lo
		}
		marks := make([]string, len(keys))
		kargs := []any{lo, hi}
		for i, k := range keys {
			marks[i] = "?"
			kargs = append(kargs, k.EventID)
		}
		// event_ids are unique in events (Write): these are the page's
		// rows, and the one after it.
		kargs = append(kargs, p.Limit+1)
		q := "SELECT " + readColumns + " FROM events WHERE time >= ? AND time <= ? AND event_id IN (" + strings.Join(marks, ", ") + ")" +
			orderBy(p.Order) + " LIMIT ?"
		res, err := s.searchRows(ctx, q, kargs, p)
		if err != nil {
			return query.Result{}, fmt.Errorf("search events: %w", err)
		}
		return res, nil
	}
}

// searchRows runs a query of up to p.Limit+1 rows and makes the page.
func (s *Store) searchRows(ctx context.Context, q string, args []any, p query.Page) (query.Result, error) {
	var res query.Result
	var last query.Row
	err := s.scan(ctx, q, args, func(r *query.Row, wire []byte) error {
		if len(res.Events) == p.Limit {
			res.NextCursor = query.Cursor{Time: last.Time, EventID: last.EventID}.Encode(p.Filter, p.Order)
			return errStop
		}
		res.Events = append(res.Events, wire)
		last = *r
		return nil
	})
	return res, err
}

// keys runs a query of (time, event_id).
func (s *Store) keys(ctx context.Context, q string, args []any) ([]query.Cursor, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []query.Cursor
	for rows.Next() {
		var k query.Cursor
		if err := rows.Scan(&k.Time, &k.EventID); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// window returns the first window of a search (query.Window) over the
// hourly rollup's first and last hours. Without them the search reads
// unbounded.
func (s *Store) window(ctx context.Context, f query.Filter, o query.Order, after *query.Cursor) query.Window {
	var lo, hi sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT min(hour), max(hour) + 3600000 FROM events_hourly").Scan(&lo, &hi); err != nil || !lo.Valid {
		return query.Window{}
	}
	return query.NewWindow(lo.Int64, hi.Int64, f, o, after)
}

var errStop = errors.New("stop")

// Stream calls fn with every matching event, in order.
func (s *Store) Stream(ctx context.Context, f query.Filter, order query.Order, fn func(wire []byte) error) error {
	f, err := f.Checked()
	if err != nil {
		return err
	}
	if order != query.Asc && order != query.Desc {
		return &query.ParamError{Param: "order", Reason: "must be asc or desc"}
	}
	where, args := whereOf(f, nil, order)
	q := "SELECT " + readColumns + " FROM events" + where + orderBy(order)
	var fnErr error
	err = s.scan(ctx, q, args, func(_ *query.Row, wire []byte) error {
		if err := fn(wire); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr // the caller's own error, unwrapped
	}
	if err != nil {
		return fmt.Errorf("stream events: %w", err)
	}
	return nil
}

func orderBy(o query.Order) string {
	if o == query.Asc {
		return " ORDER BY time, event_id"
	}
	return " ORDER BY time DESC, event_id DESC"
}

// whereOf builds the WHERE clause of a validated filter. Every value is a
// bound parameter; the SQL text holds only fixed column names.
func whereOf(f query.Filter, after *query.Cursor, o query.Order) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, a ...any) {
		conds = append(conds, cond)
		args = append(args, a...)
	}
	if !f.Since.IsZero() {
		add("time >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		add("time < ?", f.Until.UnixMilli())
	}
	if len(f.Topics) > 0 {
		marks := make([]string, len(f.Topics))
		for i, t := range f.Topics {
			marks[i] = "?"
			args = append(args, string(t))
		}
		conds = append(conds, "topic IN ("+strings.Join(marks, ", ")+")")
	}
	if len(f.Events) > 0 {
		marks := make([]string, len(f.Events))
		for i, e := range f.Events {
			marks[i] = "?"
			args = append(args, e)
		}
		conds = append(conds, "event IN ("+strings.Join(marks, ", ")+")")
	}
	if f.User != "" {
		add("list_contains(users, ?)", f.User)
	}
	if f.Device != "" {
		add("list_contains(devices, ?)", f.Device)
	}
	if f.SOID != "" {
		// link.download names only the object.
		add("oid = ? AND (sid = ? OR sid = '')", f.SOID[32:], f.SOID[:32])
	}
	if f.Path != "" {
		add("((path_sid <> '' AND starts_with(path, ?)) OR (path_to_sid <> '' AND starts_with(path_to, ?)))", f.Path, f.Path)
	}
	if f.IP != "" {
		add("ip = ?", f.IP)
	}
	if f.Key != "" {
		add("link_key = ?", f.Key)
	}
	if f.Folder != "" {
		add("folder_id = ?", f.Folder)
	}
	if after != nil {
		op := "<"
		if o == query.Asc {
			op = ">"
		}
		add("(time "+op+" ? OR (time = ? AND event_id "+op+" ?))", after.Time, after.Time, after.EventID)
	}
	if len(conds) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}
