package s3blob_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no client or server-watching goroutine outlives
// the tests; the HTTP client's idle connections are closed by then.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreAnyFunction("net/http.(*persistConn).readLoop"))
}
