// Package schema holds Vigil's audit event catalog and the one canonical
// form of an event.
//
// The catalog (see Catalog) lists every topic, event and field that the
// audit service documents, the names that the documents lost, and the
// events the original service emitted beyond them. It is data, and it
// drives validation, normalization, the stores' columns, the generated
// docs and the JSON Schema.
//
// Normalize turns the bytes a client sent into an Event: every accepted
// input form becomes its one canonical value, and anything that cannot be
// made valid is reported as a *ValidationError naming the field. New
// builds Vigil's own events from typed field values through the same
// normalization, so they have the bytes ingest would give them. An
// Event's wire form (Event.Wire) is deterministic: the same event always
// has the same bytes, so the log, the sinks and the stores share them.
package schema
