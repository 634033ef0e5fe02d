// Package chstore is the ClickHouse query store, for deployments that
// outgrow the embedded DuckDB one. It talks the native protocol through
// clickhouse-go/v2 and runs on ClickHouse 18.16 (what CI installs) as
// well as on current releases (docker-compose).
//
// Layout, migrations and dedup are described in migrate.go; Write is in
// write.go (with columns.go, how an event becomes a row), Search and
// Stream in search.go, Stats in stats.go, the dictionary of coded
// identifiers in dict.go and retention in retention.go.
package chstore
