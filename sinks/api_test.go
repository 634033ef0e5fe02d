package sinks

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

// roleGate lets a request through when its X-Role header is one of roles;
// it stands in for the server's credential check.
func roleGate(roles ...string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			for _, role := range roles {
				if r.Header.Get("X-Role") == role {
					next.ServeHTTP(w, r)
					return
				}
			}
			httpapi.Audit.Write(w, httpapi.NewError(http.StatusForbidden, "forbidden", "role required"))
		})
	}
}

func TestAPI_Routes(t *testing.T) {
	s := &memSink{refuse: refuseIDs("ev001")}
	dl := newDeadLetter(t)
	fw := newForwarder(t, s, Filter{}, dl, nil)
	if err := fw.Handle(context.Background(), events(3)); err != nil {
		t.Fatal(err)
	}
	replay := func(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error { return nil }
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: dl, Replay: replay,
		Lag: func(context.Context, string) (int64, error) { return 42, nil }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- mgr.Run(ctx) }()
	defer func() { cancel(); <-done }()

	r := chi.NewRouter()
	httpapi.Mount(r, mgr.Routes(), func(a httpapi.Access) []func(http.Handler) http.Handler {
		if a == httpapi.Admin {
			return []func(http.Handler) http.Handler{roleGate("admin")}
		}
		return []func(http.Handler) http.Handler{roleGate("admin", "auditor")}
	})
	srv := httptest.NewServer(r)
	defer srv.Close()

	tests := []struct {
		name, method, path, role, body string
		status                         int
		contains                       string
	}{
		{"list as auditor", "GET", "/audit/v1/sinks", "auditor", "", 200, `"lag":42`},
		{"list as device", "GET", "/audit/v1/sinks", "device", "", 403, `"code":"forbidden"`},
		{"one sink", "GET", "/audit/v1/sinks/siem", "admin", "", 200, `"dead_letter":1`},
		{"unknown sink", "GET", "/audit/v1/sinks/nope", "admin", "", 404, `"code":"not_found"`},
		{"dead letter", "GET", "/audit/v1/sinks/siem/deadletter", "auditor", "", 200, `"event_id":"ev001"`},
		{"dead letter bad limit", "GET", "/audit/v1/sinks/siem/deadletter?limit=0", "admin", "", 400, `limit`},
		{"replay as auditor", "POST", "/audit/v1/sinks/siem/replay", "auditor", `{"since":"24h"}`, 403, `forbidden`},
		{"replay bad since", "POST", "/audit/v1/sinks/siem/replay", "admin", `{"since":"yesterday"}`, 400, `since`},
		{"replay unknown field", "POST", "/audit/v1/sinks/siem/replay", "admin", `{"from":"24h"}`, 400, `body`},
		{"replay", "POST", "/audit/v1/sinks/siem/replay", "admin", `{"since":"2026-11-01T00:00:00Z"}`, 202, `"state":"running"`},
		{"dead letter replay still refused", "POST", "/audit/v1/sinks/siem/deadletter/replay", "admin", "", 200, `"remaining":1`},
		{"dead letter replay as auditor", "POST", "/audit/v1/sinks/siem/deadletter/replay", "auditor", "", 403, `forbidden`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			req.Header.Set("X-Role", tt.role)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(body), tt.contains) {
				t.Errorf("%s %s = %d %s, want %d containing %s", tt.method, tt.path, resp.StatusCode, body, tt.status, tt.contains)
			}
			if resp.StatusCode >= 400 {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("error body %s is not the audit APIs' shape", body)
				}
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
		err  bool
	}{
		{"2026-11-01T00:00:00Z", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"2026-11-01T01:00:00+01:00", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"90m", now.Add(-90 * time.Minute), false},
		{"7d", now.Add(-7 * 24 * time.Hour), false},
		{"", time.Time{}, true},
		{"-1h", time.Time{}, true},
		{"xd", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := ParseSince(tt.in, now)
		if (err != nil) != tt.err || !got.Equal(tt.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v (error %v)", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestParseEnvelope(t *testing.T) {
	ts := time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)
	want := Envelope{Topic: "FILE", Event: "file.transfer", Timestamp: ts, EventID: "01JX"}
	tests := []struct {
		name string
		in   string
		want Envelope
		err  bool
	}{
		{"canonical", `{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z","event_id":"01JX","user":"a"}`, want, false},
		{"other order", `{"event_id":"01JX","event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z","topic":"FILE"}`, want, false},
		{"spaces", `{ "topic" : "FILE", "event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z","event_id":"01JX"}`, want, false},
		{"no id", `{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z"}`, Envelope{Topic: "FILE", Event: "file.transfer", Timestamp: ts}, false},
		{"no timestamp", `{"topic":"FILE","event":"file.transfer"}`, Envelope{}, true},
		{"bad timestamp", `{"topic":"FILE","event":"file.transfer","timestamp":"today"}`, Envelope{}, true},
		{"not json", `{"topic":"FILE"`, Envelope{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEnvelope([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseEnvelope checks that the fast path agrees with a full parse.
func FuzzParseEnvelope(f *testing.F) {
	f.Add([]byte(`{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z","event_id":"01JX"}`))
	f.Add([]byte(`{"topic":"FILE","event":"file.transfer","timestamp":"2026-11-23T10:00:00.123Z","event_id":"0\u0031"}`))
	f.Add([]byte(`{"topic":"A\"","event":"b","timestamp":"2026-11-23T10:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseEnvelope(b)
		if err != nil {
			return
		}
		var full struct {
			Topic     string `json:"topic"`
			Event     string `json:"event"`
			Timestamp string `json:"timestamp"`
			EventID   string `json:"event_id"`
		}
		if !utf8.Valid(b) || json.Unmarshal(b, &full) != nil || hasDuplicateKeys(b) {
			return // fastjson accepts a little more; duplicates pick differently
		}
		if got.Topic != full.Topic || got.Event != full.Event || got.EventID != full.EventID {
			t.Errorf("ParseEnvelope(%s) = %+v, encoding/json reads %+v", b, got, full)
		}
	})
}

func hasDuplicateKeys(b []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return false
		}
		key, _ := k.(string)
		if seen[key] {
			return true
		}
		seen[key] = true
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// FuzzParseSince: any input gives a time or an error, never a panic, and
// a time never after now for a relative input.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"24h", "7d", "2026-11-01T00:00:00Z", "-1h", "99999999d", "1.5h", ""} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSince(s, now)
		if err != nil {
			return
		}
		if _, perr := time.Parse(time.RFC3339Nano, s); perr != nil && got.After(now) {
			t.Errorf("ParseSince(%q) = %v, after now", s, got)
		}
	})
}
