package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

type fixture struct {
	srv                  *httptest.Server
	log                  *memLog
	q                    *Quarantine
	store                *auth.Store
	device, revoked      string // device tokens
	admin, auditor       string // API tokens
	deviceID, deviceUser string
	ingester             *Ingester
	handler              *Handler
}

// mount adds h's routes to r behind the server's credential checks.
func mount(r chi.Router, h *Handler, creds auth.Authenticator) {
	httpapi.Mount(r, h.Routes(), func(a httpapi.Access) []func(http.Handler) http.Handler {
		if a == httpapi.Admin {
			return []func(http.Handler) http.Handler{auth.Middleware(creds), auth.RequireRole(auth.RoleAdmin)}
		}
		return nil
	})
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	store, err := auth.Open(filepath.Join(t.TempDir(), "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{log: &memLog{}, q: openQuarantine(t), store: store}
	dev, tok, err := store.AddDevice(ctx, auth.LocalCaller, "Alice@Example.com", "laptop")
	if err != nil {
		t.Fatal(err)
	}
	f.device, f.deviceID, f.deviceUser = tok, dev.ID, dev.UserID
	old, oldTok, _ := store.AddDevice(ctx, auth.LocalCaller, "bob@example.com", "old")
	if err := store.RevokeDevice(ctx, auth.LocalCaller, old.ID); err != nil {
		t.Fatal(err)
	}
	f.revoked = oldTok
	_, f.admin, _ = store.AddToken(ctx, auth.LocalCaller, auth.RoleAdmin, "ops")
	_, f.auditor, _ = store.AddToken(ctx, auth.LocalCaller, auth.RoleAuditor, "soc")
	f.ingester = New(f.log, f.q, cfg, store, nil, nil)
	r := chi.NewRouter()
	f.handler = NewHandler(f.ingester, store)
	mount(r, f.handler, store)
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) do(t *testing.T, method, path, token string, body []byte, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, data
}

func ndjson(evs ...[]byte) []byte { return bytes.Join(evs, []byte("\n")) }

// TestRoutesByCredential is the table of route by credential.
func TestRoutesByCredential(t *testing.T) {
	f := newFixture(t, Config{})
	creds := map[string]string{"none": "", "unknown": strings.Repeat("0", 64), "device": f.device, "revoked device": f.revoked, "auditor": f.auditor, "admin": f.admin}
	type route struct{ method, path string }
	routes := []route{{"POST", "/audit/v1/events"}, {"POST", "/event"}, {"POST", "/audit/event"}, {"GET", "/audit/v1/quarantine"}, {"POST", "/audit/v1/quarantine/replay"}}
	want := map[route]map[string]int{
		routes[0]: {"none": 401, "unknown": 401, "device": 202, "revoked device": 403, "auditor": 403, "admin": 403},
		routes[1]: {"none": 401, "unknown": 401, "device": 200, "revoked device": 403, "auditor": 403, "admin": 403},
		routes[2]: {"none": 401, "unknown": 401, "device": 200, "revoked device": 403, "auditor": 403, "admin": 403},
		routes[3]: {"none": 401, "unknown": 401, "device": 403, "revoked device": 403, "auditor": 403, "admin": 200},
		routes[4]: {"none": 401, "unknown": 401, "device": 403, "revoked device": 403, "auditor": 403, "admin": 200},
	}
	i := 0
	for _, rt := range routes {
		for name, tok := range creds {
			i++
			body := signin(i)
			if rt.path == "/audit/v1/quarantine/replay" || rt.method == "GET" {
				body = nil
			}
			resp, data := f.do(t, rt.method, rt.path, tok, body)
			if resp.StatusCode != want[rt][name] {
				t.Errorf("%s %s as %s: %d %s, want %d", rt.method, rt.path, name, resp.StatusCode, data, want[rt][name])
			}
			if resp.StatusCode >= 400 {
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if json.Unmarshal(data, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
					t.Errorf("%s %s as %s: error body %s is not the audit APIs' shape", rt.method, rt.path, name, data)
				}
			}
			if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s %s: 401 without WWW-Authenticate", rt.method, rt.path)
			}
			// Each refusal says which it is, with its own code.
			wantCode := map[string]string{"none": "credential_required", "unknown": "unknown_token", "revoked device": "revoked"}[name]
			if c := errorCode(data); wantCode != "" && c != wantCode {
				t.Errorf("%s %s as %s: code %q, want %q", rt.method, rt.path, name, c, wantCode)
			}
		}
	}
	// The device routes' words: credential required, unknown token,
	// device revoked.
	for name, want := range map[string]string{"none": "credential required", "unknown": "unknown token", "revoked device": "device revoked"} {
		_, data := f.do(t, "POST", "/audit/v1/events", creds[name], signin(0))
		if !strings.Contains(string(data), want) {
			t.Errorf("batch as %s: %s, want %q", name, data, want)
		}
	}
}

func errorCode(body []byte) string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

func TestBatch_Response(t *testing.T) {
	f := newFixture(t, Config{})
	bad := []byte(`{"topic":"USER","event":"user.teleport","timestamp":"2026-11-23T10:00:00Z","event_id":"e-bad"}`)
	resp, data := f.do(t, "POST", "/audit/v1/events", f.device, ndjson(signin(1), bad, signin(2)), "Content-Type", "application/x-ndjson")
	if resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || len(res.Rejected) != 1 || res.Rejected[0].Index != 1 || res.Rejected[0].EventID != "e-bad" {
		t.Errorf("%s", data)
	}
	// verified_submitter comes from the credential.
	for _, r := range f.log.recs {
		if !bytes.Contains(r.Value, fmt.Appendf(nil, `"verified_submitter":{"user_id":"alice@example.com","device_id":%q}`, f.deviceID)) {
			t.Errorf("record without the credential's submitter: %s", r.Value)
		}
	}
	// rejected is always present.
	resp, data = f.do(t, "POST", "/audit/v1/events", f.device, ndjson(signin(3)))
	if resp.StatusCode != 202 || !bytes.Contains(data, []byte(`"rejected":[]`)) {
		t.Errorf("%d %s", resp.StatusCode, data)
	}
}

func TestBatch_ArrayAndGzip(t *testing.T) {
	f := newFixture(t, Config{})
	arr := []byte("[" + string(signin(1)) + "," + string(signin(2)) + "]")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(arr)
	zw.Close()
	resp, data := f.do(t, "POST", "/audit/v1/events", f.device, gz.Bytes(), "Content-Encoding", "gzip", "Content-Type", "application/json")
	if resp.StatusCode != 202 || !bytes.Contains(data, []byte(`"accepted":2`)) {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	// An encoding ingest cannot read is 415, not a malformed body.
	if resp, data := f.do(t, "POST", "/audit/v1/events", f.device, arr, "Content-Encoding", "br"); resp.StatusCode != 415 {
		t.Errorf("Content-Encoding br: %d %s", resp.StatusCode, data)
	}
	// The same again: duplicates.
	resp, data = f.do(t, "POST", "/audit/v1/events", f.device, arr)
	if resp.StatusCode != 202 || !bytes.Contains(data, []byte(`"accepted":0,"duplicates":2`)) {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
}

func TestBatch_Limits(t *testing.T) {
	f := newFixture(t, Config{MaxEvents: 2, MaxBodyBytes: 4096})
	tests := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"too many events", ndjson(signin(1), signin(2), signin(3)), 413, CodeTooManyEvents},
		{"body too large", bytes.Repeat([]byte(" "), 5000), 413, CodeBodyTooLarge},
		{"not events", []byte("hello world"), 400, CodeMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, data := f.do(t, "POST", "/audit/v1/events", f.device, tt.body)
			if resp.StatusCode != tt.status || !bytes.Contains(data, []byte(`"code":"`+tt.code+`"`)) {
				t.Errorf("%d %s; want %d %s", resp.StatusCode, data, tt.status, tt.code)
			}
		})
	}
	// Every refused body is quarantined whole, the body that was not
	// events as it came, the one over the limit cut at it.
	entries, _ := f.q.List(context.Background(), ListOptions{})
	if len(entries) != 3 || entries[2].Raw != "hello world" || entries[2].Submitter.DeviceID != f.deviceID {
		t.Fatalf("quarantine: %+v", entries)
	}
	for i, e := range entries {
		if !e.WholeBody || e.Reason == "" {
			t.Errorf("entry %d: %+v", i, e)
		}
	}
	if len(entries[1].Raw) != 4096 || !entries[1].Truncated {
		t.Errorf("the body over the limit: %d bytes kept, truncated %v", len(entries[1].Raw), entries[1].Truncated)
	}
}

