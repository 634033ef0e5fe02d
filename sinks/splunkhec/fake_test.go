package splunkhec

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// testToken is the token the fake collector accepts.
const testToken = "9f3c2b1e-5a7d-4e60-8b21-c4d5e6f70819"

// fakeOptions configure a fake collector.
type fakeOptions struct {
	// ack turns on indexer acknowledgement for the token: requests need
	// a channel and are answered with an ackId.
	ack bool
	// tls, when set, serves https.
	tls *tls.Config
	// indexes, when set, are the only indexes the token may write to.
	indexes []string
	// discard makes the collector count events (by line) instead of
	// parsing and recording them, for benchmarks of the sink.
	discard bool
	// indexers, when more than one, puts that many indexers behind a
	// balancer kept sticky by a cookie: a request without the cookie goes
	// to the next indexer in turn and is answered with the cookie. Each
	// indexer numbers the ack ids of a channel from 0.
	indexers int
	// clock, when set, is the collector's clock for SlowAcks.
	clock func() time.Time
}

// lbCookie is the balancer's stickiness cookie.
const lbCookie = "hec_lb"

// fakeHEC is an HTTP Event Collector written from Splunk's documentation:
// token check, channels, concatenated event objects, ackIds and the ack
// endpoint, and the documented error replies. It implements
// sinktest.Receiver, keeps its address across Down and Up, and records
// what it receives.
type fakeHEC struct {
	t      testing.TB
	opts   fakeOptions
	scheme string
	addr   string

	serving   sync.WaitGroup
	discarded atomic.Int64 // events counted with discard on

	mu       sync.Mutex
	srv      *http.Server
	down     chan struct{} // closed by Down, to release stalled handlers
	events   [][]byte
	requests []fakeRequest
	// acks are the ack ids of each indexer and channel, keyed
	// "indexer/channel".
	acks  map[string]*fakeChannel
	token string
	rr    int // the indexer for the next request without a cookie
	// misrouted counts polls for ack ids the indexer that got the poll
	// never gave on that channel; otherConn those that came over another
	// connection than the request that got the id.
	misrouted, otherConn int
	// conns are the connections (remote addresses) each channel used.
	conns map[string]map[string]bool
	// indexed counts the event requests each indexer took.
	indexed map[int]int

	detain   int           // event requests answered 404 from now
	refuse   string        // an event holding this is invalid
	ackAfter time.Duration // with clock: how long after indexing an ack is given

	stall     chan struct{} // non-nil while stalled; closed to resume
	dropArmed bool
	dropLeft  int
	failLeft  int
	failWith  fakeError
	ackDelay  int  // polls an ack needs before it is given
	loseAcks  int  // acks of the next n requests are never given
	disabled  bool // the token is disabled
	eventPost int  // event requests answered so far
	eventTry  int  // event requests received, refused ones included
	ackPolls  int  // ack requests answered so far
}

// fakeRequest is one event request as received, body decompressed.
type fakeRequest struct {
	Header http.Header
	Query  string
	Body   []byte
}

// fakeChannel holds a channel's ack ids.
type fakeChannel struct {
	next    int64
	pending map[int64]*fakeAck
}

type fakeAck struct {
	pollsLeft int
	lost      bool
	conn      string    // the connection of the request that got the id
	at        time.Time // when it was indexed, by opts.clock
}

// fakeError is a reply the collector can be told to give.
type fakeError struct {
	status int
	code   int
	text   string
}

var (
	errBusy          = fakeError{http.StatusServiceUnavailable, 9, "Server is busy"}
	errInvalidToken  = fakeError{http.StatusForbidden, 4, "Invalid token"}
	errInvalidFormat = fakeError{http.StatusBadRequest, 6, "Invalid data format"}
)

var _ sinktest.Receiver = (*fakeHEC)(nil)

// newFake starts a fake collector that stops when the test ends.
func newFake(t testing.TB, opts fakeOptions) *fakeHEC {
	f := &fakeHEC{t: t, opts: opts, scheme: "http", acks: make(map[string]*fakeChannel), token: testToken,
		conns: make(map[string]map[string]bool), indexed: make(map[int]int)}
	if opts.tls != nil {
		f.scheme = "https"
	}
	f.Up()
	t.Cleanup(f.Down)
	return f
}

func (f *fakeHEC) Addr() string { return f.scheme + "://" + f.addr }

func (f *fakeHEC) Received() [][]byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// Requests returns the event requests received so far.
func (f *fakeHEC) Requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// Counts returns how many event requests and ack polls were answered.
func (f *fakeHEC) Counts() (posts, polls int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.eventPost, f.ackPolls
}

