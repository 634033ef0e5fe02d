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
// A batch counts as delivered only once the peer's TCP stack has
// acknowledged every byte (on Linux, where the socket tells) and the
// connection then stayed open for Config.Settle: bytes still in this
// machine's send buffer would be lost with the connection, and bytes the
// receiver's kernel took may still be thrown away by its process (it
// restarts, or closes without reading what is left). A goroutine reads
// each connection from start to end, so a FIN, a reset or a TLS
// close_notify is seen at once; every batch that has not settled then
// fails. Write waits for its batch to settle; WriteSettling (the
// sinks.Settler the Forwarder uses) returns once the batch is
// acknowledged and reports its settlement later, so that the next batches
// are written meanwhile.
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
