// Package sinks forwards events from the log to downstream systems.
//
// It will hold the Sink interface (Write(ctx, batch) error and Close()
// error) and the Forwarder that owns everything a sink should not:
// batching, retry with backoff, dead-lettering, offsets and metrics. Each
// kind (TCP, TLS, Splunk HEC, syslog) lives in its own sub-package and only
// moves bytes: the log holds canonical wire bytes, so forwarding is a copy,
// not a re-encode. Each sink reads the log as its own consumer group
// ("sink.NAME"), so a slow or dead downstream only grows its own lag.
//
// The sinktest sub-package will hold the conformance suite every kind
// passes. Sinks may import schema and nothing else of ours.
package sinks
