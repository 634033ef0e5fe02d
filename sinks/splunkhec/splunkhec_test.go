package splunkhec

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/valyala/fastjson"
	"go.uber.org/goleak"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/sinks"
	"github.com/vigilaudit/vigil/sinks/sinktest"
)

var update = flag.Bool("update", false, "rewrite the golden files with the current results")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testRecord returns the i-th test event, a file.transfer of about 560
// bytes in canonical wire form.
func testRecord(i int) eventlog.Record {
	id := fmt.Sprintf("01AF4P8BFKWETC4YH8PY%06d", i)
	ts := time.Date(2016, 3, 30, 21, 18, 19, 123e6, time.UTC).Add(time.Duration(i) * time.Millisecond)
	v := fmt.Sprintf(`{"topic":"FILE","event":"file.transfer","timestamp":"%s","event_id":"%s",`+
		`"received_at":"2026-01-02T03:04:05.678Z","verified_submitter":{"user_id":"alice@example.com","device_id":"40f9cddab98a432b9c60d734f5f63e7e"},`+
		`"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"4e0375957f304b9bbfcddbf87f10b5d2"},"event_time":"2016-03-30T21:18:19.044Z",`+
		`"operations":["META_REQUEST","CONTENT_REQUEST"],"device":"40f9cddab98a432b9c60d734f5f63e7e",`+
		`"path":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"doc/api/overview-%d.pdf"},`+
		`"destination_device":"40f9cddab98a432b9c60d734f5f63e7f","destination_user":"bob@example.com"}`,
		ts.Format("2006-01-02T15:04:05.000Z"), id, i)
	return eventlog.Record{ID: id, Key: []byte("alice@example.com"), Value: []byte(v)}
}

func testBatch(from, n int) []eventlog.Record {
	out := make([]eventlog.Record, n)
	for i := range out {
		out[i] = testRecord(from + i)
	}
	return out
}

// values returns the records' values as strings, for comparisons.
func values(recs []eventlog.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = string(r.Value)
	}
	return out
}

func strs(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = string(b)
	}
	return out
}

