//go:build linux

package tcp

import (
	"net"
	"syscall"
	"unsafe"
)

// unacked returns how many bytes written to c its peer has not yet
// acknowledged (SIOCOUTQ), or -1 when the platform cannot tell.
func unacked(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	var n int32
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&n)))
	})
	switch {
	case err != nil:
		return -1, err
	case errno != 0:
		return -1, errno
	}
	return int(n), nil
}
