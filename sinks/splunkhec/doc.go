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
// With Ack on, the collector answers each request with an ackId and Write
// polls <url>/services/collector/ack until the indexers confirm every one;
// only then does it return nil, so the log's offset is committed only for
// indexed events. Acknowledgements that do not come within AckTimeout
// make Write fail with a retryable error, and the whole batch is sent
// again: delivery is at least once, and each event carries its event_id.
//
// HEC's status codes are mapped to the error classes of package sinks:
// "server is busy", internal errors, HTTP 408, 429 and 5xx, network errors
// and missing acknowledgements are retryable; an invalid or disabled token,
// a format error, an incorrect index, acknowledgement disabled on the
// token, and any other refusal are wrapped by sinks.Permanent, as sending
// the same events again cannot succeed. Errors never contain the token.
package splunkhec
