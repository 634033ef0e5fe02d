package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigilaudit/vigil/ingest/agent/agenttest"
)

// seqEvents returns events as the spool hands them out: seq first.
func seqEvents(n int) [][]byte {
	out := testEvents(0, n)
	for i, e := range out {
		rec := appendRecord(nil, uint64(i+1), e)
		_, out[i], _ = parseRecord(rec[:len(rec)-1])
	}
	return out
}

// recordWaits replaces u's sleep with one that records the waits and
// returns at once.
func recordWaits(u *Uploader) *[]time.Duration {
	var (
		mu    sync.Mutex
		waits []time.Duration
	)
	u.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, d)
		return ctx.Err()
	}
	return &waits
}

// upload runs Upload and returns the results done received.
func upload(t *testing.T, u *Uploader, events [][]byte) ([]Result, error) {
	t.Helper()
	var got []Result
	err := u.Upload(ctxT(t), events, func(r Result) error {
		got = append(got, r)
		return nil
	})
	return got, err
}

func TestUploader_Answers(t *testing.T) {
	second := 1 * time.Second
	tests := []struct {
		name     string
		script   []agenttest.Response
		maxBatch int
		events   int
		want     []Result
		waits    []time.Duration // exact waits; nil: only their count is checked
		nwaits   int
	}{
		{
			name:   "accepted",
			events: 5,
			want:   []Result{{Offset: 0, N: 5, Accepted: 5}},
		},
		{
			name:   "429 waits Retry-After",
			script: []agenttest.Response{{Status: 429, RetryAfter: "1"}, {Status: 429, RetryAfter: "3"}},
			events: 2,
			want:   []Result{{N: 2, Accepted: 2}},
			waits:  []time.Duration{second, 3 * second},
		},
		{
			name:   "503 waits Retry-After",
			script: []agenttest.Response{{Status: 503, RetryAfter: "2"}},
			events: 2,
			want:   []Result{{N: 2, Accepted: 2}},
			waits:  []time.Duration{2 * second},
		},
		{
			name:   "503 without Retry-After backs off",
			script: []agenttest.Response{{Status: 503}, {Status: 500}, {Status: 502}},
			events: 1,
			want:   []Result{{N: 1, Accepted: 1}},
			nwaits: 3,
		},
		{
			name:   "connection dropped",
			script: []agenttest.Response{{Drop: true, Status: 500}, {Drop: true, Status: 500}},
			events: 3,
			want:   []Result{{N: 3, Accepted: 3}},
			nwaits: 2,
		},
		{
			name:   "answer lost after the server kept the batch",
			script: []agenttest.Response{{Status: 202, Drop: true}},
			events: 3,
			want:   []Result{{N: 3, Duplicates: 3}},
			nwaits: 1,
		},
		{
			name:   "captive portal 200 is not an acceptance",
			script: []agenttest.Response{{Status: 200}},
			events: 1,
			want:   []Result{{N: 1, Accepted: 1}},
			nwaits: 1,
		},
		{
			name:     "413 splits in halves",
			maxBatch: 3,
			events:   10,
			want: []Result{
				{Offset: 0, N: 2, Accepted: 2}, {Offset: 2, N: 3, Accepted: 3},
				{Offset: 5, N: 2, Accepted: 2}, {Offset: 7, N: 3, Accepted: 3},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := agenttest.New("device-token")
			srv.Script(tt.script...)
			srv.SetMaxBatch(tt.maxBatch)
			u := newUploader(t, srv.Start(t))
			waits := recordWaits(u)
			got, err := upload(t, u, seqEvents(tt.events))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("results (-want +got):\n%s", diff)
			}
			if tt.waits != nil {
				if diff := cmp.Diff(tt.waits, *waits); diff != "" {
					t.Errorf("waits (-want +got):\n%s", diff)
				}
			} else if len(*waits) != tt.nwaits {
				t.Errorf("waited %v, want %d waits", *waits, tt.nwaits)
			}
			if n := len(srv.Events()); n != tt.events {
				t.Errorf("server has %d events, want %d", n, tt.events)
			}
		})
	}
}

func TestUploader_RejectedIndexAfterSplit(t *testing.T) {
	srv := agenttest.New("device-token")
	srv.SetMaxBatch(2)
	u := newUploader(t, srv.Start(t))
	events := seqEvents(4)
	events[3] = []byte(`{"seq":4,"bad":true}`)
	got, err := upload(t, u, events)
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Offset: 0, N: 2, Accepted: 2},
		{Offset: 2, N: 2, Accepted: 1, Rejected: []Rejection{{Index: 3, Error: "bad: refused by the test server"}}},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(Rejection{}, "EventID")); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func TestUploader_LoneEventTooLarge(t *testing.T) {
	srv := agenttest.New("device-token")
	// The batch of two, then the first event alone.
	srv.Script(agenttest.Response{Status: 413}, agenttest.Response{Status: 413})
	u := newUploader(t, srv.Start(t))
	got, err := upload(t, u, seqEvents(2))
	if err != nil {
		t.Fatal(err)
	}
	want := []Result{
		{Offset: 0, N: 1, Refused: []Rejection{{Index: 0, Error: "server answered 413 Request Entity Too Large: scripted: scripted answer"}}},
		{Offset: 1, N: 1, Accepted: 1},
	}
	if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("results (-want +got):\n%s", diff)
	}
}

