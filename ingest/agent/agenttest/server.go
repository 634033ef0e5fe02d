// Package agenttest is a stand-in for the server side of batch upload, for
// tests of the agent. Server implements the contract of
// POST /audit/v1/events as the agent relies on it: bearer token, gzipped
// NDJSON (or a JSON array), 202 with per-event rejections, 400 and 413
// with an error body, 401 for a revoked token, 429 and 503 with
// Retry-After, and deduplication: an event without an event_id is
// identified by its bytes, so a resent event is a duplicate.
package agenttest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Event is an event the server keeps (accepted, or quarantined).
type Event struct {
	ID       string
	Seq      int64
	Raw      []byte
	Rejected bool // kept in quarantine
}

// Response is a scripted answer, used instead of the normal one.
type Response struct {
	// Status is the status to answer; with 202, the batch is processed
	// as usual.
	Status     int
	RetryAfter string
	// Drop closes the connection instead of answering, after processing
	// the batch when Status is 202 (an answer lost on the way).
	Drop bool
}

// Server is the fake. Its zero value is not usable; call New.
type Server struct {
	token string

	mu         sync.Mutex
	events     []Event
	byID       map[string]int
	bySeq      map[int64]string
	received   int
	batches    int
	requests   int
	script     []Response
	maxEvents  int
	revoked    bool
	delay      time.Duration
	problems   []string
	duplicates int
}

// New returns a Server that accepts token.
func New(token string) *Server {
	return &Server{token: token, byID: map[string]int{}, bySeq: map[int64]string{}}
}

// Start serves s on a new httptest server, closed when the test ends, and
// returns its URL.
func (s *Server) Start(t testing.TB) string {
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts.URL
}

// Script queues answers for the next requests.
func (s *Server) Script(rs ...Response) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script = append(s.script, rs...)
}

// SetMaxBatch makes batches of more than n events answer 413.
func (s *Server) SetMaxBatch(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maxEvents = n
}

// SetDelay makes each request take at least d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Revoke makes the token invalid from now on.
func (s *Server) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revoked = true
}

// Events returns the events kept, each once, in arrival order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.events)
}

// Received returns how many events arrived in batches answered 202,
// duplicates included; Duplicates how many of them were duplicates.
func (s *Server) Received() (received, duplicates int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received, s.duplicates
}

// Batches returns how many batches were processed (answered 202 or
// dropped after processing).
func (s *Server) Batches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.batches
}

// Requests returns how many requests arrived.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Problems returns what the agent did against the contract: events
// without a seq, a seq reused for another event.
func (s *Server) Problems() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.problems)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	var scripted *Response
	if len(s.script) > 0 {
		scripted = &s.script[0]
		s.script = s.script[1:]
	}
	revoked, maxEvents := s.revoked, s.maxEvents
	s.mu.Unlock()
	if delay > 0 {
		time.Sleep(delay)
	}

	if r.Method != http.MethodPost || r.URL.Path != "/audit/v1/events" {
		writeError(w, http.StatusNotFound, "not_found", "no such route")
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token || revoked {
		writeError(w, http.StatusUnauthorized, "unauthorized", "invalid or revoked device token")
		return
	}
	if scripted != nil && scripted.Status != http.StatusAccepted {
		if scripted.Drop {
			drop(w)
			return
		}
		if scripted.RetryAfter != "" {
			w.Header().Set("Retry-After", scripted.RetryAfter)
		}
		writeError(w, scripted.Status, "scripted", "scripted answer")
		return
	}
	events, err := readBody(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "bad_body", err.Error())
		return
	}
	if maxEvents > 0 && len(events) > maxEvents {
		writeError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("at most %d events per batch", maxEvents))
		return
	}
	answer := s.store(events)
	if scripted != nil && scripted.Drop {
		drop(w)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(answer)
}

type rejection struct {
	Index   int    `json:"index"`
	EventID string `json:"event_id"`
	Error   string `json:"error"`
}

type accepted struct {
	Accepted   int         `json:"accepted"`
	Duplicates int         `json:"duplicates"`
	Rejected   []rejection `json:"rejected"`
}

// store keeps a batch: dedup by event_id (derived from the bytes when
// absent); an event with "bad": true, or without a valid seq, is
// quarantined.
func (s *Server) store(events [][]byte) accepted {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.batches++
	s.received += len(events)
	ans := accepted{Rejected: []rejection{}}
	for i, raw := range events {
		var ev struct {
			EventID string          `json:"event_id"`
			Seq     json.RawMessage `json:"seq"`
			Bad     bool            `json:"bad"`
		}
		reason := ""
		if err := json.Unmarshal(raw, &ev); err != nil {
			reason = "not a JSON object"
		}
		id := ev.EventID
		if id == "" {
			sum := sha256.Sum256(raw)
			id = hex.EncodeToString(sum[:16])
		}
		seq, err := strconv.ParseInt(string(ev.Seq), 10, 64)
		if reason == "" && (err != nil || seq <= 0) {
			reason = "seq: must be a positive integer"
			s.problems = append(s.problems, fmt.Sprintf("event %s: no valid seq (%s)", id, ev.Seq))
		} else if prev, ok := s.bySeq[seq]; ok && prev != id {
			s.problems = append(s.problems, fmt.Sprintf("seq %d reused: events %s and %s", seq, prev, id))
		}
		if reason == "" && ev.Bad {
			reason = "bad: refused by the test server"
		}
		if _, dup := s.byID[id]; dup {
			s.duplicates++
			ans.Duplicates++
			continue
		}
		s.bySeq[seq] = id
		s.byID[id] = len(s.events)
		s.events = append(s.events, Event{ID: id, Seq: seq, Raw: slices.Clone(raw), Rejected: reason != ""})
		if reason != "" {
			ans.Rejected = append(ans.Rejected, rejection{Index: i, EventID: id, Error: reason})
			continue
		}
		ans.Accepted++
	}
	return ans
}

// readBody decodes gzipped or plain NDJSON, or a JSON array.
func readBody(r *http.Request) ([][]byte, error) {
	var body io.Reader = r.Body
	switch r.Header.Get("Content-Encoding") {
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		defer zr.Close()
		body = zr
	case "", "identity":
	default:
		return nil, fmt.Errorf("unsupported content encoding %q", r.Header.Get("Content-Encoding"))
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '[' {
		var arr []json.RawMessage
		if err := json.Unmarshal(t, &arr); err != nil {
			return nil, fmt.Errorf("json array: %w", err)
		}
		out := make([][]byte, len(arr))
		for i, e := range arr {
			out[i] = e
		}
		return out, nil
	}
	var out [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			out = append(out, slices.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ndjson: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty batch")
	}
	return out, nil
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`+"\n", code, msg)
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		w.WriteHeader(http.StatusBadGateway) // not over HTTP/1: the closest
		return
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}
