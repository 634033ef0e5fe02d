package chstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/query"
)

// rankBy maps StatsRequest.By to the events table's expression and the
// condition that the event has a value; a fixed list, so no user text
// reaches the SQL. Coded ranks count dictionary codes, which Stats turns
// back into values.
var rankBy = map[string]struct {
	expr, has string
	coded     bool
}{
	query.RankUser:   {"arrayJoin(" + userList + ")", "", true},
	query.RankDevice: {"arrayJoin(arrayFilter(x -> x != 0, arrayConcat([d0], devices)))", "", true},
	query.RankEvent:  {"toString(event)", "", false},
	query.RankTopic:  {"toString(topic)", "", false},
	query.RankIP:     {"toString(ip)", "ip != ''", false},
	query.RankKey:    {"link_key", "link_key != ''", false},
	query.RankFolder: {"folder_id", "folder_id != 0", true},
}

// Stats counts the events matching r per time bucket and ranks a field.
// Filters of time, topics and events only, on whole hours, are answered
// from the hourly rollup (and a ranking by user on whole days from the
// daily one); others from the events table, read FINAL so that a
// duplicate not yet merged away is counted once.
func (s *Store) Stats(ctx context.Context, r query.StatsRequest) (query.Stats, error) {
	r, err := r.Checked()
	if err != nil {
		return query.Stats{}, fmt.Errorf("stats: %w", err)
	}
	if err := s.ready(ctx); err != nil {
		return query.Stats{}, fmt.Errorf("stats: %w", err)
	}
	var out query.Stats
	if r.By != "" {
		if _, ok := rankBy[r.By]; !ok {
			return query.Stats{}, fmt.Errorf("stats: cannot rank by %q", r.By)
		}
	}
	events, ok, err := s.filterCond(ctx, r.Filter)
	if err != nil {
		return query.Stats{}, fmt.Errorf("stats: %w", err)
	}
	if !ok {
		return out, nil
	}
	eventsTable := s.db + ".events FINAL"

	table, count, timeCol, c := eventsTable, "count()", "time", events
	if r.CountRollup() == query.Hourly {
		table, count, timeCol = s.db+".events_hourly", "sum(n)", "hour"
		c = cond{}
		rollupCond(&c, r.Filter, "hour")
	}
	from := " FROM " + table + c.where()

	var total uint64
	if err := s.conn.QueryRow(ctx, "SELECT toUInt64("+count+")"+from, c.args...).Scan(&total); err != nil {
		return query.Stats{}, fmt.Errorf("stats: count: %w", err)
	}
	out.Total = int64(total)

	if r.Bucket > 0 {
		ms := r.Bucket.Milliseconds()
		args := append([]any{ms, ms}, c.args...)
		rows, err := s.conn.Query(ctx, "SELECT intDiv("+timeCol+", ?) * ? AS b, toUInt64("+count+") AS n"+from+" GROUP BY b ORDER BY b", args...)
		if err != nil {
			return query.Stats{}, fmt.Errorf("stats: buckets: %w", err)
		}
		for rows.Next() {
			var start int64
			var n uint64
			if err := rows.Scan(&start, &n); err != nil {
				rows.Close()
				return query.Stats{}, fmt.Errorf("stats: buckets: %w", err)
			}
			out.Buckets = append(out.Buckets, query.Bucket{Start: time.UnixMilli(start).UTC(), Count: int64(n)})
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return query.Stats{}, fmt.Errorf("stats: buckets: %w", err)
		}
	}

	if r.By != "" {
		rb := rankBy[r.By]
		expr, table, count, c := rb.expr, eventsTable, "count()", events
		switch r.RankRollup() {
		case query.Hourly:
			table, count = s.db+".events_hourly", "sum(n)"
			c = cond{}
			rollupCond(&c, r.Filter, "hour")
		case query.DailyUsers:
			expr, table, count = "user", s.db+".users_daily", "sum(n)"
			c = cond{}
			rollupCond(&c, r.Filter, "day")
		}
		if rb.has != "" && table == eventsTable {
			c.parts, c.args = append(slices.Clone(c.parts), rb.has), slices.Clone(c.args)
		}
		if out.Top, err = s.rank(ctx, rb.coded, expr, count, table, c, r.Top); err != nil {
			return query.Stats{}, fmt.Errorf("stats: top %s: %w", r.By, err)
		}
	}
	return out, nil
}

// rank returns the top values of expr by count. An exact GROUP BY rather
// than topK: topK is approximate, and counts shown next to each other must
// add up. Ties are ordered by value.
func (s *Store) rank(ctx context.Context, coded bool, expr, count, table string, c cond, top int) ([]query.Count, error) {
	if top < 1 {
		return nil, nil
	}
	if !coded {
		args := append(slices.Clone(c.args), top)
		rows, err := s.conn.Query(ctx, "SELECT "+expr+" AS v, toUInt64("+count+") AS n FROM "+table+c.where()+
			" GROUP BY v ORDER BY n DESC, v ASC LIMIT ?", args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []query.Count
		for rows.Next() {
			var v string
			var n uint64
			if err := rows.Scan(&v, &n); err != nil {
				return nil, err
			}
			out = append(out, query.Count{Value: v, Count: int64(n)})
		}
		return out, rows.Err()
	}
	// Codes: a value that two writers coded at once has two, which count
	// as the smaller (string_aliases).
	from, to, err := s.dict.aliases(ctx)
	if err != nil {
		return nil, err
	}
	args := slices.Clone(c.args)
	if len(from) > 0 {
		expr = "transform(toUInt32(" + expr + "), ?, ?, toUInt32(" + expr + "))"
		args = append([]any{from, to}, args...)
	}
	rows, err := s.conn.Query(ctx, "SELECT toUInt32("+expr+") AS v, toUInt64("+count+") AS n FROM "+table+c.where()+
		" GROUP BY v ORDER BY n DESC", args...)
	if err != nil {
		return nil, err
	}
	// Read down to the top-th count and every tie with it: the order
	// among ties is by value, which only the decoded values tell.
	var codes []uint32
	var counts []uint64
	for rows.Next() {
		var v uint32
		var n uint64
		if err := rows.Scan(&v, &n); err != nil {
			rows.Close()
			return nil, err
		}
		if len(counts) >= top && n < counts[top-1] {
			break
		}
		codes, counts = append(codes, v), append(counts, n)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, err
	}
	value, err := s.dict.decode(ctx, codes)
	if err != nil {
		return nil, err
	}
	out := make([]query.Count, len(codes))
	for i, code := range codes {
		v, err := value(code)
		if err != nil {
			return nil, err
		}
		out[i] = query.Count{Value: v, Count: int64(counts[i])}
	}
	slices.SortFunc(out, func(a, b query.Count) int {
		if a.Count != b.Count {
			if a.Count > b.Count {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Value, b.Value)
	})
	return out[:min(top, len(out))], nil
}

// rollupCond adds a rollup's conditions: its time column col, topics and
// events.
func rollupCond(c *cond, f query.Filter, col string) {
	if !f.Since.IsZero() {
		c.add(col+" >= ?", f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		c.add(col+" < ?", f.Until.UnixMilli())
	}
	f.Since, f.Until = time.Time{}, time.Time{}
	timeCond(c, f, false)
}
