// Package splunkhec sends events to a Splunk HTTP Event Collector (HEC).
//
// A Sink posts each batch to <url>/services/collector/event as
// concatenated HEC event objects, one per record:
//
//	{"time":1459372699.123,"host":"h","source":"s","sourcetype":"st","index":"i","event":<the record's wire JSON>}
//
// The event is the record's canonical wire JSON, embedded as it is; time is
// the event's timestamp in epoch seconds with milliseconds; host, source,
// sourcetype and index come from the Config and are left out when empty.
// Requests carry "Authorization: Splunk <token>" and the channel header
// X-Splunk-Request-Channel. A batch larger than MaxBatchBytes goes out as
// several requests, in order.
//
// With Ack on, the collector answers each request with an ackId and the
// sink polls <url>/services/collector/ack until the indexers confirm every
// one. The Sink is a sinks.Settler: WriteSettling returns once the
// collector took the batch and reports the acknowledgement later, so up
// to MaxInFlight batches wait for theirs at once, each on a connection of
// its own with its own channel and cookie jar, polled over that
// connection. Acknowledgements that do not come within AckTimeout settle
// the batch with an error, and it is sent again: delivery is at least
// once, and each event carries its event_id.
//
// HEC's replies are mapped to the error classes of package sinks:
// "server is busy", internal errors, HTTP 404 (an indexer in detention),
// 408, 429 and 5xx, network errors and missing acknowledgements are
// retryable. A disabled or invalid token, and a reply without an ackId
// while Ack is on, are sinks.Refusing: the events wait, and the collector
// is asked again every RefusedRetryInterval, or at once when the token
// file changed. A format error that names the invalid event is
// sinks.RefusedAt, the events before it being indexed; an incorrect index,
// acknowledgement disabled on the token and other refusals of the sink's
// settings are sinks.PermanentAll, and other format errors
// sinks.Permanent. Errors never contain the token.
package splunkhec