// newTestSink returns a sink pointed at f with quick test timings,
// changed by change when not nil.
func newTestSink(t testing.TB, f *fakeHEC, change func(*Config)) *Sink {
	t.Helper()
	cfg := Config{
		URL:             f.Addr(),
		Token:           testToken,
		Ack:             f.opts.ack,
		AckTimeout:      5 * time.Second,
		AckPollInterval: 5 * time.Millisecond,
		Timeout:         5 * time.Second,
	}
	if change != nil {
		change(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConfig_Validate(t *testing.T) {
	valid := Config{URL: "https://splunk.example.com:8088", Token: testToken}
	tests := []struct {
		name   string
		change func(*Config)
		want   []string // substrings of the error, in order; none for valid
	}{
		{name: "Valid", change: func(*Config) {}},
		{name: "ValidFull", change: func(c *Config) {
			c.Index, c.Source, c.SourceType, c.Host = "audit", "vigil", "vigil:audit", "vigil-01"
			c.Ack, c.AckTimeout, c.AckPollInterval = true, time.Minute, 2*time.Second
			c.Channel = "0EE5A24C-6BA7-4CD5-B16C-1AA7E6A2C1F0"
			c.TLS = &config.ClientTLS{CAPEM: string(sinktest.NewCA(t, "test CA").PEM())}
			c.Timeout, c.MaxBatchBytes, c.Gzip = time.Second, 4096, true
			c.MaxInFlight, c.RefusedRetryInterval, c.Fields = 8, 10*time.Second, []string{"event", "verified_submitter.user_id"}
		}},
		{name: "ValidCollectorPath", change: func(c *Config) { c.URL = "http://127.0.0.1:8088/services/collector/event" }},
		{name: "Missing", change: func(c *Config) { *c = Config{} }, want: []string{"url: required", "token: required (or token_file)"}},
		{name: "ValidTokenFile", change: func(c *Config) { c.Token, c.TokenFile = "", "hec-token" }},
		{name: "TokenAndTokenFile", change: func(c *Config) { c.TokenFile = "hec-token" }, want: []string{"token_file: must not be set with token"}},
		{name: "BadFields", change: func(c *Config) { c.Fields = []string{"user", "", "a..b", "user"} },
			want: []string{`fields[1]: "" is not a field name`, `fields[2]: "a..b" is not a field name`, `fields[3]: "user" is listed twice`}},
		{name: "BadURL", change: func(c *Config) { c.URL = "splunk:8088" }, want: []string{`url: "splunk:8088" is not an http or https URL`}},
		{name: "URLWithCredentials", change: func(c *Config) { c.URL = "https://u:p@splunk:8088" }, want: []string{"url: must not hold credentials"}},
		{name: "URLWithQuery", change: func(c *Config) { c.URL = "https://splunk:8088/?x=1" }, want: []string{"url: must not have a query"}},
		{name: "TLSWithHTTP", change: func(c *Config) { c.URL, c.TLS = "http://splunk:8088", &config.ClientTLS{} }, want: []string{"tls: requires an https url"}},
		{name: "TLSProblem", change: func(c *Config) { c.TLS = &config.ClientTLS{CertFile: "c.pem"} }, want: []string{"tls.key_file: required when cert_file is set"}},
		{name: "TokenWithSpace", change: func(c *Config) { c.Token = "a b" }, want: []string{"token: must not contain spaces"}},
		{name: "BadChannel", change: func(c *Config) { c.Channel = "main" }, want: []string{`channel: "main" is not a GUID`}},
		{name: "Negative", change: func(c *Config) {
			c.AckTimeout, c.AckPollInterval, c.Timeout, c.MaxBatchBytes, c.MaxInFlight, c.RefusedRetryInterval = -1, -1, -1, -1, -1, -1
		}, want: []string{"ack_timeout: must not be negative", "ack_poll_interval: must not be negative", "timeout: must not be negative",
			"max_batch_bytes: must not be negative", "max_in_flight: must not be negative", "refused_retry_interval: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("Validate: %d problems %q, want %d", len(lines), lines, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("problem %d = %q, want prefix %q", i, lines[i], w)
				}
			}
		})
	}
}

func TestNew_NoNetworkAndDefaults(t *testing.T) {
	// Nothing listens there; New must not care.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s, err := New(Config{URL: "http://" + addr + "/services/collector/", Token: testToken,
		TLS: nil})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	if !isGUID(s.Channel()) {
		t.Errorf("Channel() = %q, want a GUID", s.Channel())
	}
	other, err := New(Config{URL: "http://" + addr, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if s.Channel() == other.Channel() {
		t.Errorf("two sinks share channel %s", s.Channel())
	}
	got := []any{s.eventURL, s.lanes[0].ackURL, s.cfg.AckTimeout, s.cfg.AckPollInterval, s.cfg.Timeout, s.cfg.MaxBatchBytes,
		s.cfg.MaxInFlight, len(s.lanes), s.cfg.RefusedRetryInterval, s.Connected()}
	want := []any{"http://" + addr + eventPath, "http://" + addr + ackPath + "?channel=" + s.Channel(),
		DefaultAckTimeout, DefaultAckPollInterval, DefaultTimeout, DefaultMaxBatchBytes,
		DefaultMaxInFlight, DefaultMaxInFlight, DefaultRefusedRetryInterval, false}
	channels := make(map[string]bool)
	for _, ln := range s.lanes {
		if !isGUID(ln.channel) || channels[ln.channel] {
			t.Errorf("lane %d channel %q: want a GUID of its own", ln.i, ln.channel)
		}
		channels[ln.channel] = true
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("sink settings (-want +got):\n%s", d)
	}
	if _, err := New(Config{URL: "http://" + addr}); err == nil || !strings.Contains(err.Error(), "token: required") {
		t.Errorf("New without token: %v, want token: required", err)
	}
}

func TestWrite_Delivers(t *testing.T) {
	tests := []struct {
		name   string
		ack    bool
		change func(*Config)
	}{
		{name: "Plain"},
		{name: "Ack", ack: true},
		{name: "Gzip", change: func(c *Config) { c.Gzip = true }},
		{name: "AckGzipSplit", ack: true, change: func(c *Config) { c.Gzip, c.MaxBatchBytes = true, 2000 }},
		{name: "ChannelSet", ack: true, change: func(c *Config) { c.Channel = "0EE5A24C-6BA7-4CD5-B16C-1AA7E6A2C1F0" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, fakeOptions{ack: tt.ack})
			s := newTestSink(t, f, tt.change)
			var want []string
			for i := range 3 {
				batch := testBatch(i*10, 10)
				if err := s.Write(t.Context(), batch); err != nil {
					t.Fatalf("Write %d: %v", i, err)
				}
				want = append(want, values(batch)...)
			}
			if d := cmp.Diff(want, strs(f.Received())); d != "" {
				t.Errorf("received (-want +got):\n%s", d)
			}
			if !s.Connected() {
				t.Error("Connected() = false after a delivery")
			}
			for _, r := range f.Requests() {
				if got := r.Header.Get("X-Splunk-Request-Channel"); got != s.Channel() {
					t.Errorf("channel header %q, want %q", got, s.Channel())
				}
			}
		})
	}
}

