package relp_test

import (
	"bufio"
	"net"
	"testing"

	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// fakeOpen is a receiver that answers every open with answer and then
// closes the connection.
func fakeOpen(t *testing.T, answer string) string {
	t.Helper()
	return sinktest.Serve(t, func(c net.Conn) {
		f, err := relp.ReadFrame(bufio.NewReader(c), 1<<16)
		if err == nil {
			_, _ = c.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte(answer)))
		}
	})
}
