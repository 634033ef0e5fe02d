// Package relp is the relp sink kind: events sent with the Reliable Event
// Logging Protocol that rsyslog's imrelp (and librelp) speaks, each event
// as one RFC 5424 message (the syslog kind's format, see syslogsink) in
// one syslog command, over TCP or TLS.
//
// RELP frames are
//
//	TXNR SP COMMAND SP DATALEN [SP DATA] LF
//
// A session starts with an open command offering relp_version=0 and the
// syslog command; the receiver answers rsp "200 OK" with its own offers,
// which must list syslog. Each syslog frame is answered by an rsp frame
// with the same TXNR, once the receiver's application (not its kernel)
// took the message. The sink keeps at most Config.Window frames
// unanswered (librelp's default, 128) and a Write returns nil only once
// every frame of its batch was answered with a 2xx code: a receiver that
// crashes after its kernel accepted the bytes loses nothing, the frames
// it did not answer are sent again. A sink closed in order sends close;
// a receiver that shuts down sends serverclose (TXNR 0), and the frames
// not answered go on the next connection.
//
// Delivery is at least once: when the connection ends after part of a
// batch was answered, the Write goes on with the rest on a new
// connection, and a Write that fails remembers what was answered so that
// the same batch written again skips it. Duplicates arise only from
// frames the receiver took but whose answer was lost with the
// connection.
//
// Answer codes: 2xx is delivered. librelp answers only 200 and 500 (500
// when a session cannot take the command: the syslog command not
// enabled, a failed open), and rsyslog's own RELP client reopens the
// session and sends the message again; so 500, and any code but 4xx, is
// retryable. A 4xx says the request itself is at fault: permanent, the
// event goes to the dead letter. A receiver that refuses the open
// command is retryable too: the events wait, and the status shows why.
//
// A Sink connects on its first Write, not in New, and again after any
// failure. ReadFrame, ParseResponse and ParseOffers read the protocol,
// for the sink and for test receivers.
package relp
