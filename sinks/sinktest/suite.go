package sinktest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
)

// Bounds that keep a failing sink from hanging the suite. They are
// deadlines, not speed requirements: a correct sink meets them by orders
// of magnitude.
const (
	// settle bounds how long delivering a batch (with retries) or
	// waiting for events to arrive may take.
	settle = 30 * time.Second
	// attemptTimeout bounds one Write.
	attemptTimeout = 15 * time.Second
)

// bigBatch is the size of batches that must still be in flight when the
// receiver drops the connection or stops reading: about 11 MB, well over
// what loopback TCP buffers hold with Linux's default limits (about 4 MB
// between the two ends), so a sink is still writing when the receiver
// acts. A stream protocol without acknowledgements cannot know about
// bytes the kernel took but the receiver never read; the suite keeps them
// out of its checks this way, and by waiting for arrival before taking a
// receiver down.
const bigBatch = 20000

// Run runs the conformance suite against the kind h describes: the
// transport tests over plain connections when h.NewReceiver is set, and
// over TLS, with the certificate tests, when h.NewTLSReceiver is set.
//
// The transport tests are Delivery (batches arrive whole, once, in
// order), DropMidBatch (the receiver resets the connection inside a
// batch; written again until it succeeds, as the log's consume loop
// does, every event arrives at least once, none is invented, and first
// arrivals keep the order sent), DownThenUp (retryable errors while the
// receiver is away, nothing lost once it is back), CancelStalled and
// CancelledContext (a Write returns soon after its context ends, with an
// error wrapping the context's), PermanentVersusRetryable (when the
// receiver can refuse), CloseUnread and HalfCloseAfterHandshake (when the
// receiver is Forgetful: it closes connections without reading all it
// got, and every event still arrives at least once, written as the
// consume loop writes over a sinks.Settler) and Close (no connection
// before the first Write,
// none and no goroutine after Close). The TLS tests are WrongCA (a
// retryable error naming the certificate; the right CA written to the
// same ca_file is used without a restart), InlineCA (ca_pem), MutualTLS
// and ClientCertRotation (client certificate files replaced on disk).
//
// Run checks for goroutines left after Close, so the tests that call it
// must not run in parallel with other tests of their package.
func Run(t *testing.T, h Harness) {
	if h.NewSink == nil || (h.NewReceiver == nil && h.NewTLSReceiver == nil) {
		t.Fatal("sinktest: the harness needs NewSink and a receiver")
	}
	if h.NewReceiver != nil {
		t.Run("Plain", func(t *testing.T) {
			runTransport(t, plainEnv(h))
		})
	}
	if h.NewTLSReceiver != nil {
		t.Run("TLS", func(t *testing.T) {
			runTransport(t, tlsEnv(h))
			t.Run("WrongCA", func(t *testing.T) { testWrongCA(t, h) })
			t.Run("InlineCA", func(t *testing.T) { testInlineCA(t, h) })
			t.Run("MutualTLS", func(t *testing.T) { testMutualTLS(t, h) })
			t.Run("ClientCertRotation", func(t *testing.T) { testClientCertRotation(t, h) })
		})
	}
}

// env makes receivers and sinks pointed at them, over one transport.
type env struct {
	newReceiver func(t *testing.T) Receiver
	newSink     func(t *testing.T, r Receiver) sinks.Sink
}

func plainEnv(h Harness) env {
	return env{
		newReceiver: h.NewReceiver,
		newSink: func(t *testing.T, r Receiver) sinks.Sink {
			return newSink(t, h, r, nil)
		},
	}
}

// tlsEnv gives each test its own CA, trusted through a ca_file.
func tlsEnv(h Harness) env {
	var mu sync.Mutex
	cas := map[*testing.T]*CA{} // the CA of each test's receiver
	return env{
		newReceiver: func(t *testing.T) Receiver {
			ca := NewCA(t, "Vigil Test Root CA")
			mu.Lock()
			cas[t] = ca
			mu.Unlock()
			t.Cleanup(func() {
				mu.Lock()
				delete(cas, t)
				mu.Unlock()
			})
			return h.NewTLSReceiver(t, TLSReceiverConfig{Certificate: ca.ServerCertificate(t)})
		},
		newSink: func(t *testing.T, r Receiver) sinks.Sink {
			mu.Lock()
			ca := cas[t]
			mu.Unlock()
			caFile := WriteFile(t, t.TempDir(), "ca.pem", ca.PEM())
			return newSink(t, h, r, &config.ClientTLS{CAFile: caFile})
		},
	}
}