func TestUploader_Permanent(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		credential bool
	}{
		{"unauthorized", 401, true},
		{"forbidden", 403, true},
		{"not found", 404, false},
		{"unsupported media type", 415, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := agenttest.New("device-token")
			srv.Script(agenttest.Response{Status: tt.status})
			u := newUploader(t, srv.Start(t))
			waits := recordWaits(u)
			got, err := upload(t, u, seqEvents(2))
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tt.status || se.Credential() != tt.credential {
				t.Fatalf("error %v, want a StatusError %d", err, tt.status)
			}
			if len(got) != 0 || len(*waits) != 0 {
				t.Errorf("results %v, waits %v; want none", got, *waits)
			}
		})
	}
}

func TestUploader_WrongToken(t *testing.T) {
	srv := agenttest.New("another-token")
	u := newUploader(t, srv.Start(t))
	_, err := upload(t, u, seqEvents(1))
	var se *StatusError
	if !errors.As(err, &se) || !se.Credential() || se.Message != "invalid or revoked device token" {
		t.Fatalf("error %v, want a refused credential with the server's message", err)
	}
}

func TestUploader_GivesUpAfterMaxWait(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer ts.Close()
	u, err := NewUploader(UploaderConfig{
		Server: ts.URL, Token: "t", InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		MaxWait: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	start := time.Now()
	_, err = upload(t, u, seqEvents(1))
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v, want ErrUnreachable", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("gave up after %s, before MaxWait", d)
	}
}

func TestUploader_RetryAfterBeyondMaxWait(t *testing.T) {
	srv := agenttest.New("device-token")
	srv.Script(agenttest.Response{Status: 503, RetryAfter: "3600"})
	u, err := NewUploader(UploaderConfig{Server: srv.Start(t), Token: "device-token", MaxWait: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	waits := recordWaits(u)
	if _, err := upload(t, u, seqEvents(1)); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("error %v, want ErrUnreachable", err)
	}
	if len(*waits) != 0 {
		t.Errorf("waited %v before giving up", *waits)
	}
}

func TestUploader_Backoff(t *testing.T) {
	u, err := NewUploader(UploaderConfig{Server: "http://127.0.0.1:1", Token: "t", InitialBackoff: time.Second, MaxBackoff: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for attempt, ceiling := range []time.Duration{1, 2, 4, 8, 10, 10, 10} {
		ceiling *= time.Second
		for range 50 {
			if d := u.backoff(attempt); d < ceiling/2 || d > ceiling {
				t.Fatalf("backoff(%d) = %s, want within [%s, %s]", attempt, d, ceiling/2, ceiling)
			}
		}
	}
	if d := u.backoff(1000); d > 10*time.Second {
		t.Errorf("backoff(1000) = %s, over the maximum", d)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := map[string]time.Duration{
		"":        0,
		"0":       0,
		"-3":      0,
		"5":       5 * time.Second,
		" 7 ":     7 * time.Second,
		"soon":    0,
		"9999999": 24 * time.Hour,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0,
	}
	for in, want := range tests {
		if got := retryAfter(in); got != want {
			t.Errorf("retryAfter(%q) = %s, want %s", in, got, want)
		}
	}
	future := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	if got := retryAfter(future); got < 50*time.Second || got > time.Minute {
		t.Errorf("retryAfter(%q) = %s, want about a minute", future, got)
	}
}

func TestNewUploader_Invalid(t *testing.T) {
	for _, cfg := range []UploaderConfig{
		{Server: "", Token: "t"},
		{Server: "ftp://example.com", Token: "t"},
		{Server: "http://", Token: "t"},
		{Server: "https://example.com"},
	} {
		if _, err := NewUploader(cfg); err == nil {
			t.Errorf("NewUploader(%+v) succeeded", cfg)
		}
	}
	u, err := NewUploader(UploaderConfig{Server: "https://vigil.example.com/base/", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://vigil.example.com/base/audit/v1/events"; u.url != want {
		t.Errorf("url %s, want %s", u.url, want)
	}
}

func TestStatusError(t *testing.T) {
	e := statusError(401, []byte(`{"error":{"code":"unauthorized","message":"token revoked"}}`))
	if got, want := e.Error(), "server answered 401 Unauthorized: unauthorized: token revoked"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if got, want := statusError(404, []byte("<html>")).Error(), "server answered 404 Not Found"; got != want {
		t.Errorf("%q, want %q", got, want)
	}
}