func TestWrite_Golden(t *testing.T) {
	file := filepath.Join("testdata", "requests.txtar")
	ar, err := txtar.ParseFile(file)
	if err != nil {
		t.Fatal(err)
	}
	sections := make(map[string]*txtar.File)
	for i := range ar.Files {
		sections[ar.Files[i].Name] = &ar.Files[i]
	}
	var batch []eventlog.Record
	for line := range strings.Lines(string(sections["events"].Data)) {
		v := strings.TrimSuffix(line, "\n")
		env, err := sinks.ParseEnvelope([]byte(v))
		if err != nil {
			t.Fatalf("test event: %v", err)
		}
		batch = append(batch, eventlog.Record{ID: env.EventID, Value: []byte(v)})
	}
	cases := []struct {
		name string
		cfg  func(*Config)
	}{
		{"all-fields", func(c *Config) {
			c.Host, c.Source, c.SourceType, c.Index = "vigil-01", `vigil "audit" <eu>`, "vigil:audit", "audit"
		}},
		{"no-fields", func(*Config) {}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, fakeOptions{})
			s := newTestSink(t, f, func(c *Config) {
				c.Channel = "0ee5a24c-6ba7-4cd5-b16c-1aa7e6a2c1f0"
				tc.cfg(c)
			})
			if err := s.Write(t.Context(), batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			reqs := f.Requests()
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			var got bytes.Buffer
			got.WriteString("POST " + eventPath + "\n")
			for _, h := range []string{"Authorization", "Content-Type", "X-Splunk-Request-Channel"} {
				fmt.Fprintf(&got, "%s: %s\n", h, reqs[0].Header.Get(h))
			}
			got.WriteString("\n")
			got.Write(reqs[0].Body)
			sec := sections[tc.name]
			if sec == nil {
				t.Fatalf("no section %q in %s", tc.name, file)
			}
			if *update {
				sec.Data = got.Bytes()
				return
			}
			if d := cmp.Diff(string(sec.Data), got.String()); d != "" {
				t.Errorf("request (-want +got):\n%s", d)
			}
		})
	}
	if *update {
		if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWrite_SplitsByMaxBatchBytes(t *testing.T) {
	one := len(testRecord(0).Value) + 80 // an event object's size, roughly
	tests := []struct {
		name     string
		max      int
		n        int
		requests []int // events per request
	}{
		{name: "OneRequest", max: 1 << 20, n: 10, requests: []int{10}},
		{name: "ThreePerRequest", max: 3*one + 10, n: 10, requests: []int{3, 3, 3, 1}},
		{name: "EventLargerThanLimit", max: 10, n: 3, requests: []int{1, 1, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, fakeOptions{ack: true})
			s := newTestSink(t, f, func(c *Config) { c.MaxBatchBytes = tt.max })
			batch := testBatch(0, tt.n)
			if err := s.Write(t.Context(), batch); err != nil {
				t.Fatalf("Write: %v", err)
			}
			var got []int
			for _, r := range f.Requests() {
				got = append(got, bytes.Count(r.Body, []byte("\n")))
				if len(r.Body) > tt.max && bytes.Count(r.Body, []byte("\n")) > 1 {
					t.Errorf("request of %d bytes holds several events, over the limit %d", len(r.Body), tt.max)
				}
			}
			if d := cmp.Diff(tt.requests, got); d != "" {
				t.Errorf("events per request (-want +got):\n%s", d)
			}
			if d := cmp.Diff(values(batch), strs(f.Received())); d != "" {
				t.Errorf("received (-want +got):\n%s", d)
			}
		})
	}
}

