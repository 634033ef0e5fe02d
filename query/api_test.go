package query_test

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
)

type apiFixture struct {
	srv                    *httptest.Server
	store                  *duckstore.Store
	admin, auditor, device string
	mu                     sync.Mutex
	audited                []string
}

func (f *apiFixture) auditLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.audited...)
}

func newAPIFixture(t *testing.T) *apiFixture {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	creds, err := auth.Open(filepath.Join(dir, "auth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { creds.Close() })
	store, err := duckstore.Open("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &apiFixture{store: store}
	_, f.admin, _ = creds.AddToken(ctx, auth.LocalCaller, auth.RoleAdmin, "ops")
	_, f.auditor, _ = creds.AddToken(ctx, auth.LocalCaller, auth.RoleAuditor, "soc")
	_, f.device, _ = creds.AddDevice(ctx, auth.LocalCaller, "alice@example.com", "laptop")
	api := query.NewAPI(store, func(_ context.Context, events ...*schema.Event) error {
		for _, e := range events {
			event := e.Wire()
			if _, err := schema.Normalize(event, schema.Meta{}); err != nil {
				t.Errorf("audit event is not valid: %v: %s", err, event)
			}
			f.mu.Lock()
			f.audited = append(f.audited, string(event))
			f.mu.Unlock()
		}
		return nil
	}, nil)
	api.Poll = 20 * time.Millisecond
	r := chi.NewRouter()
	httpapi.Mount(r, api.Routes(), func(httpapi.Access) []func(http.Handler) http.Handler {
		return []func(http.Handler) http.Handler{auth.Middleware(creds), auth.RequireRole(auth.RoleAdmin, auth.RoleAuditor)}
	})
	f.srv = httptest.NewServer(r)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *apiFixture) get(t *testing.T, path, token string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
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
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// signins writes n user.signin events, one a minute from base.
func signins(t *testing.T, s query.Writer, base time.Time, n int) []*schema.Event {
	t.Helper()
	var evs []*schema.Event
	for i := range n {
		evs = append(evs, storetest.Build(t, map[string]any{
			"topic": "USER", "event": "user.signin", "timestamp": base.Add(time.Duration(i) * time.Minute).Format(time.RFC3339),
			"user": "alice@example.com", "authority": "LDAP", "note": "a,\"quoted\"\nline",
		}, schema.Meta{}))
	}
	if err := s.Write(context.Background(), evs); err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestAPI_RoutesByCredential(t *testing.T) {
	f := newAPIFixture(t)
	want := map[string]int{"none": 401, "bad": 401, "device": 403, "auditor": 200, "admin": 200}
	tokens := map[string]string{"none": "", "bad": strings.Repeat("1", 64), "device": f.device, "auditor": f.auditor, "admin": f.admin}
	for _, route := range []string{"/audit/v1/events", "/audit/v1/stats"} {
		for who, tok := range tokens {
			resp, body := f.get(t, route, tok)
			if resp.StatusCode != want[who] {
				t.Errorf("GET %s as %s: %d %s, want %d", route, who, resp.StatusCode, body, want[who])
			}
		}
	}
	// The stream too (it answers 200 and then streams: check the status
	// only, with a short deadline).
	for who, tok := range tokens {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/audit/v1/events/stream", nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			if resp.StatusCode != want[who] {
				t.Errorf("stream as %s: %d, want %d", who, resp.StatusCode, want[who])
			}
			resp.Body.Close()
		}
		cancel()
	}
	if n := len(f.auditLog()); n < 4 {
		t.Errorf("%d queries audited, want every allowed one", n)
	}
	for _, e := range f.auditLog() {
		if !strings.Contains(e, `"event":"audit.query"`) || !(strings.Contains(e, `:token:ops`) || strings.Contains(e, `:token:soc`)) {
			t.Errorf("audit event %s", e)
		}
	}
}

func TestAPI_SearchPagesAndFormats(t *testing.T) {
	f := newAPIFixture(t)
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	evs := signins(t, f.store, base, 25)

	// JSON pages of 10 with a cursor, oldest first.
	var got []string
	path := "/audit/v1/events?order=asc&limit=10&user=ALICE@example.com"
	for range 5 {
		resp, body := f.get(t, path, f.auditor)
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor *string           `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Events {
			got = append(got, string(e))
		}
		if page.NextCursor == nil {
			break
		}
		path = "/audit/v1/events?order=asc&limit=10&user=ALICE@example.com&cursor=" + *page.NextCursor
	}
	if len(got) != 25 {
		t.Fatalf("%d events over the pages, want 25", len(got))
	}
	for i, e := range evs {
		if got[i] != string(e.Wire()) {
			t.Fatalf("event %d: %s, want %s", i, got[i], e.Wire())
		}
	}

	// NDJSON streams every match without a limit.
	resp, body := f.get(t, "/audit/v1/events", f.admin, "Accept", "application/x-ndjson")
	if lines := strings.Count(body, "\n"); resp.Header.Get("Content-Type") != "application/x-ndjson" || lines != 25 {
		t.Errorf("ndjson: %s, %d lines", resp.Header.Get("Content-Type"), lines)
	}
	// CSV quotes what needs quoting.
	_, body = f.get(t, "/audit/v1/events?format=csv&limit=3", f.admin)
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 4 || recs[0][0] != "timestamp" || recs[1][2] != "user.signin" || !strings.Contains(recs[1][8], `\"quoted\"\nline`) {
		t.Errorf("csv: %v %q", err, recs)
	}
	// A bad parameter is named.
	if resp, body := f.get(t, "/audit/v1/events?limit=5000", f.admin); resp.StatusCode != 400 || !strings.Contains(body, "limit") {
		t.Errorf("bad limit: %d %s", resp.StatusCode, body)
	}
	if resp, body := f.get(t, "/audit/v1/events?cursor=nonsense", f.admin); resp.StatusCode != 400 || !strings.Contains(body, "cursor") {
		t.Errorf("bad cursor: %d %s", resp.StatusCode, body)
	}
}

func TestAPI_Stats(t *testing.T) {
	f := newAPIFixture(t)
	signins(t, f.store, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), 90)
	resp, body := f.get(t, "/audit/v1/stats?bucket=1h&by=user&top=3", f.auditor)
	var st query.Stats
	if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if st.Total != 90 || len(st.Buckets) != 2 || st.Buckets[0].Count+st.Buckets[1].Count != 90 || len(st.Top) != 1 || st.Top[0].Value != "alice@example.com" {
		t.Errorf("stats %+v", st)
	}
}

func TestAPI_StreamTailsAndResumes(t *testing.T) {
	f := newAPIFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/audit/v1/events/stream?event=user.signin", nil)
	req.Header.Set("Authorization", "Bearer "+f.auditor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("content type %s", resp.Header.Get("Content-Type"))
	}
	evs := signins(t, f.store, time.Now().UTC().Truncate(time.Millisecond), 3)
	sc := bufio.NewScanner(resp.Body)
	var data []string
	var lastID string
	for len(data) < 3 && sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, v)
		}
		if v, ok := strings.CutPrefix(line, "id: "); ok {
			lastID = v
		}
	}
	if len(data) != 3 || data[0] != string(evs[0].Wire()) || lastID == "" {
		t.Fatalf("tail got %d events (id %q): %v", len(data), lastID, data)
	}
	cancel()

	// Reconnecting with Last-Event-ID gets only what came after.
	more := signins(t, f.store, time.Now().UTC().Add(time.Hour).Truncate(time.Millisecond), 1)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	req, _ = http.NewRequestWithContext(ctx2, "GET", f.srv.URL+"/audit/v1/events/stream?event=user.signin", nil)
	req.Header.Set("Authorization", "Bearer "+f.auditor)
	req.Header.Set("Last-Event-ID", lastID)
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	sc = bufio.NewScanner(resp2.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
			if v != string(more[0].Wire()) {
				t.Errorf("resumed with %s, want the event after the last one seen", v)
			}
			break
		}
	}
}