func runTransport(t *testing.T, e env) {
	t.Run("Delivery", func(t *testing.T) { testDelivery(t, e) })
	t.Run("DropMidBatch", func(t *testing.T) { testDropMidBatch(t, e) })
	t.Run("DownThenUp", func(t *testing.T) { testDownThenUp(t, e) })
	t.Run("CancelStalled", func(t *testing.T) { testCancelStalled(t, e) })
	t.Run("CancelledContext", func(t *testing.T) { testCancelledContext(t, e) })
	t.Run("PermanentVersusRetryable", func(t *testing.T) { testReject(t, e) })
	t.Run("CloseUnread", func(t *testing.T) { testCloseUnread(t, e, false) })
	t.Run("HalfCloseAfterHandshake", func(t *testing.T) { testCloseUnread(t, e, true) })
	t.Run("Close", func(t *testing.T) { testClose(t, e) })
}

// newSink makes a sink and closes it when the test ends, unless the test
// closed it itself through the returned closer.
func newSink(t *testing.T, h Harness, r Receiver, tc *config.ClientTLS) sinks.Sink {
	t.Helper()
	s := &onceCloser{Sink: h.NewSink(t, r, tc)}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close sink: %v", err)
		}
	})
	return s
}

// onceCloser passes Close to the sink only the first time.
type onceCloser struct {
	sinks.Sink
	once sync.Once
	err  error
}

func (s *onceCloser) Close() error {
	s.once.Do(func() { s.err = s.Sink.Close() })
	return s.err
}

// testDelivery: batches of several sizes, the empty one included, arrive
// whole, once each, in order.
func testDelivery(t *testing.T, e env) {
	r := e.newReceiver(t)
	s := e.newSink(t, r)
	var want sent
	for _, n := range []int{1, 0, 700, 1999, 3} {
		batch := Events(n)
		want.add(batch)
		if err := write(context.Background(), s, batch); err != nil {
			t.Fatalf("write %d events to a healthy receiver: %v", n, err)
		}
	}
	awaitAll(t, r, &want, true)
}

// testDropMidBatch: the receiver resets the connection while a batch is
// being written. Written again until it succeeds, as the log's consume
// loop does, the batch arrives at least once, in order, and the sink goes
// on with the next one.
func testDropMidBatch(t *testing.T, e env) {
	r := e.newReceiver(t)
	s := e.newSink(t, r)
	var want sent
	first := Events(500)
	want.add(first)
	deliver(t, s, first)
	awaitAll(t, r, &want, true)

	r.DropAfter(300)
	big := Events(bigBatch)
	want.add(big)
	failures := deliver(t, s, big)
	t.Logf("the dropped batch took %d failed writes", failures)
	last := Events(1000)
	want.add(last)
	deliver(t, s, last)
	awaitAll(t, r, &want, false)
}

// testDownThenUp: while the receiver is away, writes fail with retryable
// errors; once it is back, the same sink delivers, nothing lost.
func testDownThenUp(t *testing.T, e env) {
	r := e.newReceiver(t)
	s := e.newSink(t, r)
	var want sent
	before := Events(500)
	want.add(before)
	deliver(t, s, before)
	// What the receiver holds unread when it goes down is lost with it,
	// whatever the sink does; wait until it has everything.
	awaitAll(t, r, &want, true)

	r.Down()
	during := Events(800)
	want.add(during)
	for i := range 3 {
		ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
		err := write(ctx, s, during)
		cancel()
		switch {
		case err == nil:
			t.Fatalf("write %d while the receiver is down returned nil", i+1)
		case sinks.IsPermanent(err):
			t.Fatalf("write %d while the receiver is down: permanent error, want retryable: %v", i+1, err)
		}
		if i == 0 {
			t.Logf("while down: %v", err)
		}
	}
	r.Up()
	deliver(t, s, during)
	after := Events(600)
	want.add(after)
	deliver(t, s, after)
	awaitAll(t, r, &want, false)
}

