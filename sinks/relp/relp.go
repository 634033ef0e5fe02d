package relp

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

const (
	// openOffers is what the sink offers in its open command: RELP
	// version 0 (the only one) and the syslog command.
	openOffers = "relp_version=0\nrelp_software=vigil\ncommands=" + CmdSyslog
	// maxRspData bounds the data of a frame the receiver sends.
	maxRspData = 64 << 10
	// closeWait bounds the wait for the answer to close, and the TLS
	// goodbye, when the sink is closed.
	closeWait = time.Second
	// keepBuffer is the largest message buffer kept from one Write to
	// the next.
	keepBuffer = 16 << 20
)

// errClosed is returned by a Write after Close.
var errClosed = errors.New("sink is closed")

// recordKey names a record across Writes of the same batch.
type recordKey struct {
	id        string
	partition int
	offset    int64
}

func keyOf(r eventlog.Record) recordKey { return recordKey{r.ID, r.Partition, r.Offset} }

// Sink sends events as RELP syslog frames, each acknowledged by the
// receiver's application (see the package comment).
type Sink struct {
	cfg    Config
	format *syslogsink.Formatter
	tls    *tls.Config // nil for plain TCP
	dialer net.Dialer

	// Used by Write only.
	buf []byte
	// carry holds the records the receiver acknowledged during the last
	// Write, which failed: the same batch written again skips them.
	carry map[recordKey]bool

	mu     sync.Mutex
	sess   *session // nil when not connected
	closed bool
}

var (
	_ sinks.Sink      = (*Sink)(nil)
	_ sinks.Connected = (*Sink)(nil)
)

// New returns a sink for cfg. It makes no network call; with TLS it reads
// the certificate files, and fails when one cannot be read.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.SetDefaults()
	f, err := syslogsink.NewFormatter(cfg.Facility, cfg.AppName, cfg.Hostname)
	if err != nil {
		return nil, err
	}
	s := &Sink{
		cfg:    cfg,
		format: f,
		dialer: net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: 15 * time.Second},
	}
	if cfg.TLS != nil {
		if s.tls, err = cfg.TLS.ClientConfig(cfg.Address); err != nil {
			return nil, fmt.Errorf("tls settings for %s: %w", cfg.Address, err)
		}
	}
	return s, nil
}

// FrameSize returns the bytes r takes on the wire as one RELP syslog
// frame: TXNR, command, DATALEN, the RFC 5424 message and the trailing
// LF. The TXNR is counted at its widest (9 digits), so that the size does
// not depend on the session's position. For a record whose envelope
// cannot be read (a Write refuses it) it counts the event's bytes alone
// as the message.
func (s *Sink) FrameSize(r eventlog.Record) int {
	n, err := s.format.MessageLen(r)
	if err != nil {
		n = len(r.Value)
	}
	return FrameLen(MaxTxnr, CmdSyslog, n)
}

// Write sends batch as syslog frames, at most Window unanswered at a
// time, and returns nil once the receiver answered every one with 200.
// When the connection is lost after the receiver acknowledged part of
// the batch, the rest is sent again on a new connection within the same
// Write; records acknowledged during a failed Write are skipped when the
// same batch is written again.
func (s *Sink) Write(ctx context.Context, batch []eventlog.Record) error {
	if len(batch) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write to %s: %w", s.cfg.Address, err)
	}
	msgs, err := s.messages(batch)
	if err != nil {
		return err
	}
	acked := make([]bool, len(batch))
	left := len(batch)
	for i, r := range batch {
		if s.carry[keyOf(r)] {
			acked[i] = true
			left--
		}
	}
	defer func() {
		if left == 0 {
			s.carry = nil
			return
		}
		s.carry = map[recordKey]bool{}
		for i, r := range batch {
			if acked[i] {
				s.carry[keyOf(r)] = true
			}
		}
	}()
	for left > 0 {
		c, err := s.session(ctx)
		if err != nil {
			return err
		}
		n, err := s.exchange(ctx, c, msgs, acked)
		left -= n
		if err == nil {
			continue
		}
		s.drop(c)
		var lost *lostError
		if errors.As(err, &lost) && n > 0 && ctx.Err() == nil {
			// The receiver took part of the batch on this connection: go
			// on with the rest on the next one.
			continue
		}
		return fmt.Errorf("deliver %d of %d events to %s: %w", left, len(batch), s.cfg.Address, err)
	}
	return nil
}