func (f *fakeHEC) Up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.srv != nil {
		return
	}
	addr := f.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 100 {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		f.t.Errorf("fake collector: listen again on %s: %v", addr, err)
		return
	}
	f.addr = ln.Addr().String()
	if f.opts.tls != nil {
		ln = tls.NewListener(ln, f.opts.tls)
	}
	f.srv = &http.Server{
		Handler:           f,
		ErrorLog:          log.New(io.Discard, "", 0),
		ReadHeaderTimeout: 10 * time.Second,
	}
	f.down = make(chan struct{})
	srv := f.srv
	f.serving.Add(1)
	go func() {
		defer f.serving.Done()
		_ = srv.Serve(ln)
	}()
}

func (f *fakeHEC) Down() {
	f.mu.Lock()
	srv := f.srv
	if srv != nil {
		f.srv = nil
		close(f.down)
	}
	f.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
		f.serving.Wait()
	}
}

// DropAfter makes the collector record the next n events and then reset
// the connection of the request that carried the nth, without answering
// it. Zero or less turns it off.
func (f *fakeHEC) DropAfter(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.dropArmed, f.dropLeft = n > 0, n
}

func (f *fakeHEC) Stall(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case on && f.stall == nil:
		f.stall = make(chan struct{})
	case !on && f.stall != nil:
		close(f.stall)
		f.stall = nil
	}
}

func (f *fakeHEC) Reject(n int, permanent bool) bool {
	if permanent {
		f.Fail(n, errInvalidFormat)
	} else {
		f.Fail(n, errBusy)
	}
	return true
}

// Fail makes the collector answer the next n event requests with e.
func (f *fakeHEC) Fail(n int, e fakeError) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failLeft, f.failWith = n, e
}

// DelayAcks makes each ack wait for n polls before it is given.
func (f *fakeHEC) DelayAcks(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ackDelay = n
}

// LoseAcks makes the acks of the next n event requests never come, as
// when an indexer loses the events.
func (f *fakeHEC) LoseAcks(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.loseAcks = n
}

// DisableToken makes the token disabled (or enabled again).
func (f *fakeHEC) DisableToken(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disabled = on
}

// Tries returns how many event requests arrived, refused ones included.
func (f *fakeHEC) Tries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.eventTry
}

// SetToken makes the collector accept token, and no other, as after a
// rotation.
func (f *fakeHEC) SetToken(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.token = token
}

// EnableAck turns indexer acknowledgement for the token on or off.
func (f *fakeHEC) EnableAck(on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opts.ack = on
}

func (f *fakeHEC) ackOn() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opts.ack
}

// Detain answers the next n event requests with 404, as an indexer in
// detention does.
func (f *fakeHEC) Detain(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detain = n
}

// RefuseEvents makes every event holding s invalid: HEC indexes the
// events of a request before the first invalid one, and answers with its
// number.
func (f *fakeHEC) RefuseEvents(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refuse = s
}

// SlowAcks gives each ack only once the collector's clock (opts.clock)
// passed d after the events were indexed.
func (f *fakeHEC) SlowAcks(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ackAfter = d
}

// Routing returns the misrouted and other-connection ack polls counted,
// and the connections each channel used.
func (f *fakeHEC) Routing() (misrouted, otherConn int, conns map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	conns = make(map[string]int, len(f.conns))
	for ch, cs := range f.conns {
		conns[ch] = len(cs)
	}
	return f.misrouted, f.otherConn, conns
}

// route returns the indexer of r, as the sticky balancer chooses it, and
// sets the cookie on w for a request that had none. f.mu is held.
func (f *fakeHEC) route(w http.ResponseWriter, r *http.Request) int {
	if f.opts.indexers <= 1 {
		return 0
	}
	if c, err := r.Cookie(lbCookie); err == nil {
		if n, err := strconv.Atoi(c.Value); err == nil && n >= 0 && n < f.opts.indexers {
			return n
		}
	}
	n := f.rr % f.opts.indexers
	f.rr++
	http.SetCookie(w, &http.Cookie{Name: lbCookie, Value: strconv.Itoa(n), Path: "/"})
	return n
}

// seen records that channel was used over r's connection. f.mu is held.
func (f *fakeHEC) seen(channel string, r *http.Request) {
	if f.conns[channel] == nil {
		f.conns[channel] = make(map[string]bool)
	}
	f.conns[channel][r.RemoteAddr] = true
}

func (f *fakeHEC) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case eventPath:
		f.serveEvents(w, r)
	case ackPath:
		f.serveAcks(w, r)
	default:
		writeReply(w, http.StatusNotFound, map[string]any{"text": "The requested URL was not found on this server.", "code": 404})
	}
}