// TestWrite_WaitsForAck checks that Write returns only once the collector
// acknowledged the batch: the log's offset is committed after that.
func TestWrite_WaitsForAck(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	f.DelayAcks(1 << 30)
	s := newTestSink(t, f, nil)
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), testBatch(0, 5)) }()

	// The events are there and polled for, yet Write waits.
	waitFor(t, "three ack polls", func() bool { _, polls := f.Counts(); return polls >= 3 })
	select {
	case err := <-done:
		t.Fatalf("Write returned %v before the acknowledgement", err)
	default:
	}
	if got := len(f.Received()); got != 5 {
		t.Errorf("received %d events, want 5", got)
	}
	f.mu.Lock()
	for _, ch := range f.acks {
		for _, a := range ch.pending {
			a.pollsLeft = 0
		}
	}
	f.mu.Unlock()
	if err := <-done; err != nil {
		t.Fatalf("Write after the acknowledgement: %v", err)
	}
}

func TestWrite_AckAfterPolls(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	f.DelayAcks(3)
	s := newTestSink(t, f, func(c *Config) { c.MaxBatchBytes = 1500 })
	if err := s.Write(t.Context(), testBatch(0, 6)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	posts, polls := f.Counts()
	if posts != 3 || polls != 4 {
		t.Errorf("%d requests and %d polls, want 3 requests (2 events each) and 4 polls for all their acks", posts, polls)
	}
}

// TestWrite_AckTimeoutResends checks at-least-once delivery when an
// indexer loses events: no ack within AckTimeout fails Write, retryable,
// and the batch sent again arrives a second time.
func TestWrite_AckTimeoutResends(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	f.LoseAcks(1)
	s := newTestSink(t, f, func(c *Config) { c.AckTimeout = 100 * time.Millisecond })
	batch := testBatch(0, 4)
	var errs []error
	for range 5 {
		err := s.Write(t.Context(), batch)
		if err == nil {
			break
		}
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("Write failed %d times (%v), want once", len(errs), errs)
	}
	if sinks.IsPermanent(errs[0]) || !strings.Contains(errs[0].Error(), "no acknowledgement of 1 of 1 requests within 100ms") {
		t.Errorf("error %q (permanent %v), want a retryable ack timeout", errs[0], sinks.IsPermanent(errs[0]))
	}
	want := append(values(batch), values(batch)...)
	if d := cmp.Diff(want, strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

// TestWrite_Errors sends a batch to a collector that answers with each of
// HEC's documented errors, and other HTTP failures, and checks the class
// of the error Write returns.
func TestWrite_Errors(t *testing.T) {
	tests := []struct {
		name      string
		reply     fakeError
		permanent bool
		want      string
	}{
		{"TokenDisabled", fakeError{403, 1, "Token disabled"}, false, "collector answered 403 code 1: Token disabled"},
		{"TokenRequired", fakeError{401, 2, "Token is required"}, true, "code 2"},
		{"InvalidAuthorization", fakeError{401, 3, "Invalid authorization"}, true, "code 3"},
		{"InvalidToken", errInvalidToken, false, "collector answered 403 code 4: Invalid token"},
		{"NoData", fakeError{400, 5, "No data"}, true, "code 5"},
		{"InvalidDataFormat", errInvalidFormat, true, "collector answered 400 code 6: Invalid data format"},
		{"IncorrectIndex", fakeError{400, 7, "Incorrect index"}, true, "code 7"},
		{"InternalError", fakeError{500, 8, "Internal server error"}, false, "collector answered 500 code 8"},
		{"ServerBusy", errBusy, false, "collector answered 503 code 9: Server is busy"},
		{"ChannelMissing", fakeError{400, 10, "Data channel is missing"}, true, "code 10"},
		{"InvalidChannel", fakeError{400, 11, "Invalid data channel"}, true, "code 11"},
		{"EventRequired", fakeError{400, 12, "Event field is required"}, true, "code 12"},
		{"EventBlank", fakeError{400, 13, "Event field cannot be blank"}, true, "code 13"},
		{"AckDisabled", fakeError{400, 14, "ACK is disabled"}, true, "code 14"},
		{"IndexedFields", fakeError{400, 15, "Error in handling indexed fields"}, true, "code 15"},
		{"QueryStringAuth", fakeError{400, 16, "Query string authorization is not enabled"}, true, "code 16"},
		{"BusyWithoutCode", fakeError{503, -1, "Service Unavailable"}, false, "collector answered 503: Service Unavailable"},
		{"BadGateway", fakeError{502, -1, "<html>bad gateway</html>"}, false, "collector answered 502: <html>bad gateway</html>"},
		{"TooManyRequests", fakeError{429, -1, "slow down"}, false, "collector answered 429: slow down"},
		{"RequestTimeout", fakeError{408, -1, ""}, false, "collector answered 408"},
		{"NotFound", fakeError{404, 404, "The requested URL was not found on this server."}, false, "collector answered 404 code 404"},
		{"Detention", fakeError{404, -1, "Not Found"}, false, "collector answered 404: Not Found"},
		{"UnavailableWithCode", fakeError{503, 6, "Invalid data format"}, false, "collector answered 503 code 6"},
		{"TooLarge", fakeError{413, -1, "Content-Length of 9999999 too large (maximum is 1000000)"}, true, "collector answered 413"},
		{"Redirect", fakeError{302, -1, ""}, true, "collector answered 302"},
	}
	f := newFake(t, fakeOptions{})
	// Every reply is to reach the sink: no wait after a refused token.
	s := newTestSink(t, f, func(c *Config) { c.RefusedRetryInterval = time.Nanosecond })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.Fail(1, tt.reply)
			err := s.Write(t.Context(), testBatch(0, 2))
			if err == nil {
				t.Fatal("Write: nil, want an error")
			}
			if got := sinks.IsPermanent(err); got != tt.permanent {
				t.Errorf("IsPermanent(%q) = %v, want %v", err, got, tt.permanent)
			}
			wantRefusing := tt.reply.code == 1 || tt.reply.code == 4
			if got := sinks.IsRefusing(err); got != wantRefusing {
				t.Errorf("IsRefusing(%q) = %v, want %v", err, got, wantRefusing)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "send events 1 to 2 of 2 to 127.0.0.1:") {
				t.Errorf("error %q, want the prefix that names the events", err)
			}
		})
	}
	t.Run("ThenRecovers", func(t *testing.T) {
		if err := s.Write(t.Context(), testBatch(0, 2)); err != nil {
			t.Fatalf("Write: %v", err)
		}
	})
}

