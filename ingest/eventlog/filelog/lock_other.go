//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelog

// lockDir does nothing where flock is not available: keep one process per
// log directory.
func lockDir(string) (func() error, error) {
	return func() error { return nil }, nil
}
