package sinktest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StreamConfig describes a StreamReceiver.
type StreamConfig struct {
	// TLS, when set, makes the receiver speak TLS.
	TLS *TLSReceiverConfig
	// EditTLS, when set with TLS, adjusts the receiver's TLS settings
	// (a protocol version, session tickets) before it listens.
	EditTLS func(*tls.Config)
	// ReadEvent reads the next event from a connection and returns its
	// wire JSON (which may alias r's buffer). It returns io.EOF at a
	// clean end of the stream and io.ErrUnexpectedEOF when the stream
	// ends inside an event; any other error is a framing error: the
	// receiver records it (see Errors) and closes the connection.
	ReadEvent func(r *bufio.Reader) ([]byte, error)
	// Session, when set, replaces ReadEvent for a protocol in which the
	// receiver answers (RELP): it runs the whole exchange on one
	// connection, after the TLS handshake, and the receiver resets the
	// connection when it returns.
	Session func(*StreamSession)
}

// StreamSession is one connection of a StreamReceiver, as a
// StreamConfig.Session sees it.
type StreamSession struct {
	r *StreamReceiver
	// Raw is the TCP connection; Conn is what the session reads and
	// writes: Raw itself, or TLS over it.
	Raw, Conn net.Conn
	// Reader reads Conn.
	Reader *bufio.Reader
	// Unread is the number of events after which the session is to end
	// with the rest unread and unanswered (see CloseUnread); -1 for no
	// such end.
	Unread int
}

// Wait blocks while the receiver is stalled; it returns false once the
// receiver is down, when the session is to end.
func (s *StreamSession) Wait() bool { return s.r.waitReading() }

// Accept records ev as received and reports whether the connection is to
// be dropped now, before the event is answered (see DropAfter).
func (s *StreamSession) Accept(ev []byte) bool { return s.r.accept(ev) }

// Fail records a protocol error (see Errors): the test fails when the
// receiver is taken down at its end.
func (s *StreamSession) Fail(err error) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.r.errs = append(s.r.errs, err)
}

// ReadLine is the ReadEvent of newline-delimited JSON.
func ReadLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	switch {
	case err == nil:
		return line[:len(line)-1], nil
	case errors.Is(err, bufio.ErrBufferFull):
		// A line longer than the buffer: gather it.
		long := bytes.Clone(line)
		rest, err := r.ReadBytes('\n')
		if err != nil {
			return nil, truncated(err)
		}
		return append(long, rest[:len(rest)-1]...), nil
	case errors.Is(err, io.EOF) && len(line) == 0:
		return nil, io.EOF
	default:
		return nil, truncated(err)
	}
}

// truncated turns the end of a stream inside an event into
// io.ErrUnexpectedEOF.
func truncated(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// StreamReceiver is a Receiver for stream protocols: it accepts TCP (or
// TLS) connections on a loopback port and reads events from each with a
// StreamConfig.ReadEvent, or runs a StreamConfig.Session on each. It has
// no way to refuse events, so Reject returns false; a receiver built on it
// for a protocol that answers can say otherwise.
type StreamReceiver struct {
	t    testing.TB
	cfg  StreamConfig
	tls  *tls.Config
	addr string

	mu        sync.Mutex
	wake      *sync.Cond // signalled when stalled or down changes
	ln        net.Listener
	conns     map[net.Conn]struct{}
	down      bool
	stalled   bool
	dropAfter int
	forget    forget
	received  [][]byte
	errs      []error
	wg        sync.WaitGroup
}

var (
	_ Receiver  = (*StreamReceiver)(nil)
	_ Forgetful = (*StreamReceiver)(nil)
)

// forget is what CloseUnread asked for.
type forget struct {
	conns, read int
	halfClose   bool
}

// NewStreamReceiver starts a receiver on a free loopback port. It is taken
// down when the test ends, and the test fails if it saw a framing error.
func NewStreamReceiver(t testing.TB, cfg StreamConfig) *StreamReceiver {
	t.Helper()
	r := &StreamReceiver{t: t, cfg: cfg, conns: map[net.Conn]struct{}{}}
	r.wake = sync.NewCond(&r.mu)
	if cfg.TLS != nil {
		r.tls = &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cfg.TLS.Certificate},
		}
		if cfg.TLS.ClientCAs != nil {
			r.tls.ClientCAs = cfg.TLS.ClientCAs
			r.tls.ClientAuth = tls.RequireAndVerifyClientCert
		}
		if cfg.EditTLS != nil {
			cfg.EditTLS(r.tls)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	r.addr = ln.Addr().String()
	r.serve(ln)
	t.Cleanup(func() {
		r.Down()
		for _, err := range r.Errors() {
			t.Errorf("receiver: %v", err)
		}
	})
	return r
}

// Addr returns the receiver's host:port.
func (r *StreamReceiver) Addr() string { return r.addr }

// Received returns the events accepted so far, in arrival order.
func (r *StreamReceiver) Received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.received...)
}

// Errors returns the framing errors seen so far.
func (r *StreamReceiver) Errors() []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]error(nil), r.errs...)
}

// Down closes the listener and every connection, abruptly, and returns
// once no goroutine of the receiver runs.
func (r *StreamReceiver) Down() {
	r.mu.Lock()
	if r.down {
		r.mu.Unlock()
		return
	}
	r.down = true
	if err := r.ln.Close(); err != nil {
		r.errs = append(r.errs, fmt.Errorf("close listener: %w", err))
	}
	for c := range r.conns {
		reset(c)
	}
	r.wake.Broadcast()
	r.mu.Unlock()
	r.wg.Wait()
}