// TestCheckReply is the mapping of replies to error classes, without a
// server: HTTP status, body, and what Write makes of it.
func TestCheckReply(t *testing.T) {
	const (
		ok        = "ok"
		retry     = "retry"
		permanent = "permanent" // these events
		refused   = "refused"   // the sink itself: every event alike
		refusing  = "refusing"  // the token, for now: retried, not parked
	)
	tests := []struct {
		status int
		body   string
		want   string
		ackID  int64
	}{
		{200, `{"text":"Success","code":0}`, ok, -1},
		{200, `{"text":"Success","code":0,"ackId":42}`, ok, 42},
		{200, ``, ok, -1},
		{200, `not json`, ok, -1},
		{204, ``, ok, -1},
		{200, `{"text":"Server is busy","code":9}`, retry, -1},
		{200, `{"text":"Invalid token","code":4}`, refusing, -1},
		{400, `{"text":"Invalid data format","code":6,"invalid-event-number":3}`, permanent, -1},
		{400, `{"text":"Incorrect index","code":7,"invalid-event-number":0}`, refused, -1},
		{400, `{"text":"ACK is disabled","code":14}`, refused, -1},
		{401, `{"text":"Token is required","code":2}`, refused, -1},
		{403, `{"text":"Token disabled","code":1}`, refusing, -1},
		{401, `{"text":"Invalid authorization","code":3}`, refused, -1},
		{500, `{"text":"Internal server error","code":8}`, retry, -1},
		{503, `{"text":"Server is busy","code":9}`, retry, -1},
		{503, `{"code":8}`, retry, -1},
		{400, `{"code":8}`, retry, -1},
		{503, `{"text":"Invalid data format","code":6}`, retry, -1},
		{500, ``, retry, -1},
		{502, `<html>`, retry, -1},
		{504, `{}`, retry, -1},
		{429, ``, retry, -1},
		{408, ``, retry, -1},
		{400, ``, permanent, -1},
		{401, `Unauthorized`, refused, -1},
		{404, `{"text":"The requested URL was not found on this server.","code":404}`, retry, -1},
		{404, `{"text":"Invalid token","code":4}`, retry, -1},
		{404, ``, retry, -1},
		{413, ``, permanent, -1},
		{301, ``, refused, -1},
		{400, `{"code":"6"}`, permanent, -1},
		{503, `{"code":99}`, retry, -1},
		{418, `{"code":99}`, permanent, -1},
	}
	var p fastjson.Parser
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", tt.status, tt.body), func(t *testing.T) {
			r, err := checkReply(&p, tt.status, []byte(tt.body))
			got := ok
			switch {
			case sinks.IsRefusing(err):
				got = refusing
			case sinks.IsPermanentAll(err):
				got = refused
			case sinks.IsPermanent(err):
				got = permanent
			case err != nil:
				got = retry
			}
			if got != tt.want {
				t.Errorf("class %s (error %v), want %s", got, err, tt.want)
			}
			if err == nil && r.AckID != tt.ackID {
				t.Errorf("ackId %d, want %d", r.AckID, tt.ackID)
			}
			var se *statusError
			if err != nil && (!errors.As(err, &se) || se.Status != tt.status) {
				t.Errorf("error %v does not carry status %d", err, tt.status)
			}
		})
	}
	_, err := checkReply(&p, 400, []byte(`{"text":"Invalid data format","code":6,"invalid-event-number":3}`))
	if want := "collector answered 400 code 6: Invalid data format (event 3 of the request)"; err == nil || err.Error() != want {
		t.Errorf("error %v, want %q", err, want)
	}
}

