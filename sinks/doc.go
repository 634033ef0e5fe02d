// Package sinks forwards events from the log to downstream systems.
//
// A Sink (Write(ctx, batch) error and Close() error) only moves bytes: the
// log holds canonical wire bytes, so forwarding is a copy, not a
// re-encode. The Forwarder, a handler of the log's consume loop, owns
// everything a sink should not: filtering, sorting failures into
// retryable ones (the loop backs off and retries) and permanent ones
// (parked in the dead letter), and metrics. Each sink reads the log as its
// own consumer group ("sink.NAME"), so a slow or dead downstream only
// grows its own lag. Config holds what every sink has (name, filter,
// required, batching); Set runs the configured sinks and their Manager
// (status, replays, dead letters, and its HTTP API).
//
// A sink whose receivers limit the size of one frame is a Framer: the
// Forwarder holds each record against the sink's max_frame_bytes
// (DefaultMaxFrameBytes by kind) and applies its oversize policy
// (oversize.go: park, truncate to a valid JSON object, or send) before
// the sink sees the batch, so that no receiver cuts an event in pieces
// or drops the connection under it.
//
// Each kind (tcp and tls, splunkhec, syslogsink, relp) lives in its own
// sub-package with its own Config; sinktest holds the conformance suite
// every kind passes. Sinks import schema, the event log interface
// (ingest/eventlog, never an implementation) and internal/config.
package sinks
