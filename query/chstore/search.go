package chstore

import (
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

// filterCond translates f for the events table. It reports false when f
// can match nothing (a malformed id), so that no query is needed.
func filterCond(f query.Filter) (cond, bool) {
	var c cond
	timeCond(&c, f)
	if f.User != "" {
		c.add("has(users, ?)", strings.ToLower(strings.TrimSpace(f.User)))
	}
	if f.Device != "" {
		c.add("has(devices, ?)", strings.ToLower(strings.TrimSpace(f.Device)))
	}
	if f.SOID != "" {
		soid := strings.ToLower(strings.TrimSpace(f.SOID))
		if len(soid) != 64 || !isHex(soid) {
			return c, false
		}
		// An event naming only the object (link.download's oid) matches
		// on the oid alone.
		c.add("bitAnd(hex_set, ?) = ? AND oid = unhex(?) AND (bitAnd(hex_set, ?) = 0 OR sid = unhex(?))",
			hasOID, hasOID, soid[32:], hasSID, soid[:32])
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
		id := strings.ToLower(strings.TrimSpace(f.Folder))
		if len(id) != 32 || !isHex(id) {
			return c, false
		}
		c.add("bitAnd(hex_set, ?) != 0 AND folder_id = unhex(?)", hasFolderID, id)
	}
	return c, true
}

// timeCond adds the conditions on time, topic and event, which every
// table has.
func timeCond(c *cond, f query.Filter) {
	if !f.Since.IsZero() {
		c.add("time >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
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

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// position is where a page ends: the last event's time and id.
type position struct {
	time int64
	id   string
}

// keyset adds the condition "after p in order o".
func keyset(c *cond, o query.Order, p position) {
	op := "<"
	if o == query.Asc {
		op = ">"
	}
	c.add("(time "+op+" ? OR (time = ? AND event_id "+op+" ?))", p.time, p.time, p.id)
}

func orderBy(o query.Order) string {
	if o == query.Asc {
		return " ORDER BY time ASC, event_id ASC"
	}
	return " ORDER BY time DESC, event_id DESC"
}

// Search returns one page of the events matching p.
func (s *Store) Search(ctx context.Context, p query.Page) (query.Result, error) {
	p.Topics, p.Events = slices.Clone(p.Topics), slices.Clone(p.Events)
	if err := p.Validate(); err != nil {
		return query.Result{}, fmt.Errorf("search: %w", err)
	}
	var after *position
	if p.Cursor != "" {
		c, err := query.ParseCursor(p.Cursor, p.Filter, p.Order)
		if err != nil {
			return query.Result{}, fmt.Errorf("search: %w", err)
		}
		after = &position{c.Time, c.EventID}
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
		res.NextCursor = query.Cursor{Time: last.time, EventID: last.id}.Encode(p.Filter, p.Order)
	}
	return res, nil
}

// streamPage is how many events Stream reads per query.
const streamPage = 10000

// Stream calls fn with every event matching f, in order.
func (s *Store) Stream(ctx context.Context, f query.Filter, order query.Order, fn func(wire []byte) error) error {
	f.Topics, f.Events = slices.Clone(f.Topics), slices.Clone(f.Events)
	if err := f.Validate(); err != nil {
		return fmt.Errorf("stream: %w", err)
	}
	var after *position
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
func (s *Store) page(ctx context.Context, f query.Filter, o query.Order, after *position, limit int, fn func(query.Row) error) (position, bool, error) {
	if onlyUser(f) {
		return s.pageByUser(ctx, f, o, after, limit, fn)
	}
	c, ok := filterCond(f)
	if !ok {
		return position{}, false, nil
	}
	if after != nil {
		keyset(&c, o, *after)
	}
	c.args = append(c.args, limit+1)
	rows, err := s.conn.Query(ctx, "SELECT "+selectColumns+" FROM "+s.db+".events"+c.where()+orderBy(o)+" LIMIT ?", c.args...)
	if err != nil {
		return position{}, false, err
	}
	defer rows.Close()
	var last position
	n, read := 0, 0
	for rows.Next() {
		read++
		r, err := scan(rows)
		if err != nil {
			return position{}, false, err
		}
		// Sorted by (time, event_id), a duplicate that two concurrent
		// writers inserted before a merge sits next to its twin.
		if n > 0 && r.Time == last.time && r.EventID == last.id {
			continue
		}
		if n == limit {
			return last, true, nil
		}
		if err := fn(r); err != nil {
			return position{}, false, err
		}
		n++
		last = position{r.Time, r.EventID}
	}
	if err := rows.Err(); err != nil {
		return position{}, false, err
	}
	// A skipped duplicate may hide one more event.
	return last, read > limit && n > 0, nil
}

// pageByUser reads a page through the user index: the page's ids from
// events_by_user (a range of its (user, time, event_id) key), then their
// rows from events, bounded by the page's times, topics and events.
func (s *Store) pageByUser(ctx context.Context, f query.Filter, o query.Order, after *position, limit int, fn func(query.Row) error) (position, bool, error) {
	var c cond
	c.add("user = ?", strings.ToLower(strings.TrimSpace(f.User)))
	timeCond(&c, f)
	if after != nil {
		keyset(&c, o, *after)
	}
	c.args = append(c.args, limit+1)
	rows, err := s.conn.Query(ctx, "SELECT time, event_id, topic, event FROM "+s.db+".events_by_user"+c.where()+orderBy(o)+" LIMIT ?", c.args...)
	if err != nil {
		return position{}, false, err
	}
	var (
		keys           []position
		topics, events []string
		read           int
		more           bool
	)
	for rows.Next() {
		read++
		var k position
		var topic, event string
		if err := rows.Scan(&k.time, &k.id, &topic, &event); err != nil {
			rows.Close()
			return position{}, false, err
		}
		if len(keys) > 0 && keys[len(keys)-1] == k {
			continue
		}
		if len(keys) == limit {
			more = true
			break
		}
		keys = append(keys, k)
		topics = appendNew(topics, topic)
		events = appendNew(events, event)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return position{}, false, err
	}
	if len(keys) == 0 {
		return position{}, false, nil
	}
	if !more && read > limit {
		more = true
	}
	lo, hi := keys[0].time, keys[len(keys)-1].time
	if lo > hi {
		lo, hi = hi, lo
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.id
	}
	found := make(map[position]query.Row, len(keys))
	rows, err = s.conn.Query(ctx, "SELECT "+selectColumns+" FROM "+s.db+".events"+
		" WHERE topic IN ? AND event IN ? AND time >= ? AND time <= ? AND event_id IN ?",
		set(topics), set(events), lo, hi, set(ids))
	if err != nil {
		return position{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scan(rows)
		if err != nil {
			return position{}, false, err
		}
		found[position{r.Time, r.EventID}] = r
	}
	if err := rows.Err(); err != nil {
		return position{}, false, err
	}
	for _, k := range keys {
		r, ok := found[k]
		if !ok {
			// Retention dropped the event's partition between the two
			// reads; the index's partition goes with it.
			continue
		}
		if err := fn(r); err != nil {
			return position{}, false, err
		}
	}
	return keys[len(keys)-1], more, nil
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