func TestParseAcks(t *testing.T) {
	tests := []struct {
		body    string
		want    []int64
		wantErr bool
	}{
		{body: `{"acks":{"0":true,"1":false,"2":true}}`, want: []int64{0, 2}},
		{body: `{"acks":{}}`},
		{body: `{"acks":{"7":"true"}}`},
		{body: `{"acks":[0,1]}`, wantErr: true},
		{body: `{"acks":{"x":true}}`, wantErr: true},
		{body: `{}`, wantErr: true},
		{body: `{"text":"ACK is disabled","code":14}`, wantErr: true},
		{body: ``, wantErr: true},
	}
	var p fastjson.Parser
	for _, tt := range tests {
		got, err := parseAcks(&p, []byte(tt.body))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseAcks(%s) error %v, want error %v", tt.body, err, tt.wantErr)
			continue
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("parseAcks(%s) (-want +got):\n%s", tt.body, d)
		}
	}
}

func TestWrite_IncorrectIndex(t *testing.T) {
	f := newFake(t, fakeOptions{indexes: []string{"audit"}})
	s := newTestSink(t, f, func(c *Config) { c.Index = "main" })
	err := s.Write(t.Context(), testBatch(0, 2))
	if !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "code 7: Incorrect index (event 0 of the request)") {
		t.Errorf("Write: %v, want a permanent incorrect index error", err)
	}
	good := newTestSink(t, f, func(c *Config) { c.Index = "audit" })
	if err := good.Write(t.Context(), testBatch(0, 2)); err != nil {
		t.Errorf("Write to an allowed index: %v", err)
	}
}

