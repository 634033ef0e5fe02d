package duckstore

import (
	"cmp"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

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

// Write stores events; an event_id already stored, in this batch or
// before, is skipped.
func (s *Store) Write(ctx context.Context, events []*schema.Event) error {
	if len(events) == 0 {
		return nil
	}
	rows, err := query.Convert(query.Unique(events), query.RowOf)
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
