package relp_test

import (
	"bytes"
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/peertest"
	"github.com/vigilaudit/vigil/sinks/relp"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

// Tests against a real rsyslog imrelp (VIGIL_TEST_RSYSLOG; they skip
// without it). rsyslog writes each message's MSG, the event's JSON, as
// one line.

const peerWait = 60 * time.Second

// deliver writes batch until a Write returns nil, as the log's consume
// loop does; it returns how many failed.
func deliver(t *testing.T, s *relp.Sink, batch []eventlog.Record) (failures int) {
	t.Helper()
	deadline := time.Now().Add(peerWait)
	for wait := 10 * time.Millisecond; ; wait = min(2*wait, 200*time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		err := s.Write(ctx, batch)
		cancel()
		switch {
		case err == nil:
			return failures
		case sinks.IsPermanent(err):
			t.Errorf("write %d events: permanent error: %v", len(batch), err)
			return failures
		case time.Now().After(deadline):
			t.Errorf("write %d events: still failing after %v: %v", len(batch), peerWait, err)
			return failures
		}
		failures++
		time.Sleep(wait)
	}
}

// checkLines checks that lines hold every event of sent, each byte for
// byte, and nothing else; it returns the number of duplicates. With
// ordered, the first arrivals must follow the order sent.
func checkLines(t *testing.T, lines [][]byte, sent []eventlog.Record, ordered bool) (dups int) {
	t.Helper()
	byID := make(map[string][]byte, len(sent))
	for _, r := range sent {
		byID[r.ID] = r.Value
	}
	seen := map[string]bool{}
	var firsts []string
	for _, line := range lines {
		env, err := sinks.ParseEnvelope(line)
		if err != nil {
			t.Errorf("rsyslog wrote a line that is not an event (%v): %.200q", err, line)
			continue
		}
		want, ok := byID[env.EventID]
		switch {
		case !ok:
			t.Errorf("rsyslog wrote event %s, which was never sent", env.EventID)
			continue
		case !bytes.Equal(line, want):
			t.Errorf("event %s altered:\n got %.300q\nwant %.300q", env.EventID, line, want)
		}
		if seen[env.EventID] {
			dups++
			continue
		}
		seen[env.EventID] = true
		firsts = append(firsts, env.EventID)
	}
	lost := 0
	for _, r := range sent {
		if !seen[r.ID] {
			if lost == 0 {
				t.Errorf("event %s lost", r.ID)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d events lost", lost, len(sent))
	}
	if ordered && lost == 0 {
		for i := range firsts {
			if firsts[i] != sent[i].ID {
				t.Errorf("order: line %d is event %s, want %s", i, firsts[i], sent[i].ID)
				break
			}
		}
	}
	return dups
}

func TestRsyslog_Delivery(t *testing.T) {
	p := peertest.Rsyslog(t, peertest.Options{Inputs: []peertest.Input{{Name: "relp", Kind: peertest.RELP}}})
	s := newSink(t, relp.Config{Address: p.Addr("relp")})
	var sent []eventlog.Record
	for _, n := range []int{1, 700, 1999, 3} {
		batch := sinktest.Events(n)
		sent = append(sent, batch...)
		if err := write(t, s, batch); err != nil {
			t.Fatalf("write %d events: %v", n, err)
		}
	}
	// Every Write returned after rsyslog acknowledged each frame; with
	// its in-memory queue, writing to the file may trail a little.
	lines := p.WaitLinesOf("relp", len(sent), peerWait)
	if dups := checkLines(t, lines, sent, true); dups > 0 {
		t.Errorf("%d events written twice by a receiver that never failed", dups)
	}
}

func TestRsyslog_TLS(t *testing.T) {
	p := peertest.Rsyslog(t, peertest.Options{Inputs: []peertest.Input{{Name: "relp", Kind: peertest.RELPTLS}}})
	// imrelp with a CA asks for a client certificate and checks it
	// against that CA: mutual TLS.
	dir := t.TempDir()
	certPEM, keyPEM := p.CA().ClientPEM(t, "vigil-forwarder")
	s := newSink(t, relp.Config{Address: p.Addr("relp"), TLS: &config.ClientTLS{
		CAFile:   p.CAFile(),
		CertFile: sinktest.WriteFile(t, dir, "client.pem", certPEM),
		KeyFile:  sinktest.WriteFile(t, dir, "client-key.pem", keyPEM),
	}})
	sent := sinktest.Events(1500)
	if err := write(t, s, sent); err != nil {
		t.Fatalf("write over TLS: %v\nrsyslog log:\n%s", err, p.Log())
	}
	lines := p.WaitLinesOf("relp", len(sent), peerWait)
	if dups := checkLines(t, lines, sent, true); dups > 0 {
		t.Errorf("%d events written twice by a receiver that never failed", dups)
	}
}

// TestRsyslog_KillUnderLoad: rsyslog, whose acknowledgement means
// written (Direct queue), is killed with SIGKILL three times while
// batches flow, and started again; every event is in its file, with the
// duplicates RELP allows (frames taken whose answer died with it).
func TestRsyslog_KillUnderLoad(t *testing.T) {
	p := peertest.Rsyslog(t, peertest.Options{Direct: true, Inputs: []peertest.Input{{Name: "relp", Kind: peertest.RELP}}})
	s := newSink(t, relp.Config{Address: p.Addr("relp"), DialTimeout: 2 * time.Second, AckTimeout: 10 * time.Second})
	const batches, size = 60, 250
	var sent []eventlog.Record
	var all [][]eventlog.Record
	for range batches {
		b := sinktest.Events(size)
		all = append(all, b)
		sent = append(sent, b...)
	}
	var wg sync.WaitGroup
	var failures int
	finished := make(chan struct{})
	wg.Go(func() {
		defer close(finished)
		for _, b := range all {
			failures += deliver(t, s, b)
		}
	})
	for kill := 1; kill <= 3; kill++ {
		// Wait until the flow is well under way past the last start.
		p.WaitLinesOf("relp", kill*len(sent)/4, peerWait)
		select {
		case <-finished:
			t.Logf("all batches went through before kill %d", kill)
		default:
			p.Kill()
		}
	}
	wg.Wait()
	lines := p.WaitLinesOf("relp", len(sent), peerWait)
	dups := checkLines(t, lines, sent, false)
	t.Logf("%d events, %d rsyslog starts, %d failed writes, %d lines, %d duplicates", len(sent), p.Starts(), failures, len(lines), dups)
}
