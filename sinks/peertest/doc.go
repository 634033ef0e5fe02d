// Package peertest starts real syslog receivers, syslog-ng and rsyslog, as
// child processes of a test, so that sinks can be tested against the
// servers they meet in production. It installs nothing: each receiver is
// enabled by an environment variable naming its binary, and a test that
// asks for one whose variable is unset skips.
//
//	VIGIL_TEST_SYSLOG_NG  path of syslog-ng, or 1 to find it on PATH
//	VIGIL_TEST_RSYSLOG    path of rsyslogd, or 1 to find it on PATH
//
// A binary may be an installed one (/usr/sbin/...) or one unpacked from
// its Debian package anywhere (R/usr/sbin/syslog-ng): its modules and
// libraries are looked for beside it, under R/usr/lib.
//
// Everything a receiver needs lives in the test's t.TempDir(): its config
// file, pid file, state (persist file, work directory), control socket,
// output files, TLS certificates and its own log. Each input listens on a
// free port of 127.0.0.1, the same one for the receiver's whole life.
//
//	p := peertest.SyslogNG(t, peertest.Options{}) // inputs tcp, tls, syslog
//	addr := p.Addr("tcp")                          // for the tcp sink
//	... send ...
//	lines := p.WaitLinesOf("tcp", 100, 30*time.Second)
//	p.Restart()                                    // SIGTERM, wait, start again
//	p.Kill()                                       // SIGKILL, start again
//
// Each input writes every message it receives to its own file, one per
// line: the message body ($MSG, %msg%) by default, which for the tcp and
// tls sinks is the event's JSON exactly as sent and for the syslog sink
// the JSON after the RFC 5424 header; with Options.Raw the message as it
// came off the wire instead. Lines and LinesOf read those files as they
// are now; WaitLines and WaitLinesOf wait until they hold enough lines.
//
// The kinds of input (Kind) match Vigil's sinks: Lines and LinesTLS for
// the tcp and tls sinks (newline framing, no parsing), Syslog and
// SyslogTLS for the syslog sink (RFC 5424 in RFC 6587 octet counting),
// RELP and RELPTLS (rsyslog only) for RELP. TLS inputs present a server
// certificate for 127.0.0.1 issued by Peer.CA (written to Peer.CAFile for
// a sink's ca_file) and do not ask for a client certificate, except
// rsyslog's RELPTLS: imrelp with a CA requires one that CA signed
// (tls.authMode certvalid), so a sink needs a client certificate from
// Peer.CA.
//
// A receiver is stopped (SIGTERM) at the end of the test. Restart, Kill,
// Stop and Start call t.Fatal when the receiver does not come back, so
// call them from the test's goroutine.
//
// Only tests import this package (internal/archtest checks it).
package peertest
