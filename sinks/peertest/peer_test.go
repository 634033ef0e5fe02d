package peertest_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vigilaudit/vigil/sinks/peertest"
)

// send writes data to addr over TCP, or TLS trusting p's CA, and closes.
func send(t *testing.T, p *peertest.Peer, addr string, useTLS bool, data string) {
	t.Helper()
	var c net.Conn
	var err error
	if useTLS {
		c, err = tls.Dial("tcp", addr, &tls.Config{RootCAs: p.CA().Pool(), MinVersion: tls.VersionTLS12})
	} else {
		c, err = net.Dial("tcp", addr)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatalf("write to %s: %v", addr, err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("close %s: %v", addr, err)
	}
}

// octet frames an RFC 5424 message with body as RFC 6587 octet counting.
func octet(body string) string {
	m := "<134>1 2024-05-01T10:00:00.000Z host vigil - - - " + body
	return fmt.Sprintf("%d %s", len(m), m)
}

func strs(lines [][]byte) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}

// exercise sends two messages to each input, restarts the peer both
// ways, and checks that each input's file holds exactly what was sent.
func exercise(t *testing.T, p *peertest.Peer, inputs []peertest.Input) {
	want := map[string][]string{}
	round := func(r string) {
		for _, in := range inputs {
			var data string
			var bodies []string
			for i := range 2 {
				body := fmt.Sprintf(`{"topic":"test","event":"peer.%s","event_id":"%s-%s-%d","note":"a \"quoted\" word"}`, r, in.Name, r, i)
				bodies = append(bodies, body)
				switch in.Kind {
				case peertest.Lines, peertest.LinesTLS:
					data += body + "\n"
				default:
					data += octet(body)
				}
			}
			send(t, p, p.Addr(in.Name), in.Kind == peertest.LinesTLS || in.Kind == peertest.SyslogTLS, data)
			want[in.Name] = append(want[in.Name], bodies...)
		}
		for _, in := range inputs {
			got := p.WaitLinesOf(in.Name, len(want[in.Name]), 30*time.Second)
			if diff := cmp.Diff(want[in.Name], strs(got)); diff != "" {
				t.Errorf("round %s, input %s (-want +got):\n%s", r, in.Name, diff)
			}
		}
	}
	round("first")
	p.Restart()
	round("restarted")
	p.Kill()
	round("killed")
	if got := p.Starts(); got != 3 {
		t.Errorf("Starts = %d, want 3", got)
	}
	total := 0
	for _, v := range want {
		total += len(v)
	}
	if got := len(p.Lines()); got != total {
		t.Errorf("Lines holds %d lines, want %d", got, total)
	}
}

func TestSyslogNG(t *testing.T) {
	inputs := []peertest.Input{{Name: "tcp", Kind: peertest.Lines}, {Name: "tls", Kind: peertest.LinesTLS}, {Name: "syslog", Kind: peertest.Syslog}, {Name: "syslog-tls", Kind: peertest.SyslogTLS}}
	p := peertest.SyslogNG(t, peertest.Options{Inputs: inputs})
	exercise(t, p, inputs)
}

func TestSyslogNG_Raw(t *testing.T) {
	p := peertest.SyslogNG(t, peertest.Options{Inputs: []peertest.Input{{Name: "syslog", Kind: peertest.Syslog}}, Raw: true})
	frame := octet(`{"a":1}`)
	send(t, p, p.Addr("syslog"), false, frame)
	got := strs(p.WaitLinesOf("syslog", 1, 30*time.Second))
	_, msg, _ := strings.Cut(frame, " ")
	if diff := cmp.Diff([]string{msg}, got); diff != "" {
		t.Errorf("raw message (-want +got):\n%s", diff)
	}
}

func TestRsyslog(t *testing.T) {
	inputs := []peertest.Input{{Name: "tcp", Kind: peertest.Lines}, {Name: "syslog", Kind: peertest.Syslog}}
	p := peertest.Rsyslog(t, peertest.Options{Inputs: append(inputs, peertest.Input{Name: "relp", Kind: peertest.RELP}, peertest.Input{Name: "relp-tls", Kind: peertest.RELPTLS})})
	exercise(t, p, inputs)
	// RELP itself is for the RELP sink's tests; here, that the TLS input
	// presents the CA's certificate.
	c, err := tls.Dial("tcp", p.Addr("relp-tls"), &tls.Config{RootCAs: p.CA().Pool(), MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS handshake with imrelp: %v", err)
	}
	c.Close()
}

// TestMaxMessageSize: a receiver given a limit keeps to it, each in its
// own way: rsyslog cuts a longer message to the limit and reads on (the
// rest of the frame becomes further messages), syslog-ng drops the frame
// and the connection.
func TestMaxMessageSize(t *testing.T) {
	body := `{"pad":"` + strings.Repeat("x", 10000) + `"}`
	small := `{"small":1}`
	t.Run("rsyslog", func(t *testing.T) {
		p := peertest.Rsyslog(t, peertest.Options{Inputs: []peertest.Input{{Name: "syslog", Kind: peertest.Syslog}}, MaxMessageSize: 4096})
		send(t, p, p.Addr("syslog"), false, octet(body)+octet(small))
		var lines []string
		deadline := time.Now().Add(30 * time.Second)
		for len(lines) == 0 || lines[len(lines)-1] != small {
			if time.Now().After(deadline) {
				t.Fatalf("rsyslog did not write %s after the long message; it wrote %d lines", small, len(lines))
			}
			time.Sleep(20 * time.Millisecond)
			lines = strs(p.Lines())
		}
		if n := len(lines[0]); n > 4096 || n < 3000 || !strings.HasPrefix(body, lines[0]) {
			t.Errorf("first line has %d bytes, want the body cut near 4096", n)
		}
	})
	t.Run("syslog-ng", func(t *testing.T) {
		p := peertest.SyslogNG(t, peertest.Options{Inputs: []peertest.Input{{Name: "syslog", Kind: peertest.Syslog}}, MaxMessageSize: 4096})
		send(t, p, p.Addr("syslog"), false, octet(body)+octet(`{"lost":1}`))
		send(t, p, p.Addr("syslog"), false, octet(small))
		lines := strs(p.WaitLines(1, 30*time.Second))
		if diff := cmp.Diff([]string{small}, lines); diff != "" {
			t.Errorf("lines (-want +got):\n%s", diff)
		}
		if !strings.Contains(p.Log(), "larger than log_msg_size") {
			t.Errorf("syslog-ng did not log the oversized frame:\n%s", p.Log())
		}
	})
}

func TestSkipWithoutVariable(t *testing.T) {
	t.Setenv("VIGIL_TEST_SYSLOG_NG", "")
	var skipped bool
	t.Run("inner", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		peertest.SyslogNG(t, peertest.Options{})
		t.Error("SyslogNG returned without the variable")
	})
	if !skipped {
		t.Error("SyslogNG did not skip without VIGIL_TEST_SYSLOG_NG")
	}
}
