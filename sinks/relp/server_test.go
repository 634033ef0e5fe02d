package relp_test

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

	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

// server is an in-process RELP receiver, a sinktest.Receiver: it answers
// open as librelp does, each syslog frame with 200 OK once it recorded
// the event, and close; the suite can take it down, make it drop or
// forget connections, stop reading, and refuse frames.
type server struct {
	t    testing.TB
	tls  *tls.Config
	addr string

	mu        sync.Mutex
	wake      *sync.Cond
	ln        net.Listener
	conns     map[net.Conn]struct{}
	down      bool
	stalled   bool
	dropAfter int
	refuse    []string // answers for the next refused frames, such as "500 busy"
	forget    forgetPlan
	closeSoon int // send serverclose after this many more events
	hold      int // answer only once this many frames wait, then check no more came
	overrun   int // frames seen beyond hold before answering
	received  [][]byte
	errs      []error
	wg        sync.WaitGroup
}

type forgetPlan struct {
	conns, read int
	halfClose   bool
}

var (
	_ sinktest.Receiver  = (*server)(nil)
	_ sinktest.Forgetful = (*server)(nil)
)

func newServer(t testing.TB, cfg *sinktest.TLSReceiverConfig) *server {
	t.Helper()
	s := &server{t: t, conns: map[net.Conn]struct{}{}}
	s.wake = sync.NewCond(&s.mu)
	if cfg != nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cfg.Certificate}}
		if cfg.ClientCAs != nil {
			s.tls.ClientCAs = cfg.ClientCAs
			s.tls.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(func() {
		s.Down()
		for _, err := range s.Errors() {
			t.Errorf("receiver: %v", err)
		}
	})
	return s
}

func (s *server) Addr() string { return s.addr }

func (s *server) Received() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.received...)
}

func (s *server) Errors() []error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]error(nil), s.errs...)
}

func (s *server) Down() {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		return
	}
	s.down = true
	_ = s.ln.Close()
	for c := range s.conns {
		reset(c)
	}
	s.wake.Broadcast()
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *server) Up() {
	s.t.Helper()
	s.mu.Lock()
	if !s.down {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	var ln net.Listener
	var err error
	for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(20 * time.Millisecond) {
		if ln, err = net.Listen("tcp", s.addr); err == nil {
			break
		}
	}
	if err != nil {
		s.t.Fatalf("listen again on %s: %v", s.addr, err)
	}
	s.mu.Lock()
	s.down = false
	s.mu.Unlock()
	s.serve(ln)
}

func (s *server) DropAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.dropAfter = n
}

func (s *server) Stall(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stalled = on
	s.wake.Broadcast()
}

func (s *server) CloseUnread(n, read int, halfClose bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forget = forgetPlan{conns: n, read: read, halfClose: halfClose}
}

// Reject refuses the next n syslog frames: with 400 (permanent) or 500
// (retryable, librelp's only error code). After a refusal the receiver
// ends the session, as librelp does when a command fails, so the frames
// sent behind the refused one are not taken.
func (s *server) Reject(n int, permanent bool) bool {
	answer := "500 error processing"
	if permanent {
		answer = "400 malformed message"
	}
	answers := make([]string, n)
	for i := range answers {
		answers[i] = answer
	}
	s.Answer(answers...)
	return true
}

// Answer refuses the next frames with these answers, one each.
func (s *server) Answer(answers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse = append(s.refuse, answers...)
}

// ServerCloseAfter sends serverclose and closes the connection once n
// more events were taken.
func (s *server) ServerCloseAfter(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closeSoon = n
}

// Hold makes the receiver answer only once n frames wait for an answer,
// all at once, after checking that the sink sent no more meanwhile.
func (s *server) Hold(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hold = n
}

// Overrun is how many frames the sink sent beyond the held ones.
func (s *server) Overrun() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overrun
}

func (s *server) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Down
			}
			s.mu.Lock()
			if s.down {
				s.mu.Unlock()
				reset(c)
				return
			}
			s.conns[c] = struct{}{}
			s.wg.Add(1)
			s.mu.Unlock()
			go s.handle(c)
		}
	}()
}

