package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
)

// Defaults for the zero values of Config.
const (
	DefaultDialTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultKeepAlive    = 15 * time.Second
	DefaultSettle       = 2 * time.Second
)

const (
	// chunk is the most bytes written under one deadline: a write fails
	// when no chunk gets through for WriteTimeout, however large the
	// batch.
	chunk = 1 << 20
	// keepBuffer is the largest framing buffer kept from one Write to the
	// next; a larger one (an unusually large batch) is let go.
	keepBuffer = 16 << 20
)

// Config configures a Sink. Only Address is required.
type Config struct {
	// Address is the receiver's host:port.
	Address string `yaml:"address"`
	// TLS, when set, makes the sink speak TLS (the tls kind, whose
	// section holds these settings beside the address: see TLSKind).
	TLS *config.ClientTLS `yaml:"-"`
	// DialTimeout bounds connecting, TLS handshake included (default
	// 10s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// WriteTimeout bounds the writing of each MiB of a batch (default
	// 30s), so that a receiver that stops reading fails a Write within
	// about that time, however large the batch.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// KeepAlive is the TCP keep-alive period (default 15s; negative turns
	// keep-alives off).
	KeepAlive time.Duration `yaml:"keep_alive"`
	// Settle is how long the connection must stay open after the
	// receiver acknowledged a batch's last byte before the batch counts
	// as delivered (default 2s). A receiver that closes or resets the
	// connection sooner may have thrown away what its kernel took, so the
	// batch, and every later one, is sent again. The next batch is
	// written meanwhile.
	Settle time.Duration `yaml:"settle"`
	// Frame appends one event, framed, to dst. Nil is newline-delimited
	// JSON: the event's wire bytes as they are, then "\n". An error
	// fails the Write permanently (the record cannot be framed, however
	// often it is tried); it names the event.
	Frame func(dst []byte, r eventlog.Record) ([]byte, error) `yaml:"-"`
	// FrameSize returns the length of the frame Frame makes of r,
	// without making it. Nil with the default framing is the event's
	// length plus the newline; nil with another Frame frames r to
	// measure it.
	FrameSize func(r eventlog.Record) int `yaml:"-"`
}

// Validate checks the configuration without touching the network or the
// file system; it reports every problem at its key.
func (c Config) Validate() error {
	var p config.Problems
	p.Address("address", c.Address)
	if host, _, err := net.SplitHostPort(c.Address); err == nil && host == "" {
		p.Add("address", "%q has no host", c.Address)
	}
	p.NotNegative("dial_timeout", int64(c.DialTimeout))
	p.NotNegative("write_timeout", int64(c.WriteTimeout))
	p.NotNegative("settle", int64(c.Settle))
	if c.TLS != nil {
		p.Nest("tls", c.TLS.Validate())
	}
	return p.Err()
}

// TLSKind is the section of the tls kind in the config file: a tcp sink's
// settings and the TLS client settings side by side.
type TLSKind struct {
	Config           `yaml:",inline"`
	config.ClientTLS `yaml:",inline"`
}

// Sink returns the tcp sink's configuration, speaking TLS.
func (k TLSKind) Sink() Config {
	c := k.Config
	c.TLS = &k.ClientTLS
	return c
}

// Validate checks the settings with their keys as the section spells them.
func (k TLSKind) Validate() error {
	var p config.Problems
	p.Nest("", k.Config.Validate())
	p.Nest("", k.ClientTLS.Validate())
	return p.Err()
}

// Sink writes events to one stream connection.
type Sink struct {
	cfg    Config
	frame  func(dst []byte, r eventlog.Record) ([]byte, error)
	tls    *tlsDialer // nil for plain TCP
	dialer net.Dialer
	buf    []byte // framing buffer, used by Write only

	mu     sync.Mutex
	conn   *conn // nil when not connected
	closed bool
}

var (
	_ sinks.Sink      = (*Sink)(nil)
	_ sinks.Settler   = (*Sink)(nil)
	_ sinks.Connected = (*Sink)(nil)
	_ sinks.Framer    = (*Sink)(nil)
)

// errClosed is returned by a Write after Close.
var errClosed = errors.New("sink is closed")

