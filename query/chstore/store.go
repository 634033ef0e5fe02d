package chstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
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
	dict      *dict
}

var _ query.Store = (*Store)(nil)

// Open connects, creates the database if it is missing and applies the
// migrations the database has not recorded yet.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("clickhouse config: %w", err)
	}
	cfg = cfg.withDefaults()
	conn, err := connect(cfg)
	if err != nil {
		return nil, err
	}
	s := &Store{conn: conn, db: quoteIdent(cfg.Database), dbName: cfg.Database, retention: cfg.Retention}
	s.dict = newDict(conn, s.db)
	if err := s.init(ctx); err != nil {
		_ = conn.Close()
		return nil, err
	}
	return s, nil
}

// connect opens the connection pool; it makes no network call.
func connect(cfg Config) (driver.Conn, error) {
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
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig("")
		if err != nil {
			return nil, fmt.Errorf("clickhouse tls: %w", err)
		}
		opts.TLS = tc
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse %v: %w", cfg.Addr, err)
	}
	return conn, nil
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

// lookupChunk bounds the values of one look-up query (ids, dictionary
// strings, codes), sent as an external table (withList): one query per
// batch costs less than many small ones.
const lookupChunk = 100_000

// listTable names the external table of withList.
const listTable = "_list"

// withList sends values with the query as an external table of one
// column v, for "x IN _list": the server parses a long IN (...) literal
// slowly (a 10k-id look-up took 300 ms), a block not at all.
func withList[T any](ctx context.Context, typ string, values []T) (context.Context, error) {
	t, err := ext.NewTable(listTable, ext.Column("v", column.Type(typ)))
	if err != nil {
		return nil, err
	}
	for _, v := range values {
		if err := t.Append(v); err != nil {
			return nil, err
		}
	}
	return clickhouse.Context(ctx, clickhouse.WithExternalTable(t)), nil
}

// Write stores events that are not stored yet. It inserts them in one
// batch (the caller chooses the batch size: the consume loop sends 10k to
// 100k events, or what came in a second). Repeats within events and ids
// already stored are left out, so that a redelivered batch inserts nothing
// and no rollup counts it twice.
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
	stored, err := s.stored(ctx, uniq)
	if err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	uniq = slices.DeleteFunc(uniq, func(e *schema.Event) bool {
		_, ok := stored[e.ID()]
		return ok
	})
	if len(uniq) == 0 {
		return nil
	}
	if err := s.insert(ctx, uniq); err != nil {
		return fmt.Errorf("write %d events: %w", len(uniq), err)
	}
	return nil
}

// insertChunk is how many events insert takes apart at a time, which
// bounds the memory of the records beside the driver's columns.
const insertChunk = 16384

// insert takes events apart, codes their strings and inserts them.
func (s *Store) insert(ctx context.Context, events []*schema.Event) error {
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
	for len(events) > 0 {
		chunk := events[:min(insertChunk, len(events))]
		events = events[len(chunk):]
		recs, err := query.Convert(chunk, recordOf)
		if err != nil {
			return err
		}
		var strs []string
		for i := range recs {
			strs = recs[i].strings(strs)
		}
		codes, err := s.dict.encode(ctx, strs)
		if err != nil {
			return err
		}
		code := func(v string) uint32 { return codes[v] }
		var bl block
		for i := range recs {
			bl.add(&recs[i], code)
		}
		for i, col := range bl.columns() {
			if err := b.Column(i).Append(col); err != nil {
				return fmt.Errorf("append column %d: %w", i, err)
			}
		}
	}
	sent = true
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// stored returns which of the records' ids are in the events table. It
// looks within the records' time range (days, for the sort key), topics
// and events, which the sort key turns into a few granules per partition.
func (s *Store) stored(ctx context.Context, evs []*schema.Event) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	for len(evs) > 0 {
		chunk := evs[:min(lookupChunk, len(evs))]
		evs = evs[len(chunk):]
		lo := chunk[0].Timestamp().UnixMilli()
		hi := lo
		var ids, topics, events []string
		for _, e := range chunk {
			t := e.Timestamp().UnixMilli()
			lo, hi = min(lo, t), max(hi, t)
			spec := e.Spec()
			ids = append(ids, e.ID())
			topics = append(topics, string(spec.Topic))
			events = append(events, spec.Name)
		}
		slices.Sort(topics)
		slices.Sort(events)
		tctx, err := withList(ctx, "String", ids)
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
		rows, err := s.conn.Query(tctx, "SELECT event_id FROM "+s.db+".events"+
			" WHERE topic IN ? AND event IN ? AND "+dayExpr+" >= ? AND "+dayExpr+" <= ? AND time >= ? AND time <= ? AND event_id IN "+listTable,
			set(slices.Compact(topics)), set(slices.Compact(events)), dayOf(lo), dayOf(hi), lo, hi)
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