// messages formats every record before any is sent, so that a record
// that cannot be formatted fails the batch whole.
func (s *Sink) messages(batch []eventlog.Record) ([][]byte, error) {
	buf := s.buf[:0]
	ends := make([]int, len(batch))
	for i := range batch {
		out, err := s.format.AppendMessage(buf, batch[i])
		if err != nil {
			return nil, sinks.Permanent(fmt.Errorf("format event %s: %w", batch[i].ID, err))
		}
		buf = out
		ends[i] = len(buf)
	}
	msgs := make([][]byte, len(batch))
	start := 0
	for i, end := range ends {
		msgs[i] = buf[start:end:end]
		start = end
	}
	if cap(buf) <= keepBuffer {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
	return msgs, nil
}

// lostError is the loss of a connection, as opposed to the receiver's
// answer refusing a frame.
type lostError struct{ err error }

func (e *lostError) Error() string { return e.err.Error() }
func (e *lostError) Unwrap() error { return e.err }

// exchange sends the messages not acknowledged yet on c, keeping at most
// Window unanswered, and marks those the receiver answered with a
// success. It returns how many it marked.
func (s *Sink) exchange(ctx context.Context, c *session, msgs [][]byte, acked []bool) (n int, err error) {
	stop := context.AfterFunc(ctx, func() {
		_ = c.nc.SetWriteDeadline(aLongTimeAgo) // fails only on a closed connection
	})
	defer stop()
	outstanding := make(map[int]int, s.cfg.Window) // txnr to index
	timer := time.NewTimer(s.cfg.AckTimeout)
	defer timer.Stop()
	var out []byte
	next := 0
	for {
		out = out[:0]
		for next < len(msgs) && len(outstanding) < s.cfg.Window {
			if !acked[next] {
				txnr := c.nextTxnr()
				out = AppendFrame(out, txnr, CmdSyslog, msgs[next])
				outstanding[txnr] = next
			}
			next++
		}
		if len(out) > 0 {
			if err := c.nc.SetWriteDeadline(time.Now().Add(s.cfg.AckTimeout)); err != nil {
				return n, &lostError{err}
			}
			if err := ctx.Err(); err != nil {
				return n, err
			}
			if _, err := c.rw.Write(out); err != nil {
				if cerr := ctx.Err(); cerr != nil {
					return n, fmt.Errorf("%w (%v)", cerr, err)
				}
				// The receiver may have answered before it closed the
				// connection: a refusal is the error to report.
				m, rerr := c.answersAfterLoss(outstanding, acked)
				n += m
				if rerr != nil {
					return n, rerr
				}
				return n, &lostError{fmt.Errorf("send frames: %w", err)}
			}
		}
		if len(outstanding) == 0 && next == len(msgs) {
			return n, nil
		}
		timer.Reset(s.cfg.AckTimeout)
		var f Frame
		select {
		case f = <-c.rsps:
		case <-c.done:
			select {
			case f = <-c.rsps: // answers that came before the end go first
			default:
				return n, &lostError{fmt.Errorf("%d frames unanswered: %w", len(outstanding), c.ended())}
			}
		case <-ctx.Done():
			return n, fmt.Errorf("wait for answers to %d frames: %w", len(outstanding), ctx.Err())
		case <-timer.C:
			return n, &lostError{fmt.Errorf("the receiver answered none of %d frames for %v", len(outstanding), s.cfg.AckTimeout)}
		}
		if err := answer(f, outstanding, acked); err != nil {
			return n, err
		}
		n++
	}
}

// answer marks the frame f answers as acknowledged, or returns why not.
func answer(f Frame, outstanding map[int]int, acked []bool) error {
	i, ok := outstanding[f.Txnr]
	if !ok {
		return fmt.Errorf("the receiver answered txnr %d, which is not outstanding", f.Txnr)
	}
	delete(outstanding, f.Txnr)
	rsp, err := ParseResponse(f.Data)
	if err != nil {
		return fmt.Errorf("answer to txnr %d: %w", f.Txnr, err)
	}
	if !rsp.OK() {
		return refusal(rsp)
	}
	acked[i] = true
	return nil
}

// answersAfterLoss takes the answers the receiver sent before the
// connection broke, waiting a moment for the reader to see the end.
func (c *session) answersAfterLoss(outstanding map[int]int, acked []bool) (n int, err error) {
	t := time.NewTimer(closeWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	}
	for {
		select {
		case f := <-c.rsps:
			if err := answer(f, outstanding, acked); err != nil {
				return n, err
			}
			n++
		default:
			return n, nil
		}
	}
}

// refusal is the error of a frame the receiver answered with rsp, which
// is not a success. librelp, and so rsyslog's imrelp, answers only 200
// and 500; it sends 500 when the session cannot take the command (the
// syslog command not enabled, a failed open), and rsyslog's own RELP
// client then reopens the session and sends the message again. So 500,
// and every code but 4xx, is retryable: the events wait and the batch is
// written again on a new connection. A 4xx says that the request itself
// is at fault, which sending it again cannot change: it is permanent,
// and the Forwarder parks the refused event in the dead letter.
func refusal(rsp Response) error {
	err := fmt.Errorf("the receiver answered %d %q", rsp.Code, rsp.Text)
	if rsp.Code >= 400 && rsp.Code < 500 {
		return sinks.Permanent(err)
	}
	return err
}

// session returns the open session, or opens one.
func (s *Sink) session(ctx context.Context) (*session, error) {
	s.mu.Lock()
	c, closed := s.sess, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("write to %s: %w", s.cfg.Address, errClosed)
	}
	if c != nil {
		if c.ended() == nil {
			return c, nil
		}
		s.drop(c)
	}
	c, err := s.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open relp session with %s: %w", s.cfg.Address, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.abort()
		return nil, fmt.Errorf("write to %s: %w", s.cfg.Address, errClosed)
	}
	s.sess = c
	return c, nil
}

