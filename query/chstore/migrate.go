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
//   - events holds every event once, ordered by (topic, event, day, u0,
//     d0, time, event_id). Dashboard panels and searches name a topic or
//     an event and a time range, and the day (an expression of time, which
//     18.16 only prunes on when a query names it: see dayExpr) narrows
//     that to a few granules; within a day, rows of one user (u0, most
//     often the submitter) and device (d0) sit together, so their codes,
//     stores and repeated values compress to little, which a pure time
//     order loses (on 18.16's LZ4 a random 4-byte code costs 3 bytes).
//     The key ends with event_id, so ReplacingMergeTree collapses a
//     redelivered event (same key) when parts merge. Partitioned by
//     month, so that retention drops whole partitions.
//   - events_by_user is an index keyed by (user, time, event_id), filled by
//     a materialized view with one row per user an event involves: one
//     user's newest events are a short range read instead of a scan. (The
//     events table's ranges of u0 could serve the first user alone, but
//     18.16 prunes a key column after unconstrained ones poorly: one
//     user's newest 100 took five times as long.)
//   - events_hourly counts events per (topic, event, hour) and users_daily
//     per (topic, event, day, user), both SummingMergeTree: the panels'
//     time series and top users read a few thousand rows instead of
//     millions.
//   - strings, string_ids, string_blocks and string_aliases are the
//     dictionary of coded identifiers (see dict.go).
//
// Dedup. ReplacingMergeTree only collapses duplicates when parts merge,
// and materialized views see every inserted row, so Write deduplicates
// before inserting: it drops the batch's repeated ids and the ids already
// stored (looked up in the batch's time range and topics). A redelivered
// batch therefore inserts nothing, and the rollups and the index never
// count it. Reads also cope with a duplicate that two concurrent writers
// could still insert: Search and Stream skip adjacent rows with the same
// (time, event_id) (the sort makes duplicates adjacent), and Stats on the
// events table reads it FINAL.
//
// Columns are query.Row's, and nothing else: the wire form is rebuilt
// from them (query.Row.Wire), so no copy of it is stored; see record for
// how users, devices and Rest are kept. Times are Int64 epoch
// milliseconds (18.16 has no DateTime64), received_at an offset from
// time; topics, events, IPs, folder names, roles and operations are
// LowCardinality; users, devices and 32-hex ids are dictionary codes.
//
// ClickHouse 18.16 has no per-column CODEC clause (added in 19.x) and
// needs allow_experimental_low_cardinality_type for LowCardinality. Open
// reads the server's version: on servers with codecs the DDL adds
// CODEC(Delta, ZSTD) to times and CODEC(ZSTD) to the other columns; on
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

// retired are the versions of a layout used before any release (events
// with LowCardinality users and devices); a database that recorded them
// must be dropped or another one chosen.
var retired = []uint32{1, 2, 3, 4}

// userList is the expression of an events row's user codes, Row.Users.
const userList = "arrayFilter(x -> x != 0, arrayConcat([u0], users))"

var migrations = []migration{
	{5, "events", []string{`
CREATE TABLE IF NOT EXISTS {db}.events (
    time Int64 {delta},
    topic LowCardinality(String),
    event LowCardinality(String),
    event_id String {zstd},
    flags UInt16 {zstd},
    received Int64 {zstd},
    sub_user String {zstd},
    sub_device String {zstd},
    u0 UInt32 {zstd},
    users Array(UInt32) {zstd},
    d0 UInt32 {zstd},
    devices Array(UInt32) {zstd},
    sid UInt32 {zstd},
    oid UInt32 {zstd},
    path_sid UInt32 {zstd},
    path String {zstd},
    path_to_sid UInt32 {zstd},
    path_to String {zstd},
    ip LowCardinality(String),
    link_key String {zstd},
    folder_id UInt32 {zstd},
    folder_name LowCardinality(String),
    role Array(LowCardinality(String)),
    old_role Array(LowCardinality(String)),
    new_role Array(LowCardinality(String)),
    operations Array(LowCardinality(String)),
    t0 Int64 {zstd},
    times Array(Int64) {zstd},
    rest String {zstd}
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(time, 1000)))
ORDER BY (topic, event, intDiv(time, 86400000), u0, d0, time, event_id)
SETTINGS index_granularity = 2048`}},
	{6, "strings", []string{`
CREATE TABLE IF NOT EXISTS {db}.strings (
    id UInt32 {zstd},
    value String {zstd}
) ENGINE = ReplacingMergeTree() ORDER BY id`, `
CREATE TABLE IF NOT EXISTS {db}.string_ids (
    value String {zstd},
    id UInt32 {zstd}
) ENGINE = ReplacingMergeTree() ORDER BY (value, id)`, `
CREATE TABLE IF NOT EXISTS {db}.string_blocks (
    start UInt32,
    token String
) ENGINE = MergeTree() ORDER BY start`, `
CREATE TABLE IF NOT EXISTS {db}.string_aliases (
    id UInt32,
    canonical UInt32
) ENGINE = ReplacingMergeTree() ORDER BY (id, canonical)`}},
	{7, "events_by_user", []string{`
CREATE TABLE IF NOT EXISTS {db}.events_by_user (
    user UInt32 {zstd},
    time Int64 {delta},
    event_id String {zstd},
    topic LowCardinality(String),
    event LowCardinality(String)
) ENGINE = ReplacingMergeTree()
PARTITION BY toYYYYMM(toDateTime(intDiv(time, 1000)))
ORDER BY (user, time, event_id)`, `
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_by_user_mv TO {db}.events_by_user
AS SELECT user, time, event_id, topic, event FROM {db}.events ARRAY JOIN ` + userList + ` AS user`}},
	{8, "events_hourly", []string{`
CREATE TABLE IF NOT EXISTS {db}.events_hourly (
    hour Int64 {delta},
    topic LowCardinality(String),
    event LowCardinality(String),
    n UInt64 {zstd}
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(toDateTime(intDiv(hour, 1000)))
ORDER BY (topic, event, hour)`, `
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_hourly_mv TO {db}.events_hourly
AS SELECT intDiv(time, 3600000) * 3600000 AS hour, topic, event, count() AS n
FROM {db}.events GROUP BY hour, topic, event`}},
	{9, "users_daily", []string{`
CREATE TABLE IF NOT EXISTS {db}.users_daily (
    day Int64 {delta},
    topic LowCardinality(String),
    event LowCardinality(String),
    user UInt32 {zstd},
    n UInt64 {zstd}
) ENGINE = SummingMergeTree(n)
PARTITION BY toYYYYMM(toDateTime(intDiv(day, 1000)))
ORDER BY (topic, event, day, user)`, `
CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.users_daily_mv TO {db}.users_daily
AS SELECT intDiv(time, 86400000) * 86400000 AS day, topic, event, user, count() AS n
FROM {db}.events ARRAY JOIN ` + userList + ` AS user GROUP BY day, topic, event, user`}},
}

// The server's codes for ADD COLUMN of a column that exists (18.16 says
// ILLEGAL_COLUMN, and has no ADD COLUMN IF NOT EXISTS): a migration that
// added it and was interrupted before being recorded is done.
const (
	errDuplicateColumn = 15
	errIllegalColumn   = 44
)

// partitioned lists the tables partitioned by month, for retention.
var partitioned = []string{"events", "events_by_user", "events_hourly", "users_daily"}

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
	for _, v := range retired {
		if applied[v] {
			return fmt.Errorf("database %s holds a layout from before the first release (migration %d): drop it or choose another database", db, v)
		}
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
