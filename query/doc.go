// Package query stores events for analysis and answers questions about them.
//
// It will hold the Store interface, the query model (filters, time ranges,
// cursors) and the HTTP query API used by the web console, the Grafana
// plugin, the CLI and security teams' scripts. Implementations live in
// sub-packages: duckstore (embedded DuckDB, the default) and chstore
// (ClickHouse, at scale); storetest holds the conformance suite both pass.
// Stores are idempotent on event_id, so at-least-once delivery from the log
// never duplicates a row.
//
// Query may import schema and internal/auth.
package query
