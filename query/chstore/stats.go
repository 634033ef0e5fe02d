package chstore

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/vigilaudit/vigil/query"
)

// rankBy maps StatsRequest.By to the events table's expression and the
// condition that the event has a value; a fixed list, so no user text
// reaches the SQL.
var rankBy = map[string]struct{ expr, has string }{
	"user":   {"arrayJoin(users)", ""},
	"device": {"arrayJoin(devices)", ""},
	"event":  {"toString(event)", ""},
	"topic":  {"toString(topic)", ""},
	"ip":     {"toString(ip)", "ip != ''"},
	"key":    {"link_key", "link_key != ''"},
	"folder": {"lower(hex(folder_id))", "bitAnd(hex_set, 16) != 0"},
}

// Stats counts the events matching r per time bucket and ranks a field.
// Filters of time, topics and events only, on whole hours, are answered
// from the hourly rollup; others from the events table, read FINAL so
// that a duplicate not yet merged away is counted once.
func (s *Store) Stats(ctx context.Context, r query.StatsRequest) (query.Stats, error) {
	r.Topics, r.Events = slices.Clone(r.Topics), slices.Clone(r.Events)
	if err := r.Validate(); err != nil {
		return query.Stats{}, fmt.Errorf("stats: %w", err)
	}
	table, count := s.db+".events FINAL", "count()"
	var c cond
	ok := true
	if rollupAnswers(r) {
		table, count = s.db+".events_hourly", "sum(n)"
		if !r.Since.IsZero() {
			c.add("hour >= ?", r.Since.UnixMilli())
		}
		if !r.Until.IsZero() {
			c.add("hour < ?", r.Until.UnixMilli())
		}
		f := r.Filter
		f.Since, f.Until = time.Time{}, time.Time{}
		timeCond(&c, f)
	} else {
		c, ok = filterCond(r.Filter)
	}
	var out query.Stats
	if !ok {
		return out, nil
	}
	from := " FROM " + table + c.where()
	timeCol := "time"
	if table == s.db+".events_hourly" {
		timeCol = "hour"
	}

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
		if err := rows.Err(); err != nil {
			rows.Close()
			return query.Stats{}, fmt.Errorf("stats: buckets: %w", err)
		}
		rows.Close()
	}

	if r.By != "" {
		rb, ok := rankBy[r.By]
		if !ok {
			return query.Stats{}, fmt.Errorf("stats: cannot rank by %q", r.By)
		}
		where := c.where()
		if rb.has != "" {
			if where == "" {
				where = " WHERE " + rb.has
			} else {
				where += " AND " + rb.has
			}
		}
		args := append(slices.Clone(c.args), r.Top)
		// An exact GROUP BY rather than topK: topK is approximate, and
		// counts shown next to each other must add up.
		rows, err := s.conn.Query(ctx, "SELECT "+rb.expr+" AS v, toUInt64("+count+") AS n FROM "+table+where+
			" GROUP BY v ORDER BY n DESC, v ASC LIMIT ?", args...)
		if err != nil {
			return query.Stats{}, fmt.Errorf("stats: top %s: %w", r.By, err)
		}
		defer rows.Close()
		for rows.Next() {
			var v string
			var n uint64
			if err := rows.Scan(&v, &n); err != nil {
				return query.Stats{}, fmt.Errorf("stats: top %s: %w", r.By, err)
			}
			out.Top = append(out.Top, query.Count{Value: v, Count: int64(n)})
		}
		if err := rows.Err(); err != nil {
			return query.Stats{}, fmt.Errorf("stats: top %s: %w", r.By, err)
		}
	}
	return out, nil
}

// rollupAnswers reports whether the hourly rollup holds the answer to r:
// no filter but time, topics and events, whole hours, and a ranking (if
// any) by event or topic.
func rollupAnswers(r query.StatsRequest) bool {
	f := r.Filter
	if f.User != "" || f.Device != "" || f.SOID != "" || f.Path != "" || f.IP != "" || f.Key != "" || f.Folder != "" {
		return false
	}
	hourly := func(t time.Time) bool { return t.IsZero() || t.UnixMilli()%time.Hour.Milliseconds() == 0 }
	if !hourly(f.Since) || !hourly(f.Until) || r.Bucket%time.Hour != 0 {
		return false
	}
	return r.By == "" || r.By == "event" || r.By == "topic"
}
