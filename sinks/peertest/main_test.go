package peertest_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that a receiver's watcher goroutine ends with it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