// testCancelStalled: a Write blocked on a receiver that stopped reading
// returns soon after its context ends, by deadline or by cancellation,
// with an error that wraps the context's and is retryable; the sink
// recovers.
func testCancelStalled(t *testing.T, e env) {
	r := e.newReceiver(t)
	s := e.newSink(t, r)
	var want sent
	warm := Events(10)
	want.add(warm)
	deliver(t, s, warm)
	awaitAll(t, r, &want, true)

	r.Stall(true)
	big := Events(bigBatch)
	want.add(big)
	for _, c := range []struct {
		name string
		ctx  func() (context.Context, context.CancelFunc)
		want error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), 300*time.Millisecond)
		}, context.DeadlineExceeded},
		{"cancel", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(context.Background())
			timer := time.AfterFunc(300*time.Millisecond, cancel)
			return ctx, func() { timer.Stop(); cancel() }
		}, context.Canceled},
	} {
		ctx, cancel := c.ctx()
		err := writeWithin(t, s, ctx, big, attemptTimeout)
		cancel()
		switch {
		case err == nil:
			t.Fatalf("write of %d events to a stalled receiver, ended by %s, returned nil", len(big), c.name)
		case sinks.IsPermanent(err):
			t.Errorf("write ended by %s: permanent error, want retryable: %v", c.name, err)
		case !errors.Is(err, c.want):
			t.Errorf("write ended by %s: error %q does not wrap %v", c.name, err, c.want)
		}
	}
	r.Stall(false)
	deliver(t, s, big)
	awaitAll(t, r, &want, false)
}

// testCancelledContext: a Write with a context already cancelled returns
// an error wrapping context.Canceled, and the sink works afterwards.
func testCancelledContext(t *testing.T, e env) {
	r := e.newReceiver(t)
	s := e.newSink(t, r)
	var want sent
	batch := Events(200)
	want.add(batch)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := writeWithin(t, s, ctx, batch, attemptTimeout)
	switch {
	case err == nil:
		t.Fatal("write with a cancelled context returned nil")
	case !errors.Is(err, context.Canceled):
		t.Errorf("write with a cancelled context: error %q does not wrap context.Canceled", err)
	case sinks.IsPermanent(err):
		t.Errorf("write with a cancelled context: permanent error: %v", err)
	}
	deliver(t, s, batch)
	awaitAll(t, r, &want, false)
}

// testReject: a refusal that retrying cannot fix is Permanent; a
// retryable one is not, and the next Write succeeds.
func testReject(t *testing.T, e env) {
	r := e.newReceiver(t)
	// Reject(0, ...) refuses nothing; it asks whether the protocol can.
	if !r.Reject(0, true) {
		t.Skip("the protocol has no way to refuse events")
	}
	s := e.newSink(t, r)
	var want sent

	r.Reject(1, true)
	refused := Events(50)
	if err := writeWithin(t, s, context.Background(), refused, attemptTimeout); err == nil {
		t.Error("write refused permanently returned nil")
	} else if !sinks.IsPermanent(err) {
		t.Errorf("write refused permanently: error %q is not marked permanent", err)
	}

	r.Reject(1, false)
	batch := Events(50)
	want.add(batch)
	if err := writeWithin(t, s, context.Background(), batch, attemptTimeout); err == nil {
		t.Error("write refused for now returned nil")
	} else if sinks.IsPermanent(err) {
		t.Errorf("write refused for now: error %q is marked permanent, want retryable", err)
	}
	if err := writeWithin(t, s, context.Background(), batch, attemptTimeout); err != nil {
		t.Errorf("write after a retryable refusal: %v", err)
	}
	awaitAll(t, r, &want, false)
}

// testCloseUnread: a receiver reads some of what it got, then closes the
// connection without reading the rest, several connections in a row
// (with halfClose, it half-closes each right after the handshake first).
// Its kernel acknowledged every byte, yet every event arrives at least
// once, written as the log's consume loop does: while earlier batches
// settle, and again from the first lost one.
func testCloseUnread(t *testing.T, e env, halfClose bool) {
	r := e.newReceiver(t)
	f, ok := r.(Forgetful)
	if !ok {
		t.Skip("the receiver cannot close without reading what it got")
	}
	read := 150
	if halfClose {
		read = 20
	}
	f.CloseUnread(4, read, halfClose)
	s := e.newSink(t, r)
	var want sent
	var batches [][]eventlog.Record
	// Batches small enough to fit the receiver's socket buffer whole: the
	// kernel acknowledges them before the receiver reads them.
	for range 12 {
		b := Events(100)
		want.add(b)
		batches = append(batches, b)
	}
	if st, ok := s.(*onceCloser).Sink.(sinks.Settler); ok {
		rewinds := deliverSettling(t, st, batches)
		t.Logf("%d times written again from a lost batch", rewinds)
	} else {
		for _, b := range batches {
			deliver(t, s, b)
		}
	}
	awaitAll(t, r, &want, false)
}

