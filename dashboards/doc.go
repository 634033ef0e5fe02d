// Package dashboards presents stored events to people: the web console,
// the leak-detection rules (a handler of the log's "detect" group whose
// alerts are themselves events) and the Grafana plugin with its
// provisioned dashboards. It is empty today; those land with their
// issues. Everything here reads through the query package and consumes
// the log through the ingest/eventlog interface; dashboards never touch a
// store implementation or ingest directly.
package dashboards