// Up listens again on the same address.
func (r *StreamReceiver) Up() {
	r.t.Helper()
	r.mu.Lock()
	if !r.down {
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	var ln net.Listener
	var err error
	// The port was ours a moment ago; another process may hold it
	// briefly.
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
	}
	if err != nil {
		r.t.Fatalf("listen again on %s: %v", r.addr, err)
	}
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
	r.serve(ln)
}

// DropAfter makes the receiver reset the connection that carries the nth
// next event, right after accepting it.
func (r *StreamReceiver) DropAfter(n int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropAfter = n
}

// Stall stops reading from every connection while on.
func (r *StreamReceiver) Stall(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stalled = on
	r.wake.Broadcast()
}

// CloseUnread makes the receiver close each of its next n connections
// once it read up to read events, without reading the rest; with
// halfClose, it half-closes each first, right after the handshake.
func (r *StreamReceiver) CloseUnread(n, read int, halfClose bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forget = forget{conns: n, read: read, halfClose: halfClose}
}

// Reject returns false: a stream receiver cannot refuse events.
func (r *StreamReceiver) Reject(int, bool) bool { return false }

func (r *StreamReceiver) serve(ln net.Listener) {
	r.mu.Lock()
	r.ln = ln
	r.mu.Unlock()
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Down
			}
			r.mu.Lock()
			if r.down {
				r.mu.Unlock()
				reset(c)
				return
			}
			r.conns[c] = struct{}{}
			r.wg.Add(1)
			r.mu.Unlock()
			go r.handle(c)
		}
	}()
}

func (r *StreamReceiver) handle(c net.Conn) {
	defer r.wg.Done()
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		reset(c)
	}()
	r.mu.Lock()
	plan := r.forget
	if plan.conns > 0 {
		r.forget.conns--
	}
	r.mu.Unlock()
	forgetful := plan.conns > 0
	var in net.Conn = c
	if r.tls != nil {
		tc := tls.Server(c, r.tls)
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return
		}
		if err := tc.Handshake(); err != nil {
			return // a client with the wrong certificates; its error is the test's
		}
		if err := c.SetDeadline(time.Time{}); err != nil {
			return
		}
		in = tc
		if forgetful && plan.halfClose {
			_ = tc.CloseWrite() // the close_notify; errors show as the sink's
		}
	}
	if forgetful && plan.halfClose {
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.CloseWrite() // the FIN
		}
	}
	ss := &StreamSession{r: r, Raw: c, Conn: in, Reader: bufio.NewReaderSize(in, 64<<10), Unread: -1}
	if forgetful {
		ss.Unread = plan.read
	}
	if r.cfg.Session != nil {
		r.cfg.Session(ss)
		return
	}
	r.readEvents(ss)
}

// readEvents reads events with StreamConfig.ReadEvent until the
// connection ends.
func (r *StreamReceiver) readEvents(ss *StreamSession) {
	for n := 0; ; n++ {
		if n == ss.Unread {
			// Close with what is left unread; the kernel acknowledged it.
			_ = ss.Raw.Close()
			return
		}
		if !r.waitReading() {
			return
		}
		ev, err := r.cfg.ReadEvent(ss.Reader)
		if err != nil {
			if !EndOfStream(err) {
				ss.Fail(fmt.Errorf("read event from %s: %w", ss.Raw.RemoteAddr(), err))
			}
			return
		}
		if r.accept(ev) {
			return // the deferred reset drops the connection
		}
	}
}

// waitReading blocks while the receiver is stalled; it returns false once
// the receiver is down.
func (r *StreamReceiver) waitReading() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.stalled && !r.down {
		r.wake.Wait()
	}
	return !r.down
}

// accept records ev and reports whether the connection is to be dropped.
func (r *StreamReceiver) accept(ev []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.received = append(r.received, bytes.Clone(ev))
	if r.dropAfter > 0 {
		r.dropAfter--
		return r.dropAfter == 0
	}
	return false
}

// EndOfStream reports whether err ends a connection without a framing
// error: the peer closed or reset it, or the receiver did.
func EndOfStream(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

// reset closes c abruptly: a TCP reset instead of an orderly close, so the
// peer's next write fails rather than vanishing into a half-closed
// connection.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // best effort: a plain close is a fine fallback
	}
	_ = c.Close() // the connection is done with either way
}

// NewDiscardReceiver accepts connections on a loopback port (TLS when
// cfg is set) and reads them to the end, keeping nothing: the far end of
// a benchmark. It stops when the test or benchmark ends.
func NewDiscardReceiver(tb testing.TB, cfg *TLSReceiverConfig) (addr string) {
	tb.Helper()
	var ln net.Listener
	var err error
	if cfg != nil {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cfg.Certificate},
		})
	} else {
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		tb.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at the end of the test
			}
			mu.Lock()
			conns[c] = struct{}{}
			mu.Unlock()
			wg.Go(func() {
				_, _ = io.Copy(io.Discard, c) // until the peer or the cleanup closes it
				mu.Lock()
				delete(conns, c)
				mu.Unlock()
				_ = c.Close()
			})
		}
	})
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Serve accepts plain TCP connections on a loopback port, one at a time,
// runs handle on each and then closes it: the far end of a test that
// scripts what a receiver does. It stops when the test ends.
func Serve(t testing.TB, handle func(net.Conn)) (addr string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed at the end of the test
			}
			handle(c)
			_ = c.Close() // handle may have closed it already
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// Capture accepts one plain TCP connection, runs send with its address,
// and returns every byte the connection carried until it closed: the
// exact wire bytes of a sink, for golden files.
func Capture(t testing.TB, send func(addr string)) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan []byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- nil
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c) // what arrived before an error is what is compared
		got <- b
	}()
	send(ln.Addr().String())
	select {
	case b := <-got:
		return b
	case <-time.After(10 * time.Second):
		t.Fatal("the capture receiver got no closed connection")
		return nil
	}
}