// deliverSettling writes batches as the log's consume loop does over a
// Settler: a few ahead of the oldest that has not settled, every failed
// write again, and from the first lost batch on again. It returns how
// many times a batch was lost.
func deliverSettling(t *testing.T, s sinks.Settler, batches [][]eventlog.Record) (rewinds int) {
	t.Helper()
	type written struct {
		i  int
		ch chan error
	}
	var queue []written
	next, wait := 0, 10*time.Millisecond
	deadline := time.Now().Add(settle)
	resolve := func(err error) {
		if err != nil {
			next, queue = queue[0].i, nil
			rewinds++
			return
		}
		queue = queue[1:]
	}
	for next < len(batches) || len(queue) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d batches not settled after %v", len(batches)-next+len(queue), settle)
		}
		if len(queue) > 0 {
			select {
			case err := <-queue[0].ch:
				resolve(err)
				continue
			default:
			}
		}
		if next < len(batches) && len(queue) < 4 {
			ch := make(chan error, 1)
			ctx, cancel := context.WithTimeout(context.Background(), attemptTimeout)
			err := s.WriteSettling(ctx, batches[next], func(err error) { ch <- err })
			cancel()
			switch {
			case err == nil:
				queue = append(queue, written{next, ch})
				next++
				wait = 10 * time.Millisecond
			case sinks.IsPermanent(err):
				t.Fatalf("write %d events: permanent error, want retryable: %v", len(batches[next]), err)
			default:
				time.Sleep(wait)
				wait = min(2*wait, 200*time.Millisecond)
			}
			continue
		}
		select {
		case err := <-queue[0].ch:
			resolve(err)
		case <-time.After(time.Until(deadline)):
		}
	}
	return rewinds
}

