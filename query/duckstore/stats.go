package duckstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/query"
)

// rankColumns maps StatsRequest.By to a column; users and devices are
// lists, unnested.
var rankColumns = map[string]string{
	query.RankUser:   "unnest(users)",
	query.RankDevice: "unnest(devices)",
	query.RankEvent:  "event",
	query.RankTopic:  "topic",
	query.RankIP:     "ip",
	query.RankKey:    "link_key",
	query.RankFolder: "folder_id",
}

// Stats counts matching events. A filter of only time, topics and events
// on whole hours is counted from events_hourly, and ranked by user on
// whole days from users_daily; everything else from events.
func (s *Store) Stats(ctx context.Context, req query.StatsRequest) (query.Stats, error) {
	req, err := req.Checked()
	if err != nil {
		return query.Stats{}, err
	}
	where, args := whereOf(req.Filter, nil, query.Asc)
	table, count, timeCol := "events", "count(*)", "time"
	cwhere, cargs := where, args
	if req.CountRollup() == query.Hourly {
		table, count, timeCol = "events_hourly", "sum(n)", "hour"
		cwhere, cargs = rollupWhere(req.Filter, "hour")
	}
	var st query.Stats
	var total sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT "+count+" FROM "+table+cwhere, cargs...).Scan(&total); err != nil {
		return query.Stats{}, fmt.Errorf("count events: %w", err)
	}
	st.Total = total.Int64
	if req.Bucket > 0 {
		ms := req.Bucket.Milliseconds()
		q := "SELECT (" + timeCol + " // ?) * ? AS b, " + count + " FROM " + table + cwhere + " GROUP BY b ORDER BY b"
		rows, err := s.db.QueryContext(ctx, q, append([]any{ms, ms}, cargs...)...)
		if err != nil {
			return query.Stats{}, fmt.Errorf("count events per bucket: %w", err)
		}
		for rows.Next() {
			var start, n int64
			if err := rows.Scan(&start, &n); err != nil {
				rows.Close()
				return query.Stats{}, fmt.Errorf("count events per bucket: %w", err)
			}
			st.Buckets = append(st.Buckets, query.Bucket{Start: time.UnixMilli(start).UTC(), Count: n})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return query.Stats{}, fmt.Errorf("count events per bucket: %w", err)
		}
	}
	if req.By != "" {
		col, ok := rankColumns[req.By]
		if !ok {
			return query.Stats{}, &query.ParamError{Param: "by", Reason: "cannot rank " + req.By}
		}
		q := "SELECT v, count(*) AS n FROM (SELECT " + col + " AS v FROM events" + where + ") WHERE v <> '' GROUP BY v ORDER BY n DESC, v LIMIT ?"
		rargs := args
		switch req.RankRollup() {
		case query.Hourly:
			w, a := rollupWhere(req.Filter, "hour")
			q, rargs = "SELECT "+col+" AS v, sum(n) AS n FROM events_hourly"+w+" GROUP BY v ORDER BY n DESC, v LIMIT ?", a
		case query.DailyUsers:
			w, a := rollupWhere(req.Filter, "day")
			q, rargs = `SELECT "user" AS v, sum(n) AS n FROM users_daily`+w+" GROUP BY v ORDER BY n DESC, v LIMIT ?", a
		}
		rows, err := s.db.QueryContext(ctx, q, append(slices.Clone(rargs), req.Top)...)
		if err != nil {
			return query.Stats{}, fmt.Errorf("rank events by %s: %w", req.By, err)
		}
		for rows.Next() {
			var c query.Count
			if err := rows.Scan(&c.Value, &c.Count); err != nil {
				rows.Close()
				return query.Stats{}, fmt.Errorf("rank events by %s: %w", req.By, err)
			}
			st.Top = append(st.Top, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return query.Stats{}, fmt.Errorf("rank events by %s: %w", req.By, err)
		}
	}
	return st, nil
}

// rollupWhere is whereOf for a rollup whose time column is col.
func rollupWhere(f query.Filter, col string) (string, []any) {
	g := query.Filter{Topics: f.Topics, Events: f.Events}
	where, args := whereOf(g, nil, query.Asc)
	var conds []string
	if !f.Since.IsZero() {
		conds = append(conds, col+" >= ?")
		args = append(args, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		conds = append(conds, col+" < ?")
		args = append(args, f.Until.UnixMilli())
	}
	if len(conds) == 0 {
		return where, args
	}
	if where == "" {
		return " WHERE " + strings.Join(conds, " AND "), args
	}
	return where + " AND " + strings.Join(conds, " AND "), args
}
