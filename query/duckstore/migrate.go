package duckstore

import (
	"context"
	"database/sql"
	"fmt"
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

// migrate creates the tables a database lacks, and fills rollups that a
// database written before them lacks. Every statement is idempotent, so
// opening a database again changes nothing.
func migrate(ctx context.Context, db *sql.DB) error {
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("create events table: %w", err)
	}
	for _, q := range rollupSQL {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("create rollups: %w", err)
		}
	}
	return nil
}