// testClose: the constructor made no connection, Close returns nil, and
// nothing the sink started still runs.
func testClose(t *testing.T, e env) {
	r := e.newReceiver(t)
	before := goleak.IgnoreCurrent()
	s := e.newSink(t, r)
	conn, hasConn := s.(*onceCloser).Sink.(sinks.Connected)
	if hasConn && conn.Connected() {
		t.Error("Connected() is true before the first Write: the constructor must not connect")
	}
	var want sent
	batch := Events(100)
	want.add(batch)
	deliver(t, s, batch)
	awaitAll(t, r, &want, true)
	if hasConn && !conn.Connected() {
		t.Error("Connected() is false after a delivery")
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if hasConn && conn.Connected() {
		t.Error("Connected() is true after Close")
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after Close: %v", err)
	}
}

// testWrongCA: against a server its CA did not sign, a Write fails with a
// retryable error that names the certificate problem, and the events
// wait; the right CA written to the same ca_file is used by the same sink
// at its next connection.
func testWrongCA(t *testing.T, h Harness) {
	right := NewCA(t, "Vigil Test Root CA")
	wrong := NewCA(t, "Some Other Authority Entirely")
	r := h.NewTLSReceiver(t, TLSReceiverConfig{Certificate: right.ServerCertificate(t)})
	dir := t.TempDir()
	caFile := WriteFile(t, dir, "ca.pem", wrong.PEM())
	s := newSink(t, h, r, &config.ClientTLS{CAFile: caFile})

	var want sent
	batch := Events(300)
	want.add(batch)
	for i := range 2 {
		err := writeWithin(t, s, context.Background(), batch, attemptTimeout)
		switch {
		case err == nil:
			t.Fatalf("write %d trusting the wrong CA returned nil", i+1)
		case sinks.IsPermanent(err):
			t.Fatalf("write %d trusting the wrong CA: permanent error, want retryable (the events wait): %v", i+1, err)
		case !strings.Contains(err.Error(), "certificate"):
			t.Errorf("write %d trusting the wrong CA: error %q does not name the certificate problem", i+1, err)
		}
		if i == 0 {
			t.Logf("wrong CA: %v", err)
		}
	}
	if n := len(r.Received()); n != 0 {
		t.Errorf("the receiver got %d events over a connection the sink should not trust", n)
	}

	WriteFile(t, dir, "ca.pem", right.PEM())
	deliver(t, s, batch)
	more := Events(300)
	want.add(more)
	deliver(t, s, more)
	awaitAll(t, r, &want, false)
}

// testInlineCA: the CA pasted inline (ca_pem) is trusted.
func testInlineCA(t *testing.T, h Harness) {
	ca := NewCA(t, "Vigil Test Root CA")
	r := h.NewTLSReceiver(t, TLSReceiverConfig{Certificate: ca.ServerCertificate(t)})
	s := newSink(t, h, r, &config.ClientTLS{CAPEM: string(ca.PEM())})
	var want sent
	batch := Events(500)
	want.add(batch)
	if err := writeWithin(t, s, context.Background(), batch, attemptTimeout); err != nil {
		t.Fatalf("write trusting ca_pem: %v", err)
	}
	awaitAll(t, r, &want, true)
}

// testMutualTLS: a receiver that requires a client certificate refuses a
// sink without one, with a retryable error, and accepts one with a
// certificate its client CA signed.
func testMutualTLS(t *testing.T, h Harness) {
	serverCA := NewCA(t, "Vigil Test Root CA")
	clientCA := NewCA(t, "Vigil Test Client CA")
	r := h.NewTLSReceiver(t, TLSReceiverConfig{
		Certificate: serverCA.ServerCertificate(t),
		ClientCAs:   clientCA.Pool(),
	})
	dir := t.TempDir()
	caFile := WriteFile(t, dir, "ca.pem", serverCA.PEM())

	without := newSink(t, h, r, &config.ClientTLS{CAFile: caFile})
	refused := Events(100)
	for i := range 2 {
		err := writeWithin(t, without, context.Background(), refused, attemptTimeout)
		switch {
		case err == nil:
			t.Fatalf("write %d without a client certificate to a receiver that requires one returned nil", i+1)
		case sinks.IsPermanent(err):
			t.Errorf("write %d without a client certificate: permanent error, want retryable: %v", i+1, err)
		}
		if i == 0 {
			t.Logf("without a client certificate: %v", err)
		}
	}

	certPEM, keyPEM := clientCA.ClientPEM(t, "vigil-forwarder")
	with := newSink(t, h, r, &config.ClientTLS{
		CAFile:   caFile,
		CertFile: WriteFile(t, dir, "client.pem", certPEM),
		KeyFile:  WriteFile(t, dir, "client-key.pem", keyPEM),
	})
	var want sent
	batch := Events(500)
	want.add(batch)
	if err := writeWithin(t, with, context.Background(), batch, attemptTimeout); err != nil {
		t.Fatalf("write with a client certificate: %v", err)
	}
	awaitAll(t, r, &want, true)
}

// testClientCertRotation: the receiver trusts only a new client CA; the
// sink, holding a certificate of the old one, is refused until its
// cert_file and key_file are replaced on disk, and then the same sink
// delivers at its next connection.
func testClientCertRotation(t *testing.T, h Harness) {
	serverCA := NewCA(t, "Vigil Test Root CA")
	oldCA := NewCA(t, "Vigil Test Client CA 2025")
	newCA := NewCA(t, "Vigil Test Client CA 2026")
	r := h.NewTLSReceiver(t, TLSReceiverConfig{
		Certificate: serverCA.ServerCertificate(t),
		ClientCAs:   newCA.Pool(),
	})
	dir := t.TempDir()
	certPEM, keyPEM := oldCA.ClientPEM(t, "vigil-forwarder")
	cfg := &config.ClientTLS{
		CAFile:   WriteFile(t, dir, "ca.pem", serverCA.PEM()),
		CertFile: WriteFile(t, dir, "client.pem", certPEM),
		KeyFile:  WriteFile(t, dir, "client-key.pem", keyPEM),
	}
	s := newSink(t, h, r, cfg)
	var want sent
	batch := Events(400)
	want.add(batch)
	err := writeWithin(t, s, context.Background(), batch, attemptTimeout)
	switch {
	case err == nil:
		t.Fatal("write with a client certificate the receiver does not trust returned nil")
	case sinks.IsPermanent(err):
		t.Errorf("write with an untrusted client certificate: permanent error, want retryable: %v", err)
	}
	t.Logf("untrusted client certificate: %v", err)

	certPEM, keyPEM = newCA.ClientPEM(t, "vigil-forwarder")
	WriteFile(t, dir, "client.pem", certPEM)
	WriteFile(t, dir, "client-key.pem", keyPEM)
	deliver(t, s, batch)
	awaitAll(t, r, &want, false)
}

// write is one Write with its own bound, so that a sink ignoring its
// context fails the test instead of hanging it.
func write(ctx context.Context, s sinks.Sink, batch []eventlog.Record) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return s.Write(ctx, batch)
}

