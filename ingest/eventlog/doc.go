// Package eventlog is Vigil's durable event log: the interface that ingest
// appends to and every consumer reads from, and the consume loop that owns
// batching, retries with backoff, and commits for every consumer group.
//
// An implementation (filelog, the embedded default; kafkalog, the scale
// path) provides Log. Consumers (the query store, each sink, the leak
// detectors) only supply a Handler; Consumer runs it.
//
// The guarantees: Append returns only once every record is durable;
// records with the same key are read in the order they were appended; a
// group's position moves only when its handler returned nil for a batch,
// so after a failure or a restart the group reads again what it had not
// committed (at-least-once); every record carries its event's event_id so
// that consumers can deduplicate.
package eventlog