// New returns a sink for cfg. It makes no network call; with TLS it reads
// the certificate files, and fails when one cannot be read or holds no
// certificate.
func New(cfg Config) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.KeepAlive == 0 {
		cfg.KeepAlive = DefaultKeepAlive
	}
	if cfg.Settle == 0 {
		cfg.Settle = DefaultSettle
	}
	s := &Sink{
		cfg:    cfg,
		frame:  cfg.Frame,
		dialer: net.Dialer{Timeout: cfg.DialTimeout, KeepAlive: cfg.KeepAlive},
	}
	if s.frame == nil {
		s.frame = frameLine
	}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig(cfg.Address)
		if err != nil {
			return nil, fmt.Errorf("tls settings for %s: %w", cfg.Address, err)
		}
		s.tls = newTLSDialer(tc, cfg.DialTimeout)
	}
	return s, nil
}

// FrameSize returns the bytes r takes on the connection, for the
// receiver's limit of one frame (sinks.Framer). A record the framing
// refuses counts as its bare length: Write parks it anyway.
func (s *Sink) FrameSize(r eventlog.Record) int {
	switch {
	case s.cfg.FrameSize != nil:
		return s.cfg.FrameSize(r)
	case s.cfg.Frame == nil:
		return len(r.Value) + 1
	}
	b, err := s.frame(nil, r)
	if err != nil {
		return len(r.Value)
	}
	return len(b)
}

// frameLine is the default framing: the wire JSON, then a newline.
func frameLine(dst []byte, r eventlog.Record) ([]byte, error) {
	switch {
	case len(r.Value) == 0:
		return dst, errors.New("empty event")
	case bytes.IndexByte(r.Value, '\n') >= 0:
		return dst, errors.New("event holds a newline, which would split its line")
	}
	dst = append(dst, r.Value...)
	return append(dst, '\n'), nil
}

// Write sends batch on the connection, dialing one first when there is
// none or the peer closed it, and returns nil once the batch settled: the
// peer acknowledged every byte and the connection stayed open for the
// settle time after. On any error the connection is dropped and the batch
// is to be written again.
func (s *Sink) Write(ctx context.Context, batch []eventlog.Record) error {
	settled := make(chan error, 1)
	if err := s.WriteSettling(ctx, batch, func(err error) { settled <- err }); err != nil {
		return err
	}
	select {
	case err := <-settled:
		if err != nil {
			return fmt.Errorf("deliver %d events to %s: %w", len(batch), s.cfg.Address, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for %d events to settle at %s: %w", len(batch), s.cfg.Address, ctx.Err())
	}
}

// WriteSettling sends batch as Write does, but returns once the peer
// acknowledged every byte; settled is called once the batch settled, or
// with the error of the connection when it ended within the settle time.
func (s *Sink) WriteSettling(ctx context.Context, batch []eventlog.Record, settled func(error)) error {
	if len(batch) == 0 {
		settled(nil)
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("write to %s: %w", s.cfg.Address, err)
	}
	buf, err := s.frameBatch(batch)
	if err != nil {
		return err
	}
	c, err := s.connection(ctx)
	if err != nil {
		return err
	}
	if err := s.send(ctx, c, buf); err != nil {
		return err
	}
	if err := c.await(settled); err != nil {
		s.drop(c, err)
		return fmt.Errorf("write %d bytes to %s: %w", len(buf), s.cfg.Address, err)
	}
	return nil
}

// frameBatch frames every record before any byte is sent, so that a
// record that cannot be framed fails the batch whole.
func (s *Sink) frameBatch(batch []eventlog.Record) ([]byte, error) {
	buf := s.buf[:0]
	for i := range batch {
		out, err := s.frame(buf, batch[i])
		if err != nil {
			return nil, sinks.Permanent(fmt.Errorf("frame event %s: %w", batch[i].ID, err))
		}
		buf = out
	}
	if cap(buf) <= keepBuffer {
		s.buf = buf[:0]
	} else {
		s.buf = nil
	}
	return buf, nil
}

// connection returns the open connection, or dials one.
func (s *Sink) connection(ctx context.Context) (*conn, error) {
	s.mu.Lock()
	c, closed := s.conn, s.closed
	s.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("write to %s: %w", s.cfg.Address, errClosed)
	}
	if c != nil {
		if c.alive() {
			return c, nil
		}
		s.drop(c, nil)
		if err := c.lostBatches(); err != nil {
			// The batches lost with the connection go first: written on
			// the next one, this batch would overtake them.
			return nil, fmt.Errorf("write to %s: %w", s.cfg.Address, err)
		}
	}
	c, err := s.dial(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.abort(errClosed)
		return nil, fmt.Errorf("write to %s: %w", s.cfg.Address, errClosed)
	}
	s.conn = c
	return c, nil
}

func (s *Sink) dial(ctx context.Context) (*conn, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.DialTimeout)
	defer cancel()
	nc, err := s.dialer.DialContext(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return nil, err // a *net.OpError: "dial tcp ADDRESS: ..." says it all
	}
	c := &conn{raw: nc, rw: nc}
	if s.tls != nil {
		if c, err = s.tls.handshake(ctx, nc); err != nil {
			_ = nc.Close() // the handshake's error is the one to report
			return nil, fmt.Errorf("tls handshake with %s: %w", s.cfg.Address, err)
		}
	}
	c.start(s.cfg.Settle)
	return c, nil
}

