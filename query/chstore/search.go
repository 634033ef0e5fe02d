package chstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"

	"github.com/vigilaudit/vigil/query"
)

// cond is a WHERE clause under construction: SQL text with ? placeholders
// and their arguments, bound by the driver. User values only ever go in
// args; the text holds only this package's identifiers.
type cond struct {
	parts []string
	args  []any
}

func (c *cond) add(sql string, args ...any) {
	c.parts = append(c.parts, sql)
	c.args = append(c.args, args...)
}

func (c *cond) where() string {
	if len(c.parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(c.parts, " AND ")
}

// dayExpr is the events table's day, as its sort key spells it: 18.16
// prunes granules on a key expression only when a condition names that
// expression, so every time condition comes with one on the day.
const dayExpr = "intDiv(time, 86400000)"

// dayOf is dayExpr of a time. Both divisions round toward zero, which
// keeps the day monotonic in time: time >= t implies day >= dayOf(t).
func dayOf(ms int64) int64 { return ms / 86400000 }

// filterCond translates f for the events table. It reports false when f
// can match nothing (an identifier never stored, a malformed id), so that
// no query is needed.
func (s *Store) filterCond(ctx context.Context, f query.Filter) (cond, bool, error) {
	var c cond
	timeCond(&c, f, true)
	codes := func(v string) ([]uint32, bool, error) {
		cs, err := s.dict.codesOf(ctx, strings.ToLower(strings.TrimSpace(v)))
		return cs, len(cs) > 0, err
	}
	if f.User != "" {
		cs, ok, err := codes(f.User)
		if !ok || err != nil {
			return c, false, err
		}
		c.add("(u0 IN ? OR hasAny(users, ?))", codeSet(cs), cs)
	}
	if f.Device != "" {
		cs, ok, err := codes(f.Device)
		if !ok || err != nil {
			return c, false, err
		}
		c.add("(d0 IN ? OR hasAny(devices, ?))", codeSet(cs), cs)
	}
	if f.SOID != "" {
		soid := strings.ToLower(strings.TrimSpace(f.SOID))
		if len(soid) != 64 {
			return c, false, nil
		}
		oids, ok, err := codes(soid[32:])
		if !ok || err != nil {
			return c, false, err
		}
		// An event naming only the object (link.download's oid) matches
		// on the oid alone.
		sids, _, err := codes(soid[:32])
		if err != nil {
			return c, false, err
		}
		c.add("oid IN ? AND (sid = 0 OR sid IN ?)", codeSet(oids), codeSet(append(sids, codeNone)))
	}
	if f.Path != "" {
		c.add("(startsWith(path, ?) OR startsWith(path_to, ?))", f.Path, f.Path)
	}
	if f.IP != "" {
		c.add("ip = ?", strings.TrimSpace(f.IP))
	}
	if f.Key != "" {
		c.add("link_key = ?", f.Key)
	}
	if f.Folder != "" {
		cs, ok, err := codes(f.Folder)
		if !ok || err != nil {
			return c, false, err
		}
		c.add("folder_id IN ?", codeSet(cs))
	}
	return c, true, nil
}

// timeCond adds the conditions on time, topic and event, which every
// table has; day adds the events table's day key (see dayExpr).
func timeCond(c *cond, f query.Filter, day bool) {
	if !f.Since.IsZero() {
		if day {
			c.add(dayExpr+" >= ?", dayOf(f.Since.UnixMilli()))
		}
		c.add("time >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		if day {
			c.add(dayExpr+" <= ?", dayOf(f.Until.UnixMilli()))
		}
		c.add("time < ?", f.Until.UnixMilli())
	}
	if len(f.Topics) > 0 {
		ts := make([]string, len(f.Topics))
		for i, t := range f.Topics {
			ts[i] = string(t)
		}
		c.add("topic IN ?", set(ts))
	}
	if len(f.Events) > 0 {
		c.add("event IN ?", set(f.Events))
	}
}

// onlyUser reports whether the user index can answer f alone: a user,
// and otherwise only time, topics and events.
func onlyUser(f query.Filter) bool {
	return f.User != "" && f.Device == "" && f.SOID == "" && f.Path == "" && f.IP == "" && f.Key == "" && f.Folder == ""
}

// keyset adds the condition "after p in order o".
func keyset(c *cond, o query.Order, p query.Cursor) {
	op := "<"
	if o == query.Asc {
		op = ">"
	}
	c.add("(time "+op+" ? OR (time = ? AND event_id "+op+" ?))", p.Time, p.Time, p.EventID)
}

func orderBy(o query.Order) string {
	if o == query.Asc {
		return " ORDER BY time ASC, event_id ASC"
	}
	return " ORDER BY time DESC, event_id DESC"
}

// Search returns one page of the events matching p.
func (s *Store) Search(ctx context.Context, p query.Page) (query.Result, error) {
	p, err := p.Checked()
	if err != nil {
		return query.Result{}, fmt.Errorf("search: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return query.Result{}, fmt.Errorf("search: %w", err)
	}
	var after *query.Cursor
	if p.Cursor != "" {
		c, err := query.ParseCursor(p.Cursor, p.Filter, p.Order)
		if err != nil {
			return query.Result{}, fmt.Errorf("search: %w", err)
		}
		after = &c
	}
	var res query.Result
	last, more, err := s.page(ctx, p.Filter, p.Order, after, p.Limit, func(r query.Row) error {
		w, err := r.Wire()
		if err != nil {
			return err
		}
		res.Events = append(res.Events, w)
		return nil
	})
	if err != nil {
		return query.Result{}, fmt.Errorf("search: %w", err)
	}
	if more {
		res.NextCursor = last.Encode(p.Filter, p.Order)
	}
	return res, nil
}

// streamPage is how many events Stream reads per query.
const streamPage = 10000

// Stream calls fn with every event matching f, in order.
func (s *Store) Stream(ctx context.Context, f query.Filter, order query.Order, fn func(wire []byte) error) error {
	f, err := f.Checked()
	if err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	var after *query.Cursor
	var buf []byte
	for {
		last, more, err := s.page(ctx, f, order, after, streamPage, func(r query.Row) error {
			var err error
			if buf, err = r.AppendWire(buf[:0]); err != nil {
				return err
			}
			return fn(buf)
		})
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		if !more {
			return nil
		}
		after = &last
	}
}

// page reads up to limit events after a position, calling fn with each. It
// returns the last event's position and whether more may follow.
func (s *Store) page(ctx context.Context, f query.Filter, o query.Order, after *query.Cursor, limit int, fn func(query.Row) error) (query.Cursor, bool, error) {
	if onlyUser(f) {
		return s.pageByUser(ctx, f, o, after, limit, fn)
	}
	c, ok, err := s.filterCond(ctx, f)
	if err != nil || !ok {
		return query.Cursor{}, false, err
	}
	rows, err := s.ordered(ctx, f, c, o, after, limit+1)
	if err != nil {
		return query.Cursor{}, false, err
	}
	return emit(rows, limit, fn)
}

// emit calls fn with the first limit of rows, which are in order, skipping
// a duplicate that two concurrent writers inserted before a merge (sorted
// by (time, event_id), it sits next to its twin). It returns the last
// position and whether more rows may follow.
func emit(rows []query.Row, limit int, fn func(query.Row) error) (query.Cursor, bool, error) {
	var last query.Cursor
	n := 0
	for _, r := range rows {
		if n > 0 && r.Time == last.Time && r.EventID == last.EventID {
			continue
		}
		if n == limit {
			return last, true, nil
		}
		if err := fn(r); err != nil {
			return query.Cursor{}, false, err
		}
		n++
		last = query.Cursor{Time: r.Time, EventID: r.EventID}
	}
	// A skipped duplicate may hide one more row.
	return last, n > 0 && len(rows) > limit, nil
}

// ordered returns the first n rows of the events table that match c
// (made from f), in order o after a position.
func (s *Store) ordered(ctx context.Context, f query.Filter, c cond, o query.Order, after *query.Cursor, n int) ([]query.Row, error) {
	if after != nil {
		c.parts, c.args = slices.Clone(c.parts), slices.Clone(c.args)
		keyset(&c, o, *after)
	}
	w := s.window(ctx, f, o, after)
	for {
		wc := c
		wc.parts, wc.args = slices.Clone(c.parts), slices.Clone(c.args)
		if b, ok := w.Bound(); ok {
			timeCond(&wc, b, true)
		}
		wc.args = append(wc.args, n)
		rows, err := s.read(ctx, "SELECT "+selectColumns+" FROM "+s.db+".events"+wc.where()+orderBy(o)+" LIMIT ?", wc.args...)
		if err != nil {
			return nil, err
		}
		if w.Widen(len(rows), n-1) {
			continue
		}
		return rows, nil
	}
}

// window returns the first window of a search (query.Window) over the
// rollup's first and last hours: 18.16 sorts every match before it
// applies LIMIT. Without them the search reads unbounded.
func (s *Store) window(ctx context.Context, f query.Filter, o query.Order, after *query.Cursor) query.Window {
	lo, hi, err := s.timeRange(ctx)
	if err != nil {
		return query.Window{}
	}
	return query.NewWindow(lo, hi, f, o, after)
}

// timeRange returns the first and the last hour the rollup counts events
// in (the end of the last one): the bounds of the events table, cheaply.
func (s *Store) timeRange(ctx context.Context) (lo, hi int64, err error) {
	var n uint64
	err = s.conn.QueryRow(ctx, "SELECT min(hour), max(hour) + 3600000, count() FROM "+s.db+".events_hourly").Scan(&lo, &hi, &n)
	if n == 0 {
		return 0, 0, err
	}
	return lo, hi, err
}

// read runs a query of selectColumns on the events table and decodes
// its rows.
func (s *Store) read(ctx context.Context, q string, args ...any) ([]query.Row, error) {
	rows, err := s.conn.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var sts []stored
	var codes []uint32
	for rows.Next() {
		st, err := scan(rows)
		if err != nil {
			return nil, err
		}
		codes = st.codes(codes)
		sts = append(sts, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	value, err := s.dict.decode(ctx, codes)
	if err != nil {
		return nil, err
	}
	out := make([]query.Row, len(sts))
	for i := range sts {
		if out[i], err = sts[i].decode(value); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// pageByUser reads a page of one user's events through the user index:
// their ids from events_by_user (a range of its (user, time, event_id)
// key), then their rows from events.
func (s *Store) pageByUser(ctx context.Context, f query.Filter, o query.Order, after *query.Cursor, limit int, fn func(query.Row) error) (query.Cursor, bool, error) {
	users, err := s.dict.codesOf(ctx, strings.ToLower(strings.TrimSpace(f.User)))
	if err != nil || len(users) == 0 {
		return query.Cursor{}, false, err
	}
	rows, err := s.byIndex(ctx, f, users, o, after, limit+1)
	if err != nil {
		return query.Cursor{}, false, err
	}
	slices.SortFunc(rows, func(a, b query.Row) int {
		c := cmp.Compare(a.Time, b.Time)
		if c == 0 {
			c = strings.Compare(a.EventID, b.EventID)
		}
		if o == query.Desc {
			c = -c
		}
		return c
	})
	return emit(rows, limit, fn)
}

// byIndex returns the first n events, in order o after a position, that
// name one of the user codes (events_by_user), in no particular order. It
// reads the index's keys, then the events table bounded by their times,
// topics and events.
func (s *Store) byIndex(ctx context.Context, f query.Filter, users []uint32, o query.Order, after *query.Cursor, n int) ([]query.Row, error) {
	var c cond
	c.add("user IN ?", codeSet(users))
	timeCond(&c, f, false)
	if after != nil {
		keyset(&c, o, *after)
	}
	c.args = append(c.args, n)
	rows, err := s.conn.Query(ctx, "SELECT time, event_id, topic, event FROM "+s.db+".events_by_user"+c.where()+orderBy(o)+" LIMIT ?", c.args...)
	if err != nil {
		return nil, err
	}
	var (
		keys           []query.Cursor
		topics, events []string
	)
	for rows.Next() {
		var k query.Cursor
		var topic, event string
		if err := rows.Scan(&k.Time, &k.EventID, &topic, &event); err != nil {
			rows.Close()
			return nil, err
		}
		keys = append(keys, k)
		topics = appendNew(topics, topic)
		events = appendNew(events, event)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, nil
	}
	lo, hi := keys[0].Time, keys[len(keys)-1].Time
	if lo > hi {
		lo, hi = hi, lo
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.EventID
	}
	// An event whose partition retention dropped between the two reads
	// is simply not found; the index's partition goes with it.
	return s.read(ctx, "SELECT "+selectColumns+" FROM "+s.db+".events"+
		" WHERE topic IN ? AND event IN ? AND "+dayExpr+" >= ? AND "+dayExpr+" <= ? AND time >= ? AND time <= ? AND event_id IN ?",
		set(topics), set(events), dayOf(lo), dayOf(hi), lo, hi, set(ids))
}

func appendNew(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// set binds a list for "x IN ?": the driver spells a GroupSet as
// ('a', 'b'), a plain slice as an array.
func set(ss []string) clickhouse.GroupSet {
	v := make([]any, len(ss))
	for i, s := range ss {
		v[i] = s
	}
	return clickhouse.GroupSet{Value: v}
}

// codeSet binds a list of codes for "x IN ?".
func codeSet(cs []uint32) clickhouse.GroupSet {
	v := make([]any, len(cs))
	for i, c := range cs {
		v[i] = c
	}
	return clickhouse.GroupSet{Value: v}
}