func TestBatch_LogFullIs503(t *testing.T) {
	f := newFixture(t, Config{})
	f.log.err = fmt.Errorf("segment: %w", eventlog.ErrFull)
	resp, data := f.do(t, "POST", "/audit/v1/events", f.device, signin(1))
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || !bytes.Contains(data, []byte("log_full")) {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
}

func TestBatch_RateLimit(t *testing.T) {
	f := newFixture(t, Config{MaxEvents: 3, DeviceRate: 0.001, DeviceBurst: 3})
	if resp, data := f.do(t, "POST", "/audit/v1/events", f.device, ndjson(signin(1), signin(2), signin(3))); resp.StatusCode != 202 {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	resp, data := f.do(t, "POST", "/audit/v1/events", f.device, signin(4))
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), data)
	}
}

func TestSingle_OriginalStatuses(t *testing.T) {
	f := newFixture(t, Config{})
	if resp, data := f.do(t, "POST", "/audit/event", f.device, signin(1)); resp.StatusCode != 200 {
		t.Errorf("valid event: %d %s", resp.StatusCode, data)
	}
	missing := []byte(`{"topic":"USER","event":"user.signin","user":"a@example.com","authority":"LDAP"}`)
	if resp, data := f.do(t, "POST", "/event", f.device, missing); resp.StatusCode != 400 || !bytes.Contains(data, []byte("timestamp")) {
		t.Errorf("event without timestamp: %d %s", resp.StatusCode, data)
	}
	if resp, data := f.do(t, "POST", "/event", f.device, []byte(`[1,2]`)); resp.StatusCode != 400 {
		t.Errorf("not an object: %d %s", resp.StatusCode, data)
	}
}

