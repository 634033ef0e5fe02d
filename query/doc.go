// Package query stores events for analysis and answers questions about them.
//
// It holds the Store interface (a Writer and a Reader, with Pinger and
// Expirer beside it), the query model (filters, time ranges, cursors),
// the HTTP query API used by the web console, the Grafana plugin, the CLI
// and security teams' scripts, and the store group of the event log: the
// handler that writes what the log holds to a Writer (NewConsumer,
// NewWriterHandler) and the retention runner (Expiry).
//
// What every store needs beside its SQL is here too: an event as
// columns (Row), a batch without repeats (Unique), the widening search
// window (Window) and which rollup answers a stats request. Implementations
// live in sub-packages: duckstore (embedded DuckDB, the default) and
// chstore (ClickHouse, at scale); storetest holds the conformance suite
// both pass. Stores are idempotent on event_id, so at-least-once delivery
// from the log never duplicates a row.
//
// Query may import schema, internal/auth and the event log's interface
// package, never a log implementation.
package query
