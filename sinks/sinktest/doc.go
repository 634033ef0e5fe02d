// Package sinktest is the conformance suite every sink kind passes.
//
// A kind supplies a Harness: a loopback receiver of its protocol that the
// suite can take down, bring back, make drop a connection mid-batch, and
// make reject requests; and a constructor of its sink pointed at that
// receiver. Run then checks what the Sink contract promises: every event
// delivered in order, at least once after failures and none invented;
// retryable errors while the receiver is away; prompt return on
// cancellation; permanent errors only for refusals that retrying cannot
// fix; TLS with certificates rotated on disk; and a Close that leaves
// nothing running.
//
// Besides the suite it offers what the kinds' own tests and benchmarks
// share: Events, realistic canonical events; CA, test certificates; and
// StreamReceiver, a loopback receiver for stream protocols (newline or
// octet-counted framing over TCP or TLS, or a protocol's own sessions);
// and Serve, a receiver that runs a test's script on each connection.
package sinktest
