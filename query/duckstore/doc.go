// Package duckstore is the query store on an embedded DuckDB database,
// Vigil's default. Events are kept as query.Row columns in one table;
// a write appends the batch to a temporary staging table, drops the
// event_ids already stored, and moves the rest to events and to the
// hourly and daily-by-user rollups in one transaction, so a redelivered
// batch changes nothing. Searches read a window at the end
// where their order starts, widened until it holds a page. Extensions are
// never installed or loaded: the store works without a network.
//
// The tables are in migrate.go, Write in write.go (with columns.go, how
// a row is appended and read back), Search and Stream in search.go and
// Stats in stats.go; what is not SQL (dedup of a batch, the search
// window, which rollup answers) is query's, shared with chstore.
package duckstore