// TestAPI_RelativeTimesPageAndResume: a search with since=30d pages
// through with its cursors although "30d" resolves to a later time on
// every request, and each page continues exactly where the last ended.
func TestAPI_RelativeTimesPageAndResume(t *testing.T) {
	f := newAPIFixture(t)
	evs := signins(t, f.store, time.Now().UTC().Add(-2*time.Hour).Truncate(time.Second), 7)
	var got []string
	path := "/audit/v1/events?since=30d&limit=3&order=asc&event=user.signin"
	for range 5 {
		resp, body := f.get(t, path, f.auditor)
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"next_cursor"`
		}
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &page) != nil {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
		}
		for _, e := range page.Events {
			got = append(got, string(e))
		}
		if page.NextCursor == "" {
			break
		}
		time.Sleep(3 * time.Millisecond) // "30d ago" moves on
		path = "/audit/v1/events?since=30d&limit=3&order=asc&event=user.signin&cursor=" + url.QueryEscape(page.NextCursor)
	}
	var want []string
	for _, e := range evs {
		want = append(want, string(e.Wire()))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pages (-want +got):\n%s", diff)
	}

	// The same cursor does not continue another search.
	resp, body := f.get(t, "/audit/v1/events?since=7d&limit=3&order=asc&event=user.signin&cursor="+url.QueryEscape(firstCursor(t, f)), f.auditor)
	if resp.StatusCode != 400 || !strings.Contains(body, "cursor") {
		t.Errorf("cursor of another window: %d %s", resp.StatusCode, body)
	}

	// A live stream with since=2h resumed with Last-Event-ID continues.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream := func(lastID string, n int) ([]string, string) {
		req, _ := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/audit/v1/events/stream?since=3h&event=user.signin", nil)
		req.Header.Set("Authorization", "Bearer "+f.auditor)
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var data []string
		var id string
		for len(data) < n && sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				if strings.HasPrefix(v, "invalid") || !strings.HasPrefix(v, "{") {
					t.Fatalf("stream answered %q", v)
				}
				data = append(data, v)
			}
			if v, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
				id = v
			}
		}
		return data, id
	}
	first, id := stream("", len(want)) // one batch: its last event carries the id
	if id == "" {
		t.Fatal("the stream sent no id")
	}
	time.Sleep(3 * time.Millisecond)
	for _, e := range signins(t, f.store, time.Now().UTC().Add(-30*time.Minute).Truncate(time.Second), 2) {
		want = append(want, string(e.Wire()))
	}
	rest, _ := stream(id, 2)
	if diff := cmp.Diff(want, append(first, rest...)); diff != "" {
		t.Errorf("stream resumed (-want +got):\n%s", diff)
	}
}

// firstCursor returns the next_cursor of the first page of since=30d.
func firstCursor(t *testing.T, f *apiFixture) string {
	t.Helper()
	_, body := f.get(t, "/audit/v1/events?since=30d&limit=3&order=asc&event=user.signin", f.auditor)
	var page struct {
		NextCursor string `json:"next_cursor"`
	}
	if err := json.Unmarshal([]byte(body), &page); err != nil || page.NextCursor == "" {
		t.Fatalf("first page: %v %s", err, body)
	}
	return page.NextCursor
}

// TestAPI_UnknownParameter: a misspelled filter is refused, never read as
// "no filter", on every read route and format.
func TestAPI_UnknownParameter(t *testing.T) {
	f := newAPIFixture(t)
	signins(t, f.store, time.Now().UTC().Add(-time.Hour), 3)
	for _, path := range []string{
		"/audit/v1/events?usr=bob",
		"/audit/v1/events?usr=bob&format=ndjson",
		"/audit/v1/events?usr=bob&format=csv",
		"/audit/v1/stats?usr=bob",
		"/audit/v1/events/stream?usr=bob",
	} {
		resp, body := f.get(t, path, f.auditor)
		want := `{"error":{"code":"unknown_parameter","message":"unknown parameter \"usr\" (did you mean \"user\"?)"}}`
		if resp.StatusCode != 400 || strings.TrimSpace(body) != want {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}
