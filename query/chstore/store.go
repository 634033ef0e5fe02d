package chstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// Store is the ClickHouse query store.
type Store struct {
	conn      driver.Conn
	db        string // quoted database name, for SQL
	dbName    string
	retention time.Duration
	dialect   dialect
}

var _ query.Store = (*Store)(nil)

// Open connects, creates the database if it is missing and applies the
// migrations the database has not recorded yet.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	cfg = cfg.withDefaults()
	opts := &clickhouse.Options{
		Addr: cfg.Addr,
		Auth: clickhouse.Auth{
			Database: "default", // ours may not exist yet; every query names it
			Username: cfg.Username,
			Password: cfg.Password,
		},
		DialTimeout: cfg.DialTimeout,
		// 18.16 sends LowCardinality columns in an experimental native
		// form that the driver cannot read; this makes it send plain
		// types. Current servers send the dictionary form, which the
		// driver reads, so the setting only matters on old ones (where
		// it is harmless for inserts too).
		Settings: clickhouse.Settings{"low_cardinality_allow_in_native_format": 0},
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", cfg.Addr, err)
	}
	s := &Store{conn: conn, db: quoteIdent(cfg.Database), dbName: cfg.Database, retention: cfg.Retention}
	if err := s.init(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

func (s *Store) init(ctx context.Context) error {
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	v, err := s.conn.ServerVersion()
	if err != nil {
		return fmt.Errorf("clickhouse server version: %w", err)
	}
	s.dialect = dialectOf(v)
	return migrate(ctx, s.conn, s.dialect, s.dbName)
}

// Close closes the connections.
func (s *Store) Close() error { return s.conn.Close() }

// lookupChunk bounds the ids of one existence query, to stay under the
// server's max_query_size (256 KiB) with ids of up to 64 bytes.
const lookupChunk = 2000

// Write stores events that are not stored yet. It inserts them in one
// batch (the caller chooses the batch size: the consume loop sends 10k to
// 100k events, or what came in a second). Repeats within events and ids
// already stored are left out, so that a redelivered batch inserts nothing
// and no rollup counts it twice.
func (s *Store) Write(ctx context.Context, events []*schema.Event) error {
	if len(events) == 0 {
		return nil
	}
	recs := make([]record, 0, len(events))
	seen := make(map[string]struct{}, len(events))
	for _, e := range events {
		if _, dup := seen[e.ID()]; dup {
			continue
		}
		seen[e.ID()] = struct{}{}
		rec, err := recordOf(e)
		if err != nil {
			return fmt.Errorf("write %d events: %w", len(events), err)
		}
		recs = append(recs, rec)
	}
	stored, err := s.stored(ctx, recs)
	if err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	recs = slices.DeleteFunc(recs, func(r record) bool {
		_, ok := stored[r.row.EventID]
		return ok
	})
	if len(recs) == 0 {
		return nil
	}
	if err := s.insert(ctx, recs); err != nil {
		return fmt.Errorf("write %d events: %w", len(recs), err)
	}
	return nil
}

func (s *Store) insert(ctx context.Context, recs []record) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".events ("+columns+")")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	sent := false
	defer func() {
		if !sent {
			_ = b.Abort()
		}
	}()
	for i := range recs {
		if err := b.Append(recs[i].values()...); err != nil {
			return fmt.Errorf("append event %s: %w", recs[i].row.EventID, err)
		}
	}
	sent = true
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// stored returns which of the records' ids are in the events table. It
// looks within the records' time range, topics and events, which the sort
// key turns into a few granules per partition.
func (s *Store) stored(ctx context.Context, recs []record) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	for len(recs) > 0 {
		chunk := recs[:min(lookupChunk, len(recs))]
		recs = recs[len(chunk):]
		lo, hi := chunk[0].row.Time, chunk[0].row.Time
		var ids, topics, events []string
		for i := range chunk {
			r := &chunk[i].row
			lo, hi = min(lo, r.Time), max(hi, r.Time)
			ids = append(ids, r.EventID)
			topics = append(topics, r.Topic)
			events = append(events, r.Event)
		}
		slices.Sort(topics)
		slices.Sort(events)
		rows, err := s.conn.Query(ctx, "SELECT event_id FROM "+s.db+".events"+
			" WHERE topic IN ? AND event IN ? AND time >= ? AND time <= ? AND event_id IN ?",
			set(slices.Compact(topics)), set(slices.Compact(events)), lo, hi, set(ids))
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up stored ids: %w", err)
			}
			out[id] = struct{}{}
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
	}
	return out, nil
}
