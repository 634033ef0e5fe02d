package relp_test

import (
	"bufio"
	"net"
	"sync"
	"testing"

	"github.com/vigilaudit/vigil/sinks/relp"
)

// fakeOpen is a receiver that answers every open with answer and then
// closes the connection.
func fakeOpen(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f, err := relp.ReadFrame(bufio.NewReader(c), 1<<16)
			if err == nil {
				_, _ = c.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte(answer)))
			}
			_ = c.Close()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}
