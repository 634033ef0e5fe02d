//go:build !unix

package agent

import (
	"io"
	"os"
)

// syncDir is a no-op where directories cannot be synced; renames and
// removals are durable on their own there.
func syncDir(string) error { return nil }

// lockFile creates name and holds it open. Without flock, two agents on
// one spool are not prevented here.
func lockFile(name string) (*os.File, error) {
	return os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
}

// Interruptible returns f, whose Close does nothing: this platform offers
// no way to interrupt a pending read of a pipe.
func Interruptible(f *os.File) (io.ReadCloser, error) { return io.NopCloser(f), nil }
