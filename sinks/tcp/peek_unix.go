//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package tcp

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
)

// peek reports whether the peer sent bytes not read yet, without reading
// them; it returns io.EOF when the peer closed the connection and the
// error when it reset it. It never blocks, and leaves the bytes to the
// connection's reader, which may be waiting for them meanwhile.
func peek(c net.Conn) (pending bool, err error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false, err
	}
	var n int
	var rerr error
	var b [1]byte
	err = rc.Control(func(fd uintptr) {
		n, _, rerr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	})
	switch {
	case err != nil:
		return false, err
	case errors.Is(rerr, syscall.EAGAIN) || errors.Is(rerr, syscall.EWOULDBLOCK) || errors.Is(rerr, syscall.EINTR):
		return false, nil
	case rerr != nil:
		return false, os.NewSyscallError("recvfrom", rerr)
	case n == 0:
		return false, io.EOF
	}
	return true, nil
}
