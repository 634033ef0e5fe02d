package chstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The layout, one table per query family (measured on 18.16 with 100M
// rows: one sort order cannot serve both the panels and per-user search):
//
//   - events holds every event once, ordered by (topic, event, time,
//     event_id): dashboard panels and searches name a topic or event and
//     a time range, so they read a contiguous slice of each part. The
//     sort key ends with event_id, so ReplacingMergeTree collapses a
//     redelivered event (same topic, event, time and id) when parts merge.
//     Partitioned by month so that retention drops whole partitions.
//   - events_by_user is an index keyed by (user, time, event_id), filled by
//     a materialized view with one row per user an event involves: one
//     user's newest events are a short range read instead of a full scan.
//   - events_hourly counts events per (topic, event, hour) in a
//     SummingMergeTree: the panels' time series read a few thousand rows
//     instead of millions.
//
// Dedup. ReplacingMergeTree only collapses duplicates when parts merge,
// and materialized views see every inserted row, so Write deduplicates
// before inserting: it drops the batch's repeated ids and the ids already
// stored (looked up in the batch's time range and topics). A redelivered
// batch therefore inserts nothing, and the rollup and the index never count
// it. Reads also cope with a duplicate that two concurrent writers could
// still insert: Search and Stream skip adjacent rows with the same (time,
// event_id) (the sort makes duplicates adjacent), and Stats on the events
// table reads it FINAL.
//
// Columns are query.Row's, and nothing else: the wire form is rebuilt
// from them (query.Row.Wire), so no copy of it is stored. Times are Int64
// epoch milliseconds (18.16 has no DateTime64), received_at mostly an
// Int32 offset from time (received_delta, see record); topics, events, users,
// devices, IPs, folder names, roles and operations are LowCardinality
// (dictionary coded, about 1 byte per value); 32-hex ids (sid, oid, the
// paths' sids, the shared folder's id) are FixedString(16), the unhexed
// bytes, with hex_set's bits saying which are present (so that an id of
// zeros is not mistaken for none); the other fields are Row.Rest, compact
// JSON.
//
// ClickHouse 18.16 has no per-column CODEC clause (added in 19.x) and
// needs allow_experimental_low_cardinality_type for LowCardinality. Open
// reads the server's version: on servers with codecs the DDL adds
// CODEC(Delta, ZSTD) to times and CODEC(ZSTD) to high-entropy columns; on
// older servers it leaves them out (the server's <compression> setting
// applies) and sets the LowCardinality setting for the DDL. The migration
// numbers are the same on both.

// migration is one versioned step of the schema. Its statements are
// idempotent (IF NOT EXISTS), so a step interrupted half-way is simply run
// again.
type migration struct {
	version    uint32
	name       string
	statements []string
}

var migrations = []migration{
	{1, "events", []string{`
CREATE TABLE IF NOT EXISTS {db}.events (
    time Int64 {delta},
    received_at Int64 {delta},
    topic LowCardinality(String),
    event LowCardinality(String),
    event_id String {zstd},
    submitter_user LowCardinality(String),
    submitter_device LowCardinality(String),
    users Array(LowCardinality(String)),
    devices Array(LowCardinality(String)),
    hex_set UInt8,
    sid FixedString(16) {zstd},
    oid FixedString(16) {zstd},
    path_sid FixedString(16) {zstd},
    path String {zstd},
    path_to_sid FixedString(16) {zstd},
    path_to String {zstd},
    ip LowCardinality(String),
    link_key String {zstd},
    folder_id FixedString(16) {zstd},
    folder_name LowCardinality(String),
    role Array(LowCardinality(String)),
    old_role Array(LowCardinality(String)),
    new_role Array(LowCardinality(String)),
    operations Array(LowCardinality(String)),
    rest String {zstd}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(time, 1000)))
ORDER BY (topic, event, time, event_id)`}},
	{2, "events_by_user", []string{`
CREATE TABLE IF NOT EXISTS {db}.events_by_user (
    user LowCardinality(String),
    time Int64 {delta},
    event_id String {zstd},
    topic LowCardinality(String),
    event LowCardinality(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(time, 1000)))
ORDER BY (user, time, event_id)`, `
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_by_user_mv TO {db}.events_by_user
AS SELECT user, time, event_id, topic, event FROM {db}.events ARRAY JOIN users AS user`}},
	{3, "events_hourly", []string{`
CREATE TABLE IF NOT EXISTS {db}.events_hourly (
    hour Int64 {delta},
    topic LowCardinality(String),
    event LowCardinality(String),
    n UInt64
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(toDateTime(intDiv(hour, 1000)))
ORDER BY (topic, event, hour)`, `
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_hourly_mv TO {db}.events_hourly
AS SELECT intDiv(time, 3600000) * 3600000 AS hour, topic, event, count() AS n
FROM {db}.events GROUP BY hour, topic, event`}},
	// received_at as an offset from time: a few milliseconds to seconds,
	// which compress to almost nothing where the absolute Int64 took
	// about 5.6 bytes per event on 18.16 (no Delta codec there). Rows
	// written before keep their absolute received_at; see record.
	{4, "received_delta", []string{`
ALTER TABLE {db}.events ADD COLUMN received_delta Int32 {zstd} AFTER received_at`}},
}

// The server's codes for ADD COLUMN of a column that exists (18.16 says
// ILLEGAL_COLUMN, and has no ADD COLUMN IF NOT EXISTS): a migration that
// added it and was interrupted before being recorded is done.
const (
	errDuplicateColumn = 15
	errIllegalColumn   = 44
)

// partitioned lists the tables partitioned by month, for retention.
var partitioned = []string{"events", "events_by_user", "events_hourly"}

// dialect is what the server's version allows.
type dialect struct {
	codecs bool // per-column CODEC(...)
	// lowCardSetting: LowCardinality still needs
	// allow_experimental_low_cardinality_type.
	lowCardSetting bool
}

func dialectOf(v *driver.ServerVersion) dialect {
	// Per-column codecs came with 19.x; LowCardinality stopped being
	// experimental in 19.x too. Ask for both from 19.11 on, which every
	// release since has.
	modern := v.Version.Major > 19 || v.Version.Major == 19 && v.Version.Minor >= 11
	return dialect{codecs: modern, lowCardSetting: !modern}
}

// ddl expands a statement's placeholders for database db.
func (d dialect) ddl(stmt, db string) string {
	delta, zstd := "", ""
	if d.codecs {
		delta, zstd = "CODEC(Delta, ZSTD(3))", "CODEC(ZSTD(3))"
	}
	return strings.NewReplacer("{db}", quoteIdent(db), "{delta}", delta, "{zstd}", zstd).Replace(stmt)
}

func (d dialect) ddlContext(ctx context.Context) context.Context {
	if !d.lowCardSetting {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{
		"allow_experimental_low_cardinality_type": 1,
	}))
}

