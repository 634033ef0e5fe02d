// Package duckstore is the query store on an embedded DuckDB database,
// Vigil's default. Events are kept as query.Row columns in one table keyed
// by event_id; writes go through DuckDB's appender into an INSERT OR
// IGNORE, so a redelivered batch changes nothing. Extensions are never
// installed or loaded: the store works without a network.
package duckstore