func (s *server) handle(c net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		reset(c)
	}()
	s.mu.Lock()
	plan := s.forget
	if plan.conns > 0 {
		s.forget.conns--
	}
	s.mu.Unlock()
	forgetful := plan.conns > 0
	var rw net.Conn = c
	if s.tls != nil {
		tc := tls.Server(c, s.tls)
		if err := c.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
			return
		}
		if err := tc.Handshake(); err != nil {
			return // a client with the wrong certificates; its error is the test's
		}
		if err := c.SetDeadline(time.Time{}); err != nil {
			return
		}
		rw = tc
	}
	if forgetful && plan.halfClose {
		if tc, ok := rw.(*tls.Conn); ok {
			_ = tc.CloseWrite()
		}
		if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
	}
	br := bufio.NewReaderSize(rw, 64<<10)
	bw := bufio.NewWriter(rw)
	var held []int
	for n := 0; ; {
		if !s.waitReading() {
			return
		}
		f, err := relp.ReadFrame(br, 1<<20)
		if err != nil {
			if !endOfStream(err) {
				s.fail(fmt.Errorf("read frame: %w", err))
			}
			return
		}
		switch f.Command {
		case relp.CmdOpen:
			offers := relp.ParseOffers(f.Data)
			if !offers.Has("commands", relp.CmdSyslog) || !offers.Has("relp_version", "0") {
				s.fail(fmt.Errorf("open offers %q", f.Data))
			}
			bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte("200 OK\nrelp_version=0\nrelp_software=vigil-test\ncommands=syslog")))
		case relp.CmdClose:
			bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, nil))
			bw.Flush()
			return
		case relp.CmdSyslog:
			if forgetful && n == plan.read {
				return // with what is left unread and unanswered
			}
			if answer, ok := s.refusal(); ok {
				bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte(answer)))
				bw.Flush()
				closeAfterAnswer(c, rw)
				return
			}
			m, err := syslogsink.ParseMessage(f.Data)
			if err != nil {
				s.fail(fmt.Errorf("syslog frame %d: %w", f.Txnr, err))
				return
			}
			drop, closeNow, hold := s.accept(m.Msg)
			n++
			if drop {
				return // before answering: the sink must send it again
			}
			held = append(held, f.Txnr)
			if hold > 0 && len(held) < hold {
				continue
			}
			if hold > 0 {
				s.checkNoMore(c, br)
			}
			for _, txnr := range held {
				bw.Write(relp.AppendFrame(nil, txnr, relp.CmdRsp, []byte("200 OK")))
			}
			held = held[:0]
			if closeNow {
				bw.Write([]byte("0 serverclose 0\n"))
				bw.Flush()
				return
			}
		default:
			s.fail(fmt.Errorf("unexpected command %q", f.Command))
			return
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return
			}
		}
	}
}

// checkNoMore waits a moment for a frame beyond the held ones: a sink
// within its window sends none.
func (s *server) checkNoMore(c net.Conn, br *bufio.Reader) {
	if br.Buffered() == 0 {
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		_, _ = br.Peek(1)
		_ = c.SetReadDeadline(time.Time{})
	}
	if br.Buffered() > 0 {
		s.mu.Lock()
		s.overrun++
		s.mu.Unlock()
	}
}

func (s *server) refusal() (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.refuse) == 0 {
		return "", false
	}
	a := s.refuse[0]
	s.refuse = s.refuse[1:]
	return a, true
}

func (s *server) accept(ev []byte) (drop, closeNow bool, hold int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.received = append(s.received, bytes.Clone(ev))
	if s.dropAfter > 0 {
		s.dropAfter--
		drop = s.dropAfter == 0
	}
	if s.closeSoon > 0 {
		s.closeSoon--
		closeNow = s.closeSoon == 0
	}
	return drop, closeNow, s.hold
}

func (s *server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errs = append(s.errs, err)
}

func (s *server) waitReading() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.stalled && !s.down {
		s.wake.Wait()
	}
	return !s.down
}

func endOfStream(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.As(err, &ne)
}

func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// closeAfterAnswer ends a session whose last answer was just sent: it
// half-closes, so that the answer is not lost to a reset, and reads what
// the sink still sends for a moment, without taking it.
func closeAfterAnswer(c, rw net.Conn) {
	if tc, ok := rw.(*tls.Conn); ok {
		_ = tc.CloseWrite()
	}
	if tcp, ok := c.(*net.TCPConn); ok {
		_ = tcp.CloseWrite()
	}
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, c)
}