func TestQuarantine_ListAndReplay(t *testing.T) {
	f := newFixture(t, Config{})
	bad := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"x@example.com","authority":"Kerberos"}`)
	f.do(t, "POST", "/audit/v1/events", f.device, bad)
	resp, data := f.do(t, "GET", "/audit/v1/quarantine?limit=10", f.admin, nil)
	var list struct{ Events []Quarantined }
	if resp.StatusCode != 200 || json.Unmarshal(data, &list) != nil || len(list.Events) != 1 || !strings.Contains(list.Events[0].Reason, "authority") {
		t.Fatalf("%d %s", resp.StatusCode, data)
	}
	resp, data = f.do(t, "POST", "/audit/v1/quarantine/replay", f.admin, []byte(`{"ids":[`+fmt.Sprint(list.Events[0].ID)+`]}`))
	if resp.StatusCode != 200 || !bytes.Contains(data, []byte(`"replayed":0,"rejected":1`)) {
		t.Errorf("%d %s", resp.StatusCode, data)
	}
	// The replay itself is audited.
	if last := f.log.recs[len(f.log.recs)-1]; !bytes.Contains(last.Value, []byte(`"event":"audit.quarantine.replay"`)) || !bytes.Contains(last.Value, []byte(`:token:ops`)) {
		t.Errorf("last record %s", last.Value)
	}
	if resp, _ := f.do(t, "GET", "/audit/v1/quarantine?limit=0", f.admin, nil); resp.StatusCode != 400 {
		t.Errorf("limit=0: %d", resp.StatusCode)
	}
}