// send writes buf to c under deadlines from WriteTimeout and ctx; ctx
// ending interrupts a blocked write.
func (s *Sink) send(ctx context.Context, c *conn, buf []byte) error {
	stop := func() bool { return true }
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() {
			_ = c.raw.SetWriteDeadline(aLongTimeAgo) // fails only on a closed connection
		})
	}
	err := s.writeChunks(ctx, c, buf)
	if err == nil {
		err = s.waitAcked(ctx, c)
	}
	if !stop() {
		// The context ended while writing: its deadline may reach the
		// connection at any moment, so the connection is done with.
		s.drop(c, context.Cause(ctx))
	}
	if err != nil {
		s.drop(c, err)
		if cerr := contextEnded(ctx, err); cerr != nil {
			// The deadline that stopped the write was the context's.
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		return fmt.Errorf("write %d bytes to %s: %w", len(buf), s.cfg.Address, err)
	}
	return nil
}

// waitAcked returns once the peer's TCP stack has acknowledged every
// byte written to c, so that a batch counts as delivered only when it
// left this machine: bytes still in the local send buffer are lost if the
// peer goes away, and the batch must then be sent again. It fails when
// the peer acknowledges nothing for WriteTimeout, or when ctx ends.
// Where the platform cannot tell, it returns at once.
func (s *Sink) waitAcked(ctx context.Context, c *conn) error {
	wait := 20 * time.Microsecond
	last, lastChange := -1, time.Now()
	for {
		if err := c.ended(); err != nil {
			// A reset leaves the count of unacknowledged bytes as it was.
			return err
		}
		n, err := unacked(c.raw)
		if err != nil {
			return fmt.Errorf("ask for unacknowledged bytes: %w", err)
		}
		if n <= 0 {
			return nil
		}
		now := time.Now()
		if n != last {
			last, lastChange = n, now
		} else if now.Sub(lastChange) > s.cfg.WriteTimeout {
			return fmt.Errorf("peer acknowledged nothing of the last %d bytes for %v", n, s.cfg.WriteTimeout)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-c.done:
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

func (s *Sink) writeChunks(ctx context.Context, c *conn, buf []byte) error {
	for len(buf) > 0 {
		deadline := time.Now().Add(s.cfg.WriteTimeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := c.raw.SetWriteDeadline(deadline); err != nil {
			return err
		}
		// Checked after setting the deadline: a cancellation that came
		// before it would have been overwritten.
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(buf), chunk)
		if _, err := c.rw.Write(buf[:n]); err != nil {
			return err
		}
		buf = buf[n:]
	}
	return nil
}

// drop forgets c and closes it abruptly; its batches that had not
// settled fail with why (or with what ended the connection before).
func (s *Sink) drop(c *conn, why error) {
	s.mu.Lock()
	if s.conn == c {
		s.conn = nil
	}
	s.mu.Unlock()
	c.abort(why)
}

// Connected reports whether the sink holds an open connection.
func (s *Sink) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn != nil && s.conn.ended() == nil
}

// Close closes the connection and fails later Writes; a Write in
// progress is interrupted. Over TLS it first sends a close_notify, which
// waits at most 5 seconds for a peer that stopped reading. It returns
// nil: the connection is gone either way.
func (s *Sink) Close() error {
	s.mu.Lock()
	c := s.conn
	s.conn, s.closed = nil, true
	s.mu.Unlock()
	if c != nil {
		c.close(errClosed)
	}
	return nil
}

// aLongTimeAgo is a deadline already past: setting it makes pending and
// future I/O fail at once.
var aLongTimeAgo = time.Unix(1, 0)

// conn is one connection: raw is the TCP connection, rw what the sink
// writes to (raw itself, or TLS over it). A goroutine reads it from the
// start to the end, so that the peer closing or resetting it is seen at
// once, and keeps the batches acknowledged on it until they settle.
type conn struct {
	raw net.Conn
	rw  net.Conn
	tls *tlsConn // nil for plain TCP

	settle time.Duration
	done   chan struct{} // closed when the read goroutine returns

	mu      sync.Mutex
	end     error     // why the connection ended; nil while open
	waiting []waiting // acknowledged batches, oldest first
	lost    bool      // batches failed when the connection ended
	timer   *time.Timer
}

// waiting is a batch acknowledged at at, whose settled is called once.
type waiting struct {
	at      time.Time
	settled func(error)
}

// start runs the read goroutine; abort and close wait for it.
func (c *conn) start(settle time.Duration) {
	c.settle, c.done = settle, make(chan struct{})
	go c.read()
}

// read reads the connection until it ends, discarding what the peer
// sends (over TLS, handling it: session tickets, key updates), and then
// fails the batches that have not settled.
func (c *conn) read() {
	defer close(c.done)
	buf := make([]byte, 4096)
	for {
		_, err := c.rw.Read(buf)
		if err == nil {
			continue
		}
		if isTimeout(err) && c.ended() == nil {
			// A deadline left from before the goroutine started.
			if derr := c.raw.SetReadDeadline(time.Time{}); derr == nil {
				continue
			}
		}
		if errors.Is(err, io.EOF) {
			err = errors.New("the receiver closed the connection")
		}
		c.fail(err)
		return
	}
}

// ended returns why the connection ended, or nil while it is open.
func (c *conn) ended() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

// lostBatches returns why the connection ended when batches were lost
// with it.
func (c *conn) lostBatches() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.lost {
		return c.end
	}
	return nil
}

// await keeps settled until the batch just acknowledged settles; it fails
// when the connection ended already.
func (c *conn) await(settled func(error)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end != nil {
		return c.end
	}
	c.waiting = append(c.waiting, waiting{at: time.Now(), settled: settled})
	if c.timer == nil {
		c.timer = time.AfterFunc(c.settle, c.tick)
	}
	return nil
}

// tick settles the batches whose settle time passed, and waits for the
// next one. Callbacks run under c.mu, so that whoever sees the
// connection's end sees the failures it caused already.
func (c *conn) tick() {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for len(c.waiting) > 0 && now.Sub(c.waiting[0].at) >= c.settle {
		c.waiting[0].settled(nil)
		c.waiting = c.waiting[1:]
	}
	if len(c.waiting) > 0 && c.end == nil {
		c.timer.Reset(c.settle - now.Sub(c.waiting[0].at))
	} else {
		c.timer = nil
	}
}

// fail ends the connection (the first cause is kept) and fails every
// batch that has not settled.
func (c *conn) fail(cause error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.end == nil {
		if cause == nil {
			cause = errors.New("connection dropped")
		}
		c.end = fmt.Errorf("connection ended: %w", cause)
		if n := len(c.waiting); n > 0 {
			c.end = fmt.Errorf("connection ended before %d batches settled: %w", n, cause)
		}
	}
	for _, w := range c.waiting {
		w.settled(c.end)
		c.lost = true
	}
	c.waiting = nil
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
}

// abort closes the connection without a TLS goodbye: it failed.
func (c *conn) abort(why error) {
	c.fail(why)
	_ = c.raw.Close() // closing a broken connection has nothing to report
	<-c.done
}

// close ends the connection in order; batches not settled yet fail with
// why.
func (c *conn) close(why error) {
	c.fail(why)
	_ = c.rw.Close() // the connection is released even when the goodbye fails
	_ = c.raw.Close()
	<-c.done
}

// alive reports whether the peer has left the connection open. A peer
// that closed or reset it has done so before this write, and a batch
// written into it would vanish. Bytes the peer sent are the read
// goroutine's: a moment is left to it to handle them (over TLS, a
// close_notify may be among them).
func (c *conn) alive() bool {
	for i := range 4 {
		if c.ended() != nil {
			return false
		}
		pending, err := peek(c.raw)
		switch {
		case err != nil:
			c.fail(err)
			return false
		case !pending:
			return true
		}
		time.Sleep(time.Duration(i+1) * time.Millisecond)
	}
	return c.ended() == nil
}

// contextEnded returns the context's error when it ended, or is about to
// end: the write deadline taken from the context's may expire a moment
// before the context's own timer.
func contextEnded(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if d, ok := ctx.Deadline(); ok && isTimeout(err) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
