package alerts

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// TestAPI_ReadsAudited checks that listing alerts and reading one each
// record an audit.query event with the caller, route and filter, and
// that a read that cannot be recorded is refused (503), as the query
// API's reads are.
func TestAPI_ReadsAudited(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, b metadbtest.Backend) {
		s, _ := newStore(t, b)
		e := raised(t, "mass-download", "alice@example.com", t0)
		if err := s.Record(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		var audited []string
		var fail error
		api := NewAPI(s, func(_ context.Context, events ...*schema.Event) error {
			if fail != nil {
				return fail
			}
			for _, ev := range events {
				str := func(f string) string { v, _ := ev.String(f); return v }
				audited = append(audited, strings.Join([]string{ev.Name(), string(ev.Value("caller")), str("route"), str("filter"), str("format")}, " "))
			}
			return nil
		}, nil)
		api.now = func() time.Time { return t0.Add(2 * time.Hour) }
		r := chi.NewRouter()
		httpapi.Mount(r, api.Routes(), func(httpapi.Access) []func(http.Handler) http.Handler {
			return []func(http.Handler) http.Handler{func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					p := auth.Principal{Kind: auth.KindToken, Role: auth.RoleAuditor, Name: "soc"}
					next.ServeHTTP(w, req.WithContext(auth.NewContext(req.Context(), p)))
				})
			}}
		})
		get := func(path string) (int, string) {
			w := httptest.NewRecorder()
			r.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
			body, _ := io.ReadAll(w.Result().Body)
			return w.Code, string(body)
		}
		if code, body := get("/audit/v1/alerts?state=open&rule=mass-download"); code != 200 || !strings.Contains(body, e.ID()) {
			t.Errorf("list: %d %s", code, body)
		}
		if code, body := get("/audit/v1/alerts/" + e.ID()); code != 200 || !strings.Contains(body, e.ID()) {
			t.Errorf("get: %d %s", code, body)
		}
		want := []string{
			"audit.query {\"email\":\":token:soc\"} /audit/v1/alerts state=open&rule=mass-download json",
			"audit.query {\"email\":\":token:soc\"} /audit/v1/alerts/" + e.ID() + "  json",
		}
		if diff := cmp.Diff(want, audited); diff != "" {
			t.Errorf("audit events (-want +got):\n%s", diff)
		}
		fail = errors.New("log unavailable")
		for _, path := range []string{"/audit/v1/alerts", "/audit/v1/alerts/" + e.ID()} {
			if code, body := get(path); code != http.StatusServiceUnavailable || strings.Contains(body, e.ID()) {
				t.Errorf("%s with the log failing: %d %s, want 503 and no alert", path, code, body)
			}
		}
	})
}
