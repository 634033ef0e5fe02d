// Package syslogsink is the syslog sink kind: each event sent as one
// RFC 5424 message, octet-counted (RFC 6587 section 3.4.1, the framing
// RFC 5425 requires over TLS), over TCP or TLS. It is the tcp sink with a
// syslog framing, so it connects, redials, times out and verifies
// certificates the same way.
//
// A message is
//
//	LEN SP <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID - MSG
//
// with these choices:
//
//   - PRI is facility*8 + severity. The facility defaults to user (1),
//     the one RFC 5424 and syslog(3) use for application messages; the
//     local0 to local7 facilities are the site's to hand out, so Vigil
//     does not take one unasked. The severity is informational (6), and
//     notice (5) for events of the ALERT topic, Vigil's own detections,
//     so that a receiver can route them on PRI alone.
//   - TIMESTAMP is the event's timestamp (not the time of sending), UTC,
//     with milliseconds, as in the event itself.
//   - HOSTNAME is the configured one, by default the machine's name.
//     APP-NAME defaults to "vigil". PROCID is the NILVALUE.
//   - MSGID is the event's name (such as file.transfer), cut to the 32
//     characters RFC 5424 allows.
//   - STRUCTURED-DATA is the NILVALUE: the event_id, topic and every
//     other field are in MSG already, and a private SD-ID would need an
//     enterprise number Vigil does not have.
//   - MSG is the event's wire JSON, byte for byte, without a BOM. RFC
//     5424 section 6.4 allows MSG without one (its MSG-ANY); JSON is UTF-8
//     by definition (RFC 8259), and RFC 8259 forbids a BOM before JSON
//     text, which would break the JSON parsers receivers run on MSG.
//
// ReadFrame and ParseMessage read such messages back, for receivers and
// tests.
package syslogsink