// admit checks the method, the token and the channel, and waits while the
// collector is stalled. It reports false when it answered or the
// collector went down.
func (f *fakeHEC) admit(w http.ResponseWriter, r *http.Request, needChannel bool) (channel string, ok bool) {
	if r.Method != http.MethodPost {
		writeError(w, fakeError{http.StatusMethodNotAllowed, -1, "Method Not Allowed"})
		return "", false
	}
	f.mu.Lock()
	stall, down, disabled, want := f.stall, f.down, f.disabled, f.token
	f.mu.Unlock()
	if stall != nil {
		select {
		case <-stall:
		case <-down:
			return "", false
		case <-r.Context().Done():
			return "", false
		}
	}
	auth := r.Header.Get("Authorization")
	token, found := strings.CutPrefix(auth, "Splunk ")
	switch {
	case auth == "":
		writeError(w, fakeError{http.StatusUnauthorized, 2, "Token is required"})
		return "", false
	case !found || token == "":
		writeError(w, fakeError{http.StatusUnauthorized, 3, "Invalid authorization"})
		return "", false
	case token != want:
		writeError(w, errInvalidToken)
		return "", false
	case disabled:
		writeError(w, fakeError{http.StatusForbidden, 1, "Token disabled"})
		return "", false
	}
	channel = r.Header.Get("X-Splunk-Request-Channel")
	if channel == "" {
		channel = r.URL.Query().Get("channel")
	}
	switch {
	case channel == "" && needChannel:
		writeError(w, fakeError{http.StatusBadRequest, 10, "Data channel is missing"})
		return "", false
	case channel != "" && !isGUID(channel):
		writeError(w, fakeError{http.StatusBadRequest, 11, "Invalid data channel"})
		return "", false
	}
	return strings.ToLower(channel), true
}

func (f *fakeHEC) serveEvents(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.eventTry++
	f.mu.Unlock()
	channel, ok := f.admit(w, r, f.ackOn())
	if !ok {
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			writeError(w, errInvalidFormat)
			return
		}
		body = zr
	}
	if f.opts.discard {
		var lc lineCounter
		if _, err := io.Copy(&lc, body); err != nil {
			return // the client went away
		}
		f.discarded.Add(int64(lc))
		if !f.opts.ack {
			writeReply(w, http.StatusOK, map[string]any{"text": "Success", "code": 0})
			return
		}
	}
	var raw []byte
	if !f.opts.discard {
		var err error
		if raw, err = io.ReadAll(body); err != nil {
			return // the client went away
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	indexer := f.route(w, r)
	f.seen(channel, r)
	if !f.opts.discard {
		f.requests = append(f.requests, fakeRequest{Header: r.Header.Clone(), Query: r.URL.RawQuery, Body: raw})
	}
	if f.detain > 0 {
		f.detain--
		f.eventPost++
		writeReply(w, http.StatusNotFound, map[string]any{"text": "The requested URL was not found on this server.", "code": 404})
		return
	}
	if f.failLeft > 0 {
		f.failLeft--
		f.eventPost++
		writeError(w, f.failWith)
		return
	}
	var events [][]byte
	var ferr *fakeError
	bad := -1
	if !f.opts.discard {
		events, ferr, bad = f.parseEvents(raw)
	}
	if ferr != nil {
		// HEC indexed the events before the bad one.
		f.events = append(f.events, events...)
		f.eventPost++
		reply := map[string]any{"text": ferr.text, "code": ferr.code}
		if bad >= 0 {
			reply["invalid-event-number"] = bad
		}
		writeReply(w, ferr.status, reply)
		return
	}
	if f.dropArmed {
		k := min(f.dropLeft, len(events))
		f.events = append(f.events, events[:k]...)
		f.dropLeft -= k
		if f.dropLeft == 0 {
			f.dropArmed = false
			resetConn(w)
			return
		}
	} else {
		f.events = append(f.events, events...)
	}
	f.eventPost++
	if !f.opts.ack {
		writeReply(w, http.StatusOK, map[string]any{"text": "Success", "code": 0})
		return
	}
	f.indexed[indexer]++
	key := strconv.Itoa(indexer) + "/" + channel
	ch := f.acks[key]
	if ch == nil {
		ch = &fakeChannel{pending: make(map[int64]*fakeAck)}
		f.acks[key] = ch
	}
	id := ch.next
	ch.next++
	a := &fakeAck{pollsLeft: f.ackDelay, lost: f.loseAcks > 0, conn: r.RemoteAddr}
	if f.opts.clock != nil {
		a.at = f.opts.clock()
	}
	ch.pending[id] = a
	if f.loseAcks > 0 {
		f.loseAcks--
	}
	writeReply(w, http.StatusOK, map[string]any{"text": "Success", "code": 0, "ackId": id})
}

// parseEvents reads concatenated HEC event objects and returns their
// event values, or the error HEC gives, the index of the bad event and the
// events before it. f.mu is held.
func (f *fakeHEC) parseEvents(raw []byte) ([][]byte, *fakeError, int) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, &fakeError{http.StatusBadRequest, 5, "No data"}, -1
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var events [][]byte
	for i := 0; ; i++ {
		var obj map[string]json.RawMessage
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return events, nil, -1
		}
		if err != nil || obj == nil {
			return events, &errInvalidFormat, i
		}
		ev, ok := obj["event"]
		switch {
		case !ok:
			return events, &fakeError{http.StatusBadRequest, 12, "Event field is required"}, i
		case string(ev) == `""` || string(ev) == "null":
			return events, &fakeError{http.StatusBadRequest, 13, "Event field cannot be blank"}, i
		case f.refuse != "" && bytes.Contains(ev, []byte(f.refuse)):
			return events, &errInvalidFormat, i
		}
		if t, ok := obj["time"]; ok {
			if _, err := strconv.ParseFloat(string(t), 64); err != nil {
				return events, &errInvalidFormat, i
			}
		}
		if fields, ok := obj["fields"]; ok {
			var m map[string]any
			if json.Unmarshal(fields, &m) != nil || m == nil {
				return events, &fakeError{http.StatusBadRequest, 15, "Error in handling indexed fields"}, i
			}
			for _, v := range m {
				if !indexedValue(v) {
					return events, &fakeError{http.StatusBadRequest, 15, "Error in handling indexed fields"}, i
				}
			}
		}
		for _, key := range []string{"host", "source", "sourcetype", "index"} {
			v, ok := obj[key]
			var s string
			if ok && json.Unmarshal(v, &s) != nil {
				return events, &errInvalidFormat, i
			}
			if key == "index" && ok && len(f.opts.indexes) > 0 && !slices.Contains(f.opts.indexes, s) {
				return events, &fakeError{http.StatusBadRequest, 7, "Incorrect index"}, i
			}
		}
		events = append(events, bytes.Clone(ev))
	}
}

