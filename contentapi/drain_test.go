package contentapi

import (
	"strings"
	"sync"

	"context"
	"github.com/google/go-cmp/cmp"
	"io"
	"testing"

	"encoding/json"
	"github.com/vigilaudit/vigil/contentapi/password"
	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"net/http"
	"net/http/httptest"

	"github.com/go-chi/chi/v5"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

// drainAfter is the test servers' middleware: it answers the request,
// then drains store's outbox, recording each event as emitted by the
// request's route (for the audit trail's check) and handing it to keep,
// all before the client sees the answer, so that a test finds a
// request's events once it has the answer.
func drainAfter(store *auth.Store, keep func(*schema.Event) error) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r)
			route := r.Method + " " + chi.RouteContext(r.Context()).RoutePattern()
			_, err := store.DrainOutbox(r.Context(), func(ev *schema.Event) error {
				recordEmitted(route, ev.Name())
				return keep(ev)
			})
			if err != nil {
				http.Error(w, "drain: "+err.Error(), http.StatusInternalServerError)
				return
			}
			for k, vs := range rec.Header() {
				w.Header()[k] = vs
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
		})
	}
}

// eventOf is ev as the tests compare it: its wire form without the
// random event_id and the timestamp.
func eventOf(ev *schema.Event) (event, error) {
	var m event
	if err := json.Unmarshal(ev.Wire(), &m); err != nil {
		return nil, err
	}
	delete(m, "timestamp")
	delete(m, "event_id")
	return m, nil
}

// withoutOutbox serves the content API of cfg on a store whose outbox is
// gone, and returns the server, the store and an administrator's token
// taken before it went: every action that must write its event there
// fails. prepare (nil for none) sets the store up first; cfg's Accounts,
// Passwords and Logger are set here.
func withoutOutbox(t *testing.T, b metadbtest.Backend, cfg Config, prepare func(*auth.Store)) (*httptest.Server, *auth.Store, string) {
	t.Helper()
	ctx := context.Background()
	db := b.New(t).Open(t)
	store, err := auth.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	h := password.New(cheapCost)
	if _, err := store.CreateUser(ctx, auth.Actor{Email: auth.LocalCaller}, auth.NewUser{Email: adminEmail, Level: auth.LevelAdmin, PasswordHash: h.Hash(adminPW)}); err != nil {
		t.Fatal(err)
	}
	if prepare != nil {
		prepare(store)
	}
	cfg.Accounts, cfg.Passwords, cfg.Logger = store, h, testLogger(io.Discard)
	srv := serve(t, New(cfg).Routes())
	resp := call(t, srv, "POST", "/auth", `{"username":"admin@example.com","password":"`+adminPW+`"}`)
	var tr TokenResponse
	if err := json.Unmarshal([]byte(resp.body), &tr); err != nil {
		t.Fatal(err, resp.body)
	}
	if _, err := db.ExecContext(ctx, `DROP TABLE outbox`); err != nil {
		t.Fatal(err)
	}
	return srv, store, tr.Token
}

// keptEvents holds the events a test server's requests emitted (its
// keep is drainAfter's), for the test to take in turn.
type keptEvents struct {
	mu  sync.Mutex
	got []event
}

// keep takes one of a request's events.
func (k *keptEvents) keep(ev *schema.Event) error {
	m, err := eventOf(ev)
	if err != nil {
		return err
	}
	k.mu.Lock()
	k.got = append(k.got, m)
	k.mu.Unlock()
	return nil
}

// take returns the events kept since the last take.
func (k *keptEvents) take() []event {
	k.mu.Lock()
	defer k.mu.Unlock()
	got := k.got
	k.got = nil
	return got
}

// expect checks that the events kept since the last take are want, and
// that none holds one of secrets.
func (k *keptEvents) expect(t *testing.T, what string, secrets []string, want ...event) {
	t.Helper()
	got := k.take()
	if len(want) == 0 {
		want = nil
	}
	all, _ := json.Marshal(got)
	for _, s := range secrets {
		if s != "" && strings.Contains(string(all), s) {
			t.Errorf("%s: an event holds a secret", what)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: events (-want +got):\n%s", what, diff)
	}
}
