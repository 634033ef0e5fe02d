package tcp_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
	"github.com/vigilaudit/vigil/sinks/tcp"
)

// TestStatus_ReceiverClosesWithinSettle: a receiver that accepts, reads
// a batch and closes the connection, again and again, takes every write
// but lets no batch settle. The sink is retrying, not ok, with the
// resent events and the last error in its status.
func TestStatus_ReceiverClosesWithinSettle(t *testing.T) {
	batch := sinktest.Events(20)
	addr := sinktest.Serve(t, func(c net.Conn) { readLines(c, len(batch)) })

	// A settle time far beyond the receiver's close, however loaded the
	// machine: the loss is seen when the FIN comes, not after it.
	s := newSink(t, tcp.Config{Address: addr, Settle: time.Minute})
	dl, err := sinks.OpenDeadLetter(filepath.Join(t.TempDir(), "dead.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	fw, err := sinks.NewForwarder(s, sinks.ForwarderConfig{Name: "siem", Kind: "tcp", DeadLetter: dl})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	mgr := sinks.NewManager([]*sinks.Forwarder{fw}, sinks.ManagerConfig{DeadLetter: dl})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for round := range 4 {
		settle, err := fw.HandleSettling(ctx, batch)
		if err == nil && settle != nil {
			select {
			case err = <-settle:
			case <-ctx.Done():
				t.Fatalf("round %d: the batch neither settled nor failed", round)
			}
		}
		if err == nil {
			t.Fatalf("round %d: the batch settled although the receiver closed the connection", round)
		}
		st, err := mgr.SinkStatus(ctx, "siem")
		if err != nil {
			t.Fatal(err)
		}
		if st.State != "retrying" || st.LastError == "" || st.Settled != 0 {
			t.Fatalf("round %d: state %q, last error %q, settled %d; want retrying with an error, nothing settled", round, st.State, st.LastError, st.Settled)
		}
		if st.Resent+st.Retried < uint64(len(batch)*(round+1)) {
			t.Errorf("round %d: resent %d + retried %d, want at least %d", round, st.Resent, st.Retried, len(batch)*(round+1))
		}
	}
}
