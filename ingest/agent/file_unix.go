//go:build unix

package agent

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// syncDir makes the directory's entries (creations, renames, removals)
// durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// lockFile takes an exclusive lock on name, so that two agents never share
// a spool. The kernel releases it when the process dies.
func lockFile(name string) (*os.File, error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errors.New("in use by another agent")
		}
		return nil, err
	}
	return f, nil
}

// Interruptible returns a reader of f whose Close interrupts a Read that
// is waiting for input, so that an agent reading a pipe can stop when its
// context is done; f must not be read afterwards. Closing the reader
// leaves f open. Reads of other kinds of files are returned as they are.
func Interruptible(f *os.File) (io.ReadCloser, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat %s: %w", f.Name(), err)
	}
	if fi.Mode()&(os.ModeNamedPipe|os.ModeSocket) == 0 {
		return io.NopCloser(f), nil
	}
	// A non-blocking descriptor goes through the runtime's poller, where
	// Close wakes a pending Read. The duplicate has a File of its own, so
	// closing it leaves f's descriptor open.
	fd, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		return nil, fmt.Errorf("duplicate %s: %w", f.Name(), err)
	}
	if err := syscall.SetNonblock(fd, true); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("set %s non-blocking: %w", f.Name(), err)
	}
	return os.NewFile(uintptr(fd), f.Name()), nil
}