// writeWithin runs one Write and fails the test if it has not returned
// within limit.
func writeWithin(t *testing.T, s sinks.Sink, ctx context.Context, batch []eventlog.Record, limit time.Duration) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Write(ctx, batch) }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		t.Fatalf("Write of %d events did not return within %v", len(batch), limit)
		return nil
	}
}

// deliver writes batch again until Write returns nil, as the log's
// consume loop does, and returns how many writes failed. A permanent
// error, or no success within the settle time, fails the test.
func deliver(t *testing.T, s sinks.Sink, batch []eventlog.Record) int {
	t.Helper()
	deadline := time.Now().Add(settle)
	wait := 10 * time.Millisecond
	for failures := 0; ; failures++ {
		err := write(context.Background(), s, batch)
		switch {
		case err == nil:
			return failures
		case sinks.IsPermanent(err):
			t.Fatalf("write %d events: permanent error, want retryable: %v", len(batch), err)
		case time.Now().After(deadline):
			t.Fatalf("write %d events: still failing after %v and %d tries: %v", len(batch), settle, failures+1, err)
		}
		time.Sleep(wait)
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// sent is what the suite wrote, in order.
type sent struct {
	ids  []string
	byID map[string][]byte
}

func (s *sent) add(batch []eventlog.Record) {
	if s.byID == nil {
		s.byID = map[string][]byte{}
	}
	for _, r := range batch {
		s.ids = append(s.ids, r.ID)
		s.byID[r.ID] = r.Value
	}
}

// awaitAll waits until r has received every event of want, and checks
// that each arrived as sent (byte for byte), that none was invented, and
// that the first arrivals follow the order sent. With once, it also
// checks that none arrived twice.
func awaitAll(t *testing.T, r Receiver, want *sent, once bool) {
	t.Helper()
	var (
		seen     = map[string]bool{}
		firsts   []string
		problems []string
		done     int
		dups     int
	)
	deadline := time.Now().Add(settle)
	for {
		got := r.Received()
		for _, ev := range got[done:] {
			env, err := sinks.ParseEnvelope(ev)
			id := env.EventID
			switch {
			case err != nil:
				problems = append(problems, fmt.Sprintf("received something that is not an event (%v): %.120q", err, ev))
				continue
			case want.byID[id] == nil:
				problems = append(problems, fmt.Sprintf("received event %s, which was never sent", id))
				continue
			case string(want.byID[id]) != string(ev):
				problems = append(problems, fmt.Sprintf("event %s arrived altered:\n got %.300q\nwant %.300q", id, ev, want.byID[id]))
			}
			if seen[id] {
				dups++
				continue
			}
			seen[id] = true
			firsts = append(firsts, id)
		}
		done = len(got)
		if len(firsts) == len(want.ids) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i, p := range problems {
		if i == 5 {
			t.Errorf("... and %d more problems", len(problems)-i)
			break
		}
		t.Error(p)
	}
	if len(firsts) < len(want.ids) {
		var missing []string
		for _, id := range want.ids {
			if !seen[id] {
				missing = append(missing, id)
			}
		}
		t.Fatalf("after %v the receiver has %d of %d events; missing %d, the first %s", settle, len(firsts), len(want.ids), len(missing), missing[0])
	}
	for i := range firsts {
		if firsts[i] != want.ids[i] {
			t.Fatalf("order: arrival %d is event %s, want %s (sent %d events)", i, firsts[i], want.ids[i], len(want.ids))
		}
	}
	if once && dups > 0 {
		t.Errorf("%d events arrived twice from a receiver that never failed", dups)
	}
	if dups > 0 {
		t.Logf("%d duplicates (at-least-once after failures)", dups)
	}
}
