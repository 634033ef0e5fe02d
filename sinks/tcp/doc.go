// Package tcp is the tcp and tls sink kinds: events written to one
// downstream stream connection, newline-delimited JSON by default (one
// event per line, the log's wire bytes as they are), over plain TCP or
// over TLS when Config.TLS is set.
//
// A Sink connects on its first Write, not in New, and again after any
// failure. Each Write frames the whole batch, then writes it with a
// deadline that both Config.WriteTimeout and the context bound (a
// cancelled context interrupts a blocked write). Before writing on a
// connection it already holds, it checks that the peer has not closed
// it, so that a batch is not written into a connection that is already
// gone. Any error drops the connection; the caller writes the whole batch
// again, so a receiver sees each event at least once and can deduplicate
// by event_id.
//
// A Write returns nil only once the peer's TCP stack has acknowledged
// every byte (on Linux, where the socket tells): bytes still in this
// machine's send buffer would be lost with the connection, so until they
// are acknowledged the batch is not delivered. What a receiver's kernel
// acknowledged but its process never read is beyond what TCP can tell;
// a receiver that must not lose that uses an acknowledging protocol
// (Splunk HEC with indexer acknowledgement).
//
// Over TLS, a connection is used only once the server has accepted it: a
// TLS 1.3 server that asked for a client certificate judges it after the
// client considers the handshake done, so the sink waits for the
// server's verdict (its session ticket or its alert) before writing.
// Certificate problems are retryable errors: the events wait until the
// files are fixed on disk, and the next connection reads them again.
//
// Other stream framings (syslog's octet counting) reuse the sink through
// Config.Frame.
package tcp
