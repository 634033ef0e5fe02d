package duckstore

import (
	"cmp"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// schemaSQL creates the events table. Rows are appended in arrival order,
// which is close to time order, each batch sorted by time, so DuckDB's
// per-row-group min/max of time prune time ranges.
//
// event_id has no PRIMARY KEY: keeping its ART index up to date made
// BenchmarkWrite three times slower, and the index grows with the table
// (in memory too). Write deduplicates instead (see dedupSQL). Databases
// created with the key keep it; the dedup works the same on them.
const schemaSQL = `CREATE TABLE IF NOT EXISTS events (
	time BIGINT NOT NULL,
	received_at BIGINT NOT NULL,
	topic VARCHAR NOT NULL,
	event VARCHAR NOT NULL,
	event_id VARCHAR NOT NULL,
	submitter_user VARCHAR NOT NULL,
	submitter_device VARCHAR NOT NULL,
	users VARCHAR[] NOT NULL,
	devices VARCHAR[] NOT NULL,
	sid VARCHAR NOT NULL,
	oid VARCHAR NOT NULL,
	path_sid VARCHAR NOT NULL,
	path VARCHAR NOT NULL,
	path_to_sid VARCHAR NOT NULL,
	path_to VARCHAR NOT NULL,
	ip VARCHAR NOT NULL,
	link_key VARCHAR NOT NULL,
	folder_id VARCHAR NOT NULL,
	folder_name VARCHAR NOT NULL,
	role VARCHAR[] NOT NULL,
	old_role VARCHAR[] NOT NULL,
	new_role VARCHAR[] NOT NULL,
	operations VARCHAR[] NOT NULL,
	rest VARCHAR NOT NULL
)`

// rollupSQL creates the rollups that Write keeps up to date in the same
// transaction as events: counts per (hour, topic, event), for the panels'
// time series and rankings by event or topic, and per (day, topic, event,
// user), for top users. A 10M-event table answers those from a few
// thousand rows instead of scanning (and unnesting) millions.
var rollupSQL = []string{
	`CREATE TABLE IF NOT EXISTS events_hourly (
	hour BIGINT NOT NULL,
	topic VARCHAR NOT NULL,
	event VARCHAR NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (hour, topic, event)
)`,
	`CREATE TABLE IF NOT EXISTS users_daily (
	day BIGINT NOT NULL,
	topic VARCHAR NOT NULL,
	event VARCHAR NOT NULL,
	"user" VARCHAR NOT NULL,
	n BIGINT NOT NULL,
	PRIMARY KEY (day, topic, event, "user")
)`,
	// A database written before the rollups existed gets them filled
	// from its events, once.
	`INSERT INTO events_hourly SELECT (time // 3600000) * 3600000, topic, event, count(*) FROM events
	WHERE NOT EXISTS (SELECT 1 FROM events_hourly) GROUP BY ALL`,
	`INSERT INTO users_daily SELECT day, topic, event, u, count(*) FROM (
	SELECT (time // 86400000) * 86400000 AS day, topic, event, unnest(users) AS u FROM events
	WHERE NOT EXISTS (SELECT 1 FROM users_daily)) GROUP BY ALL`,
}

// batchSQL creates the staging table of one Write: a plain appender fills
// it with the batch (a query appender runs its query once per 2048 rows),
// dedupSQL drops what is stored already, and moveSQL moves the rest to
// events and, counted, to the rollups.
const batchSQL = `CREATE TEMP TABLE IF NOT EXISTS batch AS SELECT * FROM events LIMIT 0`

// moveSQL moves the staged batch into events and the rollups.
var moveSQL = []string{
	`INSERT INTO events SELECT * FROM batch`,
	`INSERT INTO events_hourly SELECT (time // 3600000) * 3600000 AS hour, topic, event, count(*) FROM batch GROUP BY ALL
	ON CONFLICT DO UPDATE SET n = n + excluded.n`,
	`INSERT INTO users_daily SELECT day, topic, event, u, count(*) FROM (
	SELECT (time // 86400000) * 86400000 AS day, topic, event, unnest(users) AS u FROM batch) GROUP BY ALL
	ON CONFLICT DO UPDATE SET n = n + excluded.n`,
	`DELETE FROM batch`,
}

// readColumns are the columns a Row is rebuilt from, in scan order.
const readColumns = `time, received_at, topic, event, event_id, submitter_user, submitter_device, ` +
	`sid, oid, path_sid, path, path_to_sid, path_to, ip, link_key, folder_id, folder_name, role, old_role, new_role, operations, rest`

// dedupSQL drops from the staged batch, whose times lie in [lo, hi], the
// event_ids already stored in that time range (a redelivered event has
// its first delivery's timestamp). The range lets the per-row-group
// min/max of time skip the rest of the table: a batch in arrival order
// reads about its own size, however big the table is; one with a
// straggler reads the row groups back to the straggler's time. Write has
// removed the batch's own repeats, and writes are serialized, so nothing
// comes between the check and the insert.
func dedupSQL(lo, hi int64) string {
	return `DELETE FROM batch WHERE event_id IN (SELECT e.event_id FROM events e WHERE e.time >= ` + strconv.FormatInt(lo, 10) +
		` AND e.time <= ` + strconv.FormatInt(hi, 10) + ` AND e.event_id IN (SELECT event_id FROM batch))`
}

// Option changes how Open sets the database up.
type Option func(*options)

type options struct {
	threads int
	memory  string
}

// WithThreads bounds the threads DuckDB uses (default: one per core).
func WithThreads(n int) Option { return func(o *options) { o.threads = n } }

// WithMemoryLimit bounds DuckDB's memory, in its syntax ("2GB").
func WithMemoryLimit(limit string) Option { return func(o *options) { o.memory = limit } }

// Store is a query.Store on DuckDB. It is safe for concurrent use; writes
// are serialized.
type Store struct {
	connector *duckdb.Connector
	db        *sql.DB

	mu     sync.Mutex // guards writes and closed
	wconn  *sql.Conn
	closed bool
}

var _ query.Store = (*Store)(nil)

// Open opens or creates the database at path; "" opens a fresh in-memory
// database.
func Open(path string, opts ...Option) (*Store, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	// A checkpoint rewrites the table's last row groups and the WAL's
	// changes into the file. At DuckDB's default of every 16 MB of WAL
	// (about four batches of 10k events) checkpoints took two thirds of
	// Write's time; at 64 MB they take a quarter as long in all, and a
	// restart replays at most 64 MB.
	params := []string{"autoinstall_known_extensions=false", "autoload_known_extensions=false", "checkpoint_threshold=64MB"}
	if o.threads > 0 {
		params = append(params, "threads="+strconv.Itoa(o.threads))
	}
	if o.memory != "" {
		params = append(params, "memory_limit="+o.memory)
	}
	c, err := duckdb.NewConnector(path+"?"+strings.Join(params, "&"), nil)
	if err != nil {
		return nil, fmt.Errorf("open duckdb %q: %w", path, err)
	}
	s := &Store{connector: c, db: sql.OpenDB(c)}
	ctx := context.Background()
	if _, err := s.db.ExecContext(ctx, schemaSQL); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("create events table: %w", err)
	}
	for _, q := range rollupSQL {
		if _, err := s.db.ExecContext(ctx, q); err != nil {
			_ = s.closeAll()
			return nil, fmt.Errorf("create rollups: %w", err)
		}
	}
	if s.wconn, err = s.db.Conn(ctx); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("open duckdb write connection: %w", err)
	}
	// The staging table is temporary: of this connection, never logged.
	if _, err := s.wconn.ExecContext(ctx, batchSQL); err != nil {
		_ = s.closeAll()
		return nil, fmt.Errorf("create staging table: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.closeAll()
}

func (s *Store) closeAll() error {
	var errs []error
	if s.wconn != nil {
		errs = append(errs, s.wconn.Close())
	}
	errs = append(errs, s.db.Close(), s.connector.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close duckdb: %w", err)
	}
	return nil
}

// Write stores events; an event_id already stored, in this batch or
// before, is skipped.
func (s *Store) Write(ctx context.Context, events []*schema.Event) error {
	if len(events) == 0 {
		return nil
	}
	uniq := make([]*schema.Event, 0, len(events))
	seen := make(map[string]struct{}, len(events))
	for _, e := range events {
		if _, dup := seen[e.ID()]; dup {
			continue
		}
		seen[e.ID()] = struct{}{}
		uniq = append(uniq, e)
	}
	rows, err := query.Convert(uniq, query.RowOf)
	if err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	// In time order, the batch's row groups and segments span narrow time
	// ranges, which their min/max let time-bounded scans skip.
	slices.SortFunc(rows, func(a, b query.Row) int {
		if a.Time != b.Time {
			return cmp.Compare(a.Time, b.Time)
		}
		return strings.Compare(a.EventID, b.EventID)
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("write events: store closed")
	}
	if err := s.insert(ctx, rows); err != nil {
		return fmt.Errorf("write %d events: %w", len(rows), err)
	}
	return nil
}

// insert appends rows in one transaction.
func (s *Store) insert(ctx context.Context, rows []query.Row) (err error) {
	if _, err := s.wconn.ExecContext(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_, _ = s.wconn.ExecContext(context.Background(), "ROLLBACK")
		}
	}()
	err = s.wconn.Raw(func(dc any) error {
		conn, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("unexpected driver connection %T", dc)
		}
		a, err := duckdb.NewAppender(conn, "temp", "main", "batch")
		if err != nil {
			return err
		}
		for i := range rows {
			if err := ctx.Err(); err != nil {
				_ = a.Close()
				return err
			}
			r := &rows[i]
			if err := a.AppendRow(r.Time, r.ReceivedAt, r.Topic, r.Event, r.EventID, r.SubmitterUser, r.SubmitterDevice,
				list(r.Users), list(r.Devices), r.SID, r.OID, r.PathSID, r.Path, r.PathToSID, r.PathTo, r.IP, r.LinkKey,
				r.FolderID, r.FolderName, list(r.Role), list(r.OldRole), list(r.NewRole), list(r.Operations), r.Rest); err != nil {
				_ = a.Close()
				return err
			}
		}
		return a.Close()
	})
	if err != nil {
		return err
	}
	lo, hi := rows[0].Time, rows[0].Time
	for i := range rows {
		lo, hi = min(lo, rows[i].Time), max(hi, rows[i].Time)
	}
	// The SQL holds only the two numbers.
	for _, q := range append([]string{dedupSQL(lo, hi)}, moveSQL...) {
		if _, err = s.wconn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	_, err = s.wconn.ExecContext(ctx, "COMMIT")
	return err
}

// list gives the appender a non-nil slice: nil would be NULL.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Search returns one page of events.
func (s *Store) Search(ctx context.Context, p query.Page) (query.Result, error) {
	p.Filter = cloneFilter(p.Filter)
	if err := p.Validate(); err != nil {
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
	from, to, windowed := s.span(ctx, p.Filter, p.Order, after)
	// A user's events are found by searching every event's users list,
	// which costs the same per row read whichever way: one scan of the
	// filter is fastest for them (measured at 10M events). Other searches
	// read the page's keys from a window first, then the page.
	keysFirst := p.Filter.User == ""
	windowed = windowed && keysFirst
	for w := time.Hour.Milliseconds(); ; {
		// A window bounds only the far end, so that it holds every match
		// from the start of the order to that end; its SQL holds only a
		// number of this function's own making.
		window := ""
		if windowed && w < to-from {
			if p.Order == query.Asc {
				window = "time < " + strconv.FormatInt(from+w, 10)
			} else {
				window = "time >= " + strconv.FormatInt(to-w, 10)
			}
		}
		wwhere, wargs := where, slices.Clone(args)
		if window != "" {
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
		if window != "" && len(keys) <= p.Limit {
			w = widen(w, len(keys), p.Limit)
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

// widen returns the next window after one of width w held n matches, too
// few for a page of limit: wide enough for the page at the rate seen, with
// room to spare, and at least twice as wide.
func widen(w int64, n, limit int) int64 {
	if n == 0 {
		return w * 16
	}
	return w * min(max(int64(2*(limit+1)/n)+1, 2), 64)
}

// span returns the time range a search can find events in, from the
// rollup's first and last hours, narrowed by the filter and the cursor.
// A search reads (and sorts) every match before its LIMIT, so the newest
// events of a big table come much faster from a window at the end where
// the order starts, widened until it holds a page.
func (s *Store) span(ctx context.Context, f query.Filter, o query.Order, after *query.Cursor) (from, to int64, ok bool) {
	var lo, hi sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT min(hour), max(hour) + 3600000 FROM events_hourly").Scan(&lo, &hi); err != nil || !lo.Valid {
		return 0, 0, false
	}
	from, to = lo.Int64, hi.Int64
	if !f.Since.IsZero() {
		from = max(from, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		to = min(to, f.Until.UnixMilli())
	}
	if after != nil {
		if o == query.Asc {
			from = max(from, after.Time)
		} else {
			to = min(to, after.Time+1)
		}
	}
	return from, to, true
}

var errStop = errors.New("stop")

// Stream calls fn with every matching event, in order.
func (s *Store) Stream(ctx context.Context, f query.Filter, order query.Order, fn func(wire []byte) error) error {
	f = cloneFilter(f)
	if err := f.Validate(); err != nil {
		return err
	}
	if order != query.Asc && order != query.Desc {
		return &query.ParamError{Param: "order", Reason: "must be asc or desc"}
	}
	where, args := whereOf(f, nil, order)
	q := "SELECT " + readColumns + " FROM events" + where + orderBy(order)
	var fnErr error
	err := s.scan(ctx, q, args, func(_ *query.Row, wire []byte) error {
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

// scan runs q and calls fn with each row and its wire form.
func (s *Store) scan(ctx context.Context, q string, args []any, fn func(r *query.Row, wire []byte) error) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r query.Row
	var role, oldRole, newRole, ops any
	for rows.Next() {
		if err := rows.Scan(&r.Time, &r.ReceivedAt, &r.Topic, &r.Event, &r.EventID, &r.SubmitterUser, &r.SubmitterDevice,
			&r.SID, &r.OID, &r.PathSID, &r.Path, &r.PathToSID, &r.PathTo, &r.IP, &r.LinkKey, &r.FolderID, &r.FolderName,
			&role, &oldRole, &newRole, &ops, &r.Rest); err != nil {
			return err
		}
		if r.Role, err = strings_(role); err == nil {
			if r.OldRole, err = strings_(oldRole); err == nil {
				if r.NewRole, err = strings_(newRole); err == nil {
					r.Operations, err = strings_(ops)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("event %s: %w", r.EventID, err)
		}
		wire, err := r.Wire()
		if err != nil {
			return err
		}
		if err := fn(&r, wire); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return rows.Err()
}

// strings_ converts a scanned VARCHAR[].
func strings_(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("list holds %T", x)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected list %T", v)
}

// rankColumns maps StatsRequest.By to a column; users and devices are
// lists, unnested.
var rankColumns = map[string]string{
	"user":   "unnest(users)",
	"device": "unnest(devices)",
	"event":  "event",
	"topic":  "topic",
	"ip":     "ip",
	"key":    "link_key",
	"folder": "folder_id",
}

// Stats counts matching events. A filter of only time, topics and events
// on whole hours is counted from events_hourly, and ranked by user on
// whole days from users_daily; everything else from events.
func (s *Store) Stats(ctx context.Context, req query.StatsRequest) (query.Stats, error) {
	req.Filter = cloneFilter(req.Filter)
	if err := req.Validate(); err != nil {
		return query.Stats{}, err
	}
	where, args := whereOf(req.Filter, nil, query.Asc)
	table, count, timeCol := "events", "count(*)", "time"
	cwhere, cargs := where, args
	hourly := rollupAnswers(req.Filter, time.Hour)
	if hourly && req.Bucket%time.Hour == 0 {
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
		switch {
		case (req.By == "event" || req.By == "topic") && hourly:
			w, a := rollupWhere(req.Filter, "hour")
			q, rargs = "SELECT "+col+" AS v, sum(n) AS n FROM events_hourly"+w+" GROUP BY v ORDER BY n DESC, v LIMIT ?", a
		case req.By == "user" && rollupAnswers(req.Filter, 24*time.Hour):
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

// rollupAnswers reports whether a rollup of the given resolution holds
// the answer for f: no filter but time, topics and events, on whole units.
func rollupAnswers(f query.Filter, unit time.Duration) bool {
	if f.User != "" || f.Device != "" || f.SOID != "" || f.Path != "" || f.IP != "" || f.Key != "" || f.Folder != "" {
		return false
	}
	whole := func(t time.Time) bool { return t.IsZero() || t.UnixMilli()%unit.Milliseconds() == 0 }
	return whole(f.Since) && whole(f.Until)
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

// cloneFilter copies f's lists, which Validate rewrites in place.
func cloneFilter(f query.Filter) query.Filter {
	f.Topics = append([]schema.Topic(nil), f.Topics...)
	f.Events = append([]string(nil), f.Events...)
	return f
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
