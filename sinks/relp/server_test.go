package relp_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/syslogsink"
)

// server is an in-process RELP receiver, a sinktest.Receiver: a
// sinktest.StreamReceiver whose sessions answer open as librelp does, each
// syslog frame with 200 OK once it recorded the event, and close. Beside
// what the stream receiver does (go down, drop or forget connections,
// stop reading), it refuses frames and holds answers.
type server struct {
	*sinktest.StreamReceiver

	mu        sync.Mutex
	refuse    []string // answers for the next refused frames, such as "500 busy"
	closeSoon int      // send serverclose after this many more events
	hold      int      // answer only once this many frames wait, then check no more came
	overrun   int      // frames seen beyond hold before answering
}

var (
	_ sinktest.Receiver  = (*server)(nil)
	_ sinktest.Forgetful = (*server)(nil)
)

func newServer(t testing.TB, cfg *sinktest.TLSReceiverConfig) *server {
	t.Helper()
	s := &server{}
	s.StreamReceiver = sinktest.NewStreamReceiver(t, sinktest.StreamConfig{TLS: cfg, Session: s.session})
	return s
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

// session runs one RELP session, until the sink closes it or the
// connection ends.
func (s *server) session(ss *sinktest.StreamSession) {
	c, rw, br := ss.Raw, ss.Conn, ss.Reader
	bw := bufio.NewWriter(rw)
	var held []int
	for n := 0; ; {
		if !ss.Wait() {
			return
		}
		f, err := relp.ReadFrame(br, 1<<20)
		if err != nil {
			if !sinktest.EndOfStream(err) {
				ss.Fail(fmt.Errorf("read frame: %w", err))
			}
			return
		}
		switch f.Command {
		case relp.CmdOpen:
			offers := relp.ParseOffers(f.Data)
			if !offers.Has("commands", relp.CmdSyslog) || !offers.Has("relp_version", "0") {
				ss.Fail(fmt.Errorf("open offers %q", f.Data))
			}
			bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte("200 OK\nrelp_version=0\nrelp_software=vigil-test\ncommands=syslog")))
		case relp.CmdClose:
			bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, nil))
			bw.Flush()
			return
		case relp.CmdSyslog:
			if n == ss.Unread {
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
				ss.Fail(fmt.Errorf("syslog frame %d: %w", f.Txnr, err))
				return
			}
			drop := ss.Accept(m.Msg)
			closeNow, hold := s.taken()
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
			ss.Fail(fmt.Errorf("unexpected command %q", f.Command))
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

// taken counts an event taken towards ServerCloseAfter: closeNow says
// that it was the last before serverclose. hold is Hold's count.
func (s *server) taken() (closeNow bool, hold int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closeSoon > 0 {
		s.closeSoon--
		closeNow = s.closeSoon == 0
	}
	return closeNow, s.hold
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
