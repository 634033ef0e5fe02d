package chstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/ext"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/vigilaudit/vigil/query"
)

// Store is the ClickHouse query store.
type Store struct {
	conn      driver.Conn
	db        string // quoted database name, for SQL
	dbName    string
	retention time.Duration
	dict      *dict

	// initMu guards the first contact (version, migrations), which every
	// method makes when it has not succeeded yet: a store opened while
	// ClickHouse is down starts working when it comes up.
	initMu  sync.Mutex
	inited  bool
	dialect dialect
}

var (
	_ query.Store   = (*Store)(nil)
	_ query.Pinger  = (*Store)(nil)
	_ query.Expirer = (*Store)(nil)
)

// Open connects, creates the database if it is missing and applies the
// migrations the database has not recorded yet.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.ready(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// New returns the store of cfg without contacting ClickHouse: the first
// method called connects, creates the database and migrates, and every
// call tries again until that succeeded. Meanwhile writes fail (the
// store's consumer group waits and retries) and Ping says why.
func New(cfg Config) (*Store, error) {
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
	return s, nil
}

// ready makes the first contact if it has not succeeded yet.
func (s *Store) ready(ctx context.Context) error {
	s.initMu.Lock()
	defer s.initMu.Unlock()
	if s.inited {
		return nil
	}
	if err := s.init(ctx); err != nil {
		return err
	}
	s.inited = true
	return nil
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

// Ping returns nil when a server answers and the store is migrated.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.ready(ctx); err != nil {
		return err
	}
	if err := s.conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping clickhouse: %w", err)
	}
	return nil
}

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
