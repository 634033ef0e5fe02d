package duckstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"

	"github.com/vigilaudit/vigil/query"
)

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

var (
	_ query.Store  = (*Store)(nil)
	_ query.Pinger = (*Store)(nil)
)

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
	if err := migrate(ctx, s.db); err != nil {
		_ = s.closeAll()
		return nil, err
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

// Ping returns nil when the database answers. It does not wait for a
// Write in progress; after Close it fails.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping duckdb: %w", err)
	}
	return nil
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