// open connects, runs the TLS handshake, and opens the RELP session: the
// open command and the receiver's 200 answer, which must offer the
// syslog command.
func (s *Sink) open(ctx context.Context) (*session, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	nc, err := s.dialer.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, err // a *net.OpError: "dial tcp ADDRESS: ..." says it all
	}
	c, err := s.handshake(ctx, nc)
	if err != nil {
		_ = nc.Close() // the handshake's error is the one to report
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return nil, err
	}
	return c, nil
}

func (s *Sink) handshake(ctx context.Context, nc net.Conn) (*session, error) {
	stop := context.AfterFunc(ctx, func() {
		_ = nc.SetDeadline(aLongTimeAgo) // fails only on a closed connection
	})
	defer stop()
	var rw net.Conn = nc
	if s.tls != nil {
		tc := tls.Client(nc, s.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("tls handshake: %w", err)
		}
		rw = tc
	}
	if d, ok := ctx.Deadline(); ok {
		if err := nc.SetDeadline(d); err != nil {
			return nil, err
		}
	}
	if _, err := rw.Write(AppendFrame(nil, 1, CmdOpen, []byte(openOffers))); err != nil {
		return nil, fmt.Errorf("send open: %w", err)
	}
	br := bufio.NewReader(rw)
	f, err := ReadFrame(br, maxRspData)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errors.New("the receiver closed the connection")
		}
		return nil, fmt.Errorf("read the answer to open: %w", err)
	}
	if f.Command != CmdRsp || f.Txnr != 1 {
		return nil, fmt.Errorf("the receiver answered open with %q txnr %d, want rsp txnr 1", f.Command, f.Txnr)
	}
	rsp, err := ParseResponse(f.Data)
	if err != nil {
		return nil, fmt.Errorf("answer to open: %w", err)
	}
	if !rsp.OK() {
		return nil, fmt.Errorf("the receiver refused the session: %d %q", rsp.Code, rsp.Text)
	}
	if !ParseOffers(rsp.Data).Has("commands", CmdSyslog) {
		return nil, fmt.Errorf("the receiver does not offer the syslog command (its offers: %q)", rsp.Data)
	}
	if !stop() {
		// The context ended: its deadline may reach the connection at
		// any moment.
		return nil, ctx.Err()
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	c := &session{
		nc: nc, rw: rw, txnr: 2,
		rsps: make(chan Frame, s.cfg.Window+1),
		done: make(chan struct{}),
		quit: make(chan struct{}),
	}
	go c.read(br)
	return c, nil
}

