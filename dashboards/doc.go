// Package dashboards presents stored events to people.
//
// It will hold the web console, the leak-detection rules (whose alerts are
// themselves events), and the Grafana plugin with its provisioned
// dashboards. Everything here reads through the query package; dashboards
// never touch a store, the log or ingest directly.
package dashboards