func TestWrite_NotAnEvent(t *testing.T) {
	f := newFake(t, fakeOptions{})
	s := newTestSink(t, f, nil)
	for i, v := range []string{``, `not json`, `{"topic":"FILE"}`, `[1,2]`} {
		// The event before the bad record goes; the bad one is named.
		batch := append(testBatch(i, 1), eventlog.Record{ID: "bad", Value: []byte(v)}, testRecord(10+i))
		err := s.Write(t.Context(), batch)
		if i, ok := sinks.RefusedIndex(err); !ok || i != 1 || !sinks.IsPermanent(err) || !strings.Contains(err.Error(), "encode event bad") {
			t.Errorf("Write with value %q: %v, want a permanent encode error of record 1", v, err)
		}
		if err := s.Write(t.Context(), batch[:0:0]); err != nil {
			t.Errorf("Write of nothing: %v", err)
		}
	}
	if d := cmp.Diff(values(testBatch(0, 4)), strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

func TestWrite_TokenNeverInErrors(t *testing.T) {
	const secret = "c0ffee00-dead-beef-0000-5ec2e7700000"
	f := newFake(t, fakeOptions{ack: true})
	tests := []struct {
		name  string
		token string
		setup func()
	}{
		{name: "InvalidToken", token: secret},
		{name: "EchoedToken", token: testToken, setup: func() {
			f.Fail(1, fakeError{400, 6, "cannot parse request with token " + testToken})
		}},
		{name: "TokenDisabled", token: testToken, setup: func() { f.DisableToken(true) }},
		{name: "Down", token: testToken, setup: f.Down},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.setup != nil {
				tt.setup()
			}
			s := newTestSink(t, f, func(c *Config) { c.Token = tt.token })
			err := s.Write(t.Context(), testBatch(0, 1))
			if err == nil {
				t.Fatal("Write: nil, want an error")
			}
			if strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestWrite_DownUp(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	s := newTestSink(t, f, nil)
	if err := s.Write(t.Context(), testBatch(0, 3)); err != nil {
		t.Fatalf("Write: %v", err)
	}
	f.Down()
	err := s.Write(t.Context(), testBatch(3, 3))
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("Write while down: %v, want a retryable error", err)
	}
	if s.Connected() {
		t.Error("Connected() = true while the collector is down")
	}
	f.Up()
	if err := s.Write(t.Context(), testBatch(3, 3)); err != nil {
		t.Fatalf("Write after up: %v", err)
	}
	if !s.Connected() {
		t.Error("Connected() = false after the collector is back")
	}
	if d := cmp.Diff(values(testBatch(0, 6)), strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

func TestWrite_DropMidRequest(t *testing.T) {
	f := newFake(t, fakeOptions{ack: true})
	s := newTestSink(t, f, nil)
	batch := testBatch(0, 5)
	f.DropAfter(2)
	err := s.Write(t.Context(), batch)
	if err == nil || sinks.IsPermanent(err) {
		t.Fatalf("Write with a dropped connection: %v, want a retryable error", err)
	}
	if err := s.Write(t.Context(), batch); err != nil {
		t.Fatalf("Write again: %v", err)
	}
	want := append(values(batch[:2]), values(batch)...)
	if d := cmp.Diff(want, strs(f.Received())); d != "" {
		t.Errorf("received (-want +got):\n%s", d)
	}
}

func TestWrite_Cancel(t *testing.T) {
	tests := []struct {
		name  string
		setup func(f *fakeHEC)
	}{
		{name: "DuringRequest", setup: func(f *fakeHEC) { f.Stall(true) }},
		{name: "DuringAckWait", setup: func(f *fakeHEC) { f.DelayAcks(1 << 30) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, fakeOptions{ack: true})
			defer f.Stall(false)
			tt.setup(f)
			s := newTestSink(t, f, func(c *Config) { c.Timeout, c.AckTimeout = time.Minute, time.Minute })
			ctx, cancel := context.WithCancel(t.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			err := s.Write(ctx, testBatch(0, 2))
			if !errors.Is(err, context.Canceled) || sinks.IsPermanent(err) {
				t.Errorf("Write: %v, want a retryable error wrapping context.Canceled", err)
			}
		})
	}
}

func TestWrite_TLS(t *testing.T) {
	ca := sinktest.NewCA(t, "hec test CA")
	dir := t.TempDir()
	caFile := sinktest.WriteFile(t, dir, "ca.pem", ca.PEM())
	certPEM, keyPEM := ca.ClientPEM(t, "vigil")
	certFile := sinktest.WriteFile(t, dir, "client.pem", certPEM)
	keyFile := sinktest.WriteFile(t, dir, "client-key.pem", keyPEM)
	serverTLS := func(mutual bool) *tls.Config {
		c := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.ServerCertificate(t)}}
		if mutual {
			c.ClientCAs, c.ClientAuth = ca.Pool(), tls.RequireAndVerifyClientCert
		}
		return c
	}

	f := newFake(t, fakeOptions{ack: true, tls: serverTLS(false)})
	mf := newFake(t, fakeOptions{tls: serverTLS(true)})
	tests := []struct {
		name    string
		f       *fakeHEC
		tls     *config.ClientTLS
		wantErr string // empty: Write succeeds; errors are all retryable
	}{
		{name: "CAFile", f: f, tls: &config.ClientTLS{CAFile: caFile}},
		{name: "CAPEM", f: f, tls: &config.ClientTLS{CAPEM: string(ca.PEM())}},
		{name: "WrongCA", f: f, tls: &config.ClientTLS{CAPEM: string(sinktest.NewCA(t, "other CA").PEM())}, wantErr: "verify server certificate"},
		{name: "MissingCAFile", f: f, tls: &config.ClientTLS{CAFile: filepath.Join(dir, "none.pem")}, wantErr: "load tls settings"},
		{name: "SystemRoots", f: f, wantErr: "certificate"},
		{name: "MutualTLS", f: mf, tls: &config.ClientTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile}},
		{name: "MutualTLSWithoutCertificate", f: mf, tls: &config.ClientTLS{CAFile: caFile}, wantErr: "send events 1 to 2 of 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestSink(t, tt.f, func(c *Config) { c.TLS = tt.tls })
			err := s.Write(t.Context(), testBatch(0, 2))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Write: %v", err)
			case tt.wantErr == "":
			case err == nil || sinks.IsPermanent(err) || !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Write: %v, want a retryable error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestAppendTime(t *testing.T) {
	tests := []struct {
		t    time.Time
		want string
	}{
		{time.Date(2016, 3, 30, 21, 18, 19, 123e6, time.UTC), "1459372699.123"},
		{time.Date(2016, 3, 30, 21, 18, 19, 0, time.UTC), "1459372699.000"},
		{time.Date(2016, 3, 30, 21, 18, 19, 7_999_999, time.UTC), "1459372699.007"},
		{time.Unix(0, 0), "0.000"},
		{time.Unix(0, -1e6), "-0.001"},
		{time.Unix(-2, 5e8), "-1.500"},
	}
	for _, tt := range tests {
		if got := string(appendTime(nil, tt.t)); got != tt.want {
			t.Errorf("appendTime(%v) = %s, want %s", tt.t, got, tt.want)
		}
	}
}

func TestClose(t *testing.T) {
	f := newFake(t, fakeOptions{})
	s := newTestSink(t, f, nil)
	if err := s.Write(t.Context(), testBatch(0, 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if s.Connected() {
		t.Error("Connected() = true after Close")
	}
	if err := s.Write(t.Context(), testBatch(1, 1)); !errors.Is(err, errClosed) {
		t.Errorf("Write after Close: %v, want errClosed", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
