// Package agent is the client side of batch upload: "vigil agent" runs it
// on devices that may stay offline for days.
//
// Events come in as NDJSON (a stream, or files dropped into a watched
// directory). Each one is given the device's next sequence number (a
// "seq" field, 1, 2, 3, ...) and appended to a Spool, a directory of
// segment files on local disk, which syncs them before the input is let
// go. An Uploader sends the spool's oldest events in gzipped NDJSON
// batches to the server's POST /audit/v1/events, backing off (with
// jitter, or as Retry-After says) while the server is unreachable or
// busy, and splitting a batch the server finds too large. A batch leaves
// the spool only after the server answered 202, which means the whole
// batch is durable there. Agent runs the two sides and shows progress.
//
// Crash safety: what was acknowledged to the input is on disk; the
// committed cursor moves only after a 202; so after a crash at any point
// the agent resends at most the batch that was in flight, byte for byte,
// and the server answers those events as duplicates.
//
// The agent does not need to understand the catalog. It checks that each
// input line is a JSON object and sets aside the others, and it may warn
// early (schema.Normalize) about events the server will quarantine.
package agent
