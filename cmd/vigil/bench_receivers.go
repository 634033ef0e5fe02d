package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigilaudit/vigil/sinks/relp"
)

// receiver is a loopback server of one sink kind that takes everything it
// is sent and counts the events and the bytes, framing included. It is
// the far end of vigil bench sink: as cheap as the protocol allows, so
// that the sink is what the figures measure.
type receiver struct {
	addr   string
	events atomic.Int64
	bytes  atomic.Int64
	stop   func()
}

// close stops the receiver and waits for its goroutines.
func (r *receiver) close() { r.stop() }

// startStreamReceiver listens on loopback (with TLS when tlsConfig is
// set) and runs serve on every connection it accepts.
func startStreamReceiver(tlsConfig *tls.Config, serve func(r *receiver, c net.Conn) error) (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	r := &receiver{addr: ln.Addr().String()}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[c] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
					_ = c.Close()
				}()
				_ = serve(r, c) // the sender went away, or sent what is not its protocol
			})
		}
	})
	r.stop = func() {
		_ = ln.Close()
		mu.Lock()
		for c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	}
	return r, nil
}

// serveLines counts newline-delimited events: the tcp and tls kinds.
func serveLines(r *receiver, c net.Conn) error {
	buf := make([]byte, 256<<10)
	for {
		n, err := c.Read(buf)
		r.events.Add(int64(bytes.Count(buf[:n], []byte{'\n'})))
		r.bytes.Add(int64(n))
		if err != nil {
			return err
		}
	}
}

// maxSyslogLen bounds the octet count of a syslog message taken.
const maxSyslogLen = 1 << 20

// serveOctetCounted counts the messages of an octet-counted syslog
// stream (RFC 6587 section 3.4.1: MSG-LEN SP SYSLOG-MSG): the syslog
// kind.
func serveOctetCounted(r *receiver, c net.Conn) error {
	br := bufio.NewReaderSize(c, 256<<10)
	for {
		n, digits := 0, 0
		for {
			b, err := br.ReadByte()
			if err != nil {
				return err
			}
			if b == ' ' && digits > 0 {
				break
			}
			if b < '0' || b > '9' || digits == 7 {
				return fmt.Errorf("octet count: unexpected %q", b)
			}
			n = n*10 + int(b-'0')
			digits++
		}
		if n == 0 || n > maxSyslogLen {
			return fmt.Errorf("octet count %d is out of range", n)
		}
		if _, err := br.Discard(n); err != nil {
			return err
		}
		r.events.Add(1)
		r.bytes.Add(int64(digits + 1 + n))
	}
}

// relpOffers are the receiver's answer to open: librelp's offers.
const relpOffers = "200 OK\nrelp_version=0\nrelp_software=vigil-bench\ncommands=" + relp.CmdSyslog

// serveRELP is a minimal RELP server: it answers open with its offers,
// every syslog frame with 200 OK, and close with 200 OK before it closes
// the connection; the relp kind. Answers are flushed whenever no more
// frames wait to be read, so that the sender's window keeps moving.
func serveRELP(r *receiver, c net.Conn) error {
	br := bufio.NewReaderSize(c, 256<<10)
	bw := bufio.NewWriterSize(c, 64<<10)
	for {
		f, err := relp.ReadFrame(br, maxSyslogLen)
		if err != nil {
			return err
		}
		r.bytes.Add(int64(relp.FrameLen(f.Txnr, f.Command, len(f.Data))))
		switch f.Command {
		case relp.CmdOpen:
			_, _ = bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte(relpOffers)))
		case relp.CmdSyslog:
			r.events.Add(1)
			_, _ = bw.Write(relp.AppendFrame(bw.AvailableBuffer(), f.Txnr, relp.CmdRsp, []byte("200 OK")))
		case relp.CmdClose:
			_, _ = bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte("200 OK")))
			return bw.Flush()
		default:
			_, _ = bw.Write(relp.AppendFrame(nil, f.Txnr, relp.CmdRsp, []byte("500 unknown command")))
		}
		if br.Buffered() == 0 {
			if err := bw.Flush(); err != nil {
				return err
			}
		}
	}
}

// hecToken is the token the bench's collector expects.
const hecToken = "3c1e4f0a-7b2d-4e59-9a86-d0c1b2a3e4f5"

// hecCollector is a loopback Splunk HTTP Event Collector: it counts the
// events of /services/collector/event bodies (one JSON object per line,
// as the splunkhec kind sends them), answers each request with an ackId
// of its channel, and acknowledges every id it is polled for.
type hecCollector struct {
	recv *receiver
	mu   sync.Mutex
	next map[string]int64 // the next ackId of each channel
}

// startHECCollector starts the collector on loopback; the receiver's
// address is its host:port.
func startHECCollector() (*receiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	h := &hecCollector{recv: &receiver{addr: ln.Addr().String()}, next: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /services/collector/event", h.events)
	mux.HandleFunc("POST /services/collector/ack", h.acks)
	srv := &http.Server{Handler: mux, ErrorLog: log.New(io.Discard, "", 0), ReadHeaderTimeout: 10 * time.Second}
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(ln) })
	h.recv.stop = func() {
		_ = srv.Close()
		wg.Wait()
	}
	return h.recv, nil
}

// lineCount is an io.Writer that counts the bytes and newlines written.
type lineCount struct{ lines, bytes int64 }

func (c *lineCount) Write(p []byte) (int, error) {
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.bytes += int64(len(p))
	return len(p), nil
}

func (h *hecCollector) events(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Splunk "+hecToken {
		hecReply(w, http.StatusForbidden, `{"text":"Invalid token","code":4}`)
		return
	}
	var n lineCount
	if _, err := io.Copy(&n, r.Body); err != nil {
		return // the sink went away
	}
	h.recv.events.Add(n.lines)
	h.recv.bytes.Add(n.bytes)
	channel := r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" {
		hecReply(w, http.StatusOK, `{"text":"Success","code":0}`)
		return
	}
	h.mu.Lock()
	id := h.next[channel]
	h.next[channel] = id + 1
	h.mu.Unlock()
	hecReply(w, http.StatusOK, `{"text":"Success","code":0,"ackId":`+strconv.FormatInt(id, 10)+`}`)
}

func (h *hecCollector) acks(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Acks []int64 `json:"acks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		hecReply(w, http.StatusBadRequest, `{"text":"Invalid data format","code":6}`)
		return
	}
	b := []byte(`{"acks":{`)
	for i, id := range req.Acks {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, id, 10)
		b = append(b, `":true`...)
	}
	b = append(b, "}}"...)
	hecReply(w, http.StatusOK, string(b))
}

func hecReply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}