// drop forgets c and closes it abruptly.
func (s *Sink) drop(c *session) {
	s.mu.Lock()
	if s.sess == c {
		s.sess = nil
	}
	s.mu.Unlock()
	c.abort()
}

// Connected reports whether the sink holds an open session.
func (s *Sink) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess != nil && s.sess.ended() == nil
}

// Close ends the session with a close command (waiting at most a second
// for its answer) and fails later Writes. It returns nil: the connection
// is gone either way.
func (s *Sink) Close() error {
	s.mu.Lock()
	c := s.sess
	s.sess, s.closed = nil, true
	s.mu.Unlock()
	if c != nil {
		c.close()
	}
	return nil
}

// aLongTimeAgo is a deadline already past.
var aLongTimeAgo = time.Unix(1, 0)

// session is one RELP session on one connection. A goroutine reads the
// receiver's frames from the open answer on until the connection ends.
type session struct {
	nc   net.Conn // the TCP connection
	rw   net.Conn // what frames go over: nc, or TLS over it
	rsps chan Frame
	done chan struct{} // closed when the reader returns
	quit chan struct{} // closed to stop the reader

	mu       sync.Mutex
	txnr     int   // the next transaction number
	end      error // why the session ended; nil while open
	quitOnce sync.Once
}

func (c *session) nextTxnr() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.txnr
	c.txnr = NextTxnr(t)
	return t
}

// read hands the receiver's answers to the writer until the connection
// ends or the receiver says it closes the session.
func (c *session) read(br *bufio.Reader) {
	defer close(c.done)
	for {
		f, err := ReadFrame(br, maxRspData)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				err = errors.New("the receiver closed the connection")
			}
			c.fail(err)
			return
		}
		switch f.Command {
		case CmdRsp:
			select {
			case c.rsps <- f:
			case <-c.quit:
				c.fail(errors.New("session closed"))
				return
			}
		case CmdServerClose:
			c.fail(errors.New("the receiver closed the session (serverclose)"))
			return
		default:
			c.fail(fmt.Errorf("the receiver sent a %q frame", f.Command))
			return
		}
	}
}

func (c *session) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end == nil {
		c.end = fmt.Errorf("session ended: %w", err)
	}
}

// ended returns why the session ended, or nil while it is open.
func (c *session) ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// abort closes the connection at once and waits for the reader.
func (c *session) abort() {
	c.fail(errors.New("session dropped"))
	c.quitOnce.Do(func() { close(c.quit) })
	_ = c.nc.Close() // closing a broken connection has nothing to report
	<-c.done
}

// close sends the close command and waits a moment for its answer, then
// closes the connection (over TLS with a close_notify).
func (c *session) close() {
	if c.ended() == nil {
		deadline := time.Now().Add(closeWait)
		_ = c.nc.SetDeadline(deadline) // a failure shows in the write below
		if _, err := c.rw.Write(AppendFrame(nil, c.nextTxnr(), CmdClose, nil)); err == nil {
			t := time.NewTimer(time.Until(deadline))
			select {
			case <-c.rsps:
			case <-c.done:
			case <-t.C:
			}
			t.Stop()
		}
		_ = c.rw.Close() // the goodbye is best effort
	}
	c.abort()
}