// quoteIdent quotes an identifier that Validate already restricted to
// letters, digits and underscores.
func quoteIdent(s string) string { return "`" + s + "`" }

// migrate creates the database if needed and applies the migrations not
// yet recorded in schema_migrations, in order.
func migrate(ctx context.Context, conn driver.Conn, d dialect, db string) error {
	dctx := d.ddlContext(ctx)
	if err := conn.Exec(dctx, "CREATE DATABASE IF NOT EXISTS "+quoteIdent(db)); err != nil {
		return fmt.Errorf("create database %s: %w", db, err)
	}
	if err := conn.Exec(dctx, d.ddl(`
CREATE TABLE IF NOT EXISTS {db}.schema_migrations (
    version UInt32,
    name String,
    applied_at DateTime
) ENGINE = MergeTree() ORDER BY version`, db)); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied, err := appliedVersions(ctx, conn, db)
	if err != nil {
		return err
	}
	for _, m := range migrations {
		if applied[m.version] {
			continue
		}
		for _, s := range m.statements {
			if err := conn.Exec(dctx, d.ddl(s, db)); err != nil {
				var ex *clickhouse.Exception
				if errors.As(err, &ex) && (ex.Code == errDuplicateColumn || ex.Code == errIllegalColumn && strings.Contains(ex.Message, "already exists")) && strings.HasPrefix(strings.TrimSpace(s), "ALTER TABLE") {
					continue
				}
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
		}
		if err := conn.Exec(ctx, "INSERT INTO "+quoteIdent(db)+".schema_migrations (version, name, applied_at) SELECT toUInt32(?), ?, now()", m.version, m.name); err != nil {
			return fmt.Errorf("record migration %d: %w", m.version, err)
		}
	}
	return nil
}

func appliedVersions(ctx context.Context, conn driver.Conn, db string) (map[uint32]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+quoteIdent(db)+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	out := map[uint32]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		out[v] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	return out, nil
}
