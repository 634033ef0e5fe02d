//go:build linux

package tcp_test

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// TestWrite_WaitsForPeerAcknowledgement: a batch the kernel took but the
// peer has not acknowledged (its window is full: it stopped reading) is
// not reported delivered, so that it is sent again if the peer goes
// away; once the peer reads, the next write goes through.
func TestWrite_WaitsForPeerAcknowledgement(t *testing.T) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()

	s, err := tcp.New(tcp.Config{Address: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := sinktest.Events(400) // about 200 KB: far more than the peer's window
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	err = s.Write(ctx, batch)
	if !errors.Is(err, context.DeadlineExceeded) || sinks.IsPermanent(err) {
		t.Fatalf("Write to a peer that does not read = %v, want a retryable deadline error", err)
	}

	// The failed write dropped its connection; the next one dials again.
	// From now on the peer reads everything.
	peer := <-accepted
	peer.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	if err := s.Write(ctx2, batch); err != nil {
		t.Fatalf("Write once the peer reads: %v", err)
	}
}