func (f *fakeHEC) serveAcks(w http.ResponseWriter, r *http.Request) {
	if !f.ackOn() {
		if _, ok := f.admit(w, r, false); ok {
			writeError(w, fakeError{http.StatusBadRequest, 14, "ACK is disabled"})
		}
		return
	}
	channel, ok := f.admit(w, r, true)
	if !ok {
		return
	}
	var q struct {
		Acks []int64 `json:"acks"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || q.Acks == nil {
		writeError(w, errInvalidFormat)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ackPolls++
	indexer := f.route(w, r)
	f.seen(channel, r)
	status := make(map[string]bool, len(q.Acks))
	ch := f.acks[strconv.Itoa(indexer)+"/"+channel]
	for _, id := range q.Acks {
		key := strconv.FormatInt(id, 10)
		status[key] = false
		if ch == nil || id >= ch.next {
			f.misrouted++
		}
		if ch == nil || ch.pending[id] == nil {
			continue
		}
		a := ch.pending[id]
		if a.conn != r.RemoteAddr {
			f.otherConn++
		}
		switch {
		case a.lost:
		case a.pollsLeft > 0:
			a.pollsLeft--
		case f.opts.clock != nil && f.opts.clock().Before(a.at.Add(f.ackAfter)):
		default:
			// An id reported as indexed is forgotten, as HEC does.
			status[key] = true
			delete(ch.pending, id)
		}
	}
	writeReply(w, http.StatusOK, map[string]any{"acks": status})
}

func writeError(w http.ResponseWriter, e fakeError) {
	if e.code < 0 {
		http.Error(w, e.text, e.status)
		return
	}
	writeReply(w, e.status, map[string]any{"text": e.text, "code": e.code})
}

func writeReply(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v) // maps of strings, numbers and bools always marshal
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// indexedValue reports whether v is what HEC takes as an indexed field's
// value: a string or an array of strings.
func indexedValue(v any) bool {
	switch v := v.(type) {
	case string:
		return true
	case []any:
		for _, it := range v {
			if _, ok := it.(string); !ok {
				return false
			}
		}
		return len(v) > 0
	}
	return false
}

// lineCounter counts the newlines written to it.
type lineCounter int64

func (c *lineCounter) Write(p []byte) (int, error) {
	*c += lineCounter(bytes.Count(p, []byte("\n")))
	return len(p), nil
}

// resetConn closes the request's connection without answering, with a
// reset rather than an orderly close.
func resetConn(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	raw := conn
	if tc, ok := conn.(*tls.Conn); ok {
		raw = tc.NetConn()
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		_ = tcp.SetLinger(0)
	}
	_ = raw.Close()
}
