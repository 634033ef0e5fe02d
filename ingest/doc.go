// Package ingest is the single way events enter Vigil.
//
// It holds the HTTP batch receiver used by agents (plus the single-event
// POST /event and POST /audit/event endpoints of the original audit
// service), the in-process Emit through which Vigil's own events (admin
// actions, alerts, audit of queries, later the content API's) take the
// same path, the quarantine that keeps malformed events with their raw
// bytes, reason and submitter, the dedup window and the per-device rate
// limit and sequence checks.
//
// Every accepted event is decoded, authenticated, normalized and validated
// against the schema catalog, then appended to the event log; a request is
// acknowledged only after its batch is durable. verified_submitter is set
// from the authenticated device credential, never from the body. When the
// log is full, ingest answers 503 with Retry-After and drops nothing it has
// already acknowledged.
//
// Ingest may import schema, internal/auth, internal/config and the event
// log interface in ingest/eventlog; it never imports a log, store or sink
// implementation.
package ingest
