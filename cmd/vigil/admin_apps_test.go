package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

// TestAdminApp walks through the app commands in both modes, checking
// each command's event.
func TestAdminApp(t *testing.T) {
	f := newAdminFixture(t)
	events := func() []string {
		t.Helper()
		var out []string
		if _, err := f.store.DrainOutbox(context.Background(), func(e *schema.Event) error {
			var m map[string]any
			if err := json.Unmarshal(e.Wire(), &m); err != nil {
				return err
			}
			delete(m, "timestamp")
			delete(m, "event_id")
			b, _ := json.Marshal(m)
			out = append(out, string(b))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, m := range f.modes() {
		t.Run(m.name, func(t *testing.T) {
			out, _ := m.run(t, "app", "add", "--name", "My First App", "--redirect-uri", "http://blackhole", "--format", "json")
			var added auth.AddedApp
			if err := json.Unmarshal([]byte(out), &added); err != nil || len(added.ClientID) != 36 || len(added.ClientSecret) != 32 ||
				added.Name != "My First App" || added.RedirectURI != "http://blackhole" || added.Public {
				t.Fatalf("app add printed %s", out)
			}
			want := []string{`{"caller":` + m.caller + `,"client_id":"` + added.ClientID + `","event":"audit.app.add","name":"My First App","public":false,"redirect_uri":"http://blackhole","topic":"AUDIT"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("app add events (-want +got):\n%s", diff)
			}
			if _, hash, err := f.store.App(context.Background(), added.ClientID); err != nil || hash != auth.AppSecretHash(added.ClientSecret) {
				t.Errorf("stored app: %q %v", hash, err)
			}
			out, _ = m.run(t, "app", "add", "--name", "cli", "--redirect-uri", "http://127.0.0.1:8765/cb", "--public")
			if !strings.HasPrefix(out, "client_id: ") || strings.Contains(out, "client_secret") {
				t.Errorf("public app add printed %q", out)
			}
			events()
			if code, _, stderr := runCmd(t, append(append([]string(nil), m.args...), "app", "add", "--name", "x", "--redirect-uri", "not a uri")...); code == 0 ||
				!strings.Contains(stderr, "redirect_uri") {
				t.Errorf("app add with a bad URI: %d %s", code, stderr)
			}

			out, _ = m.run(t, "app", "list")
			if row := findLine(strings.Split(out, "\n"), added.ClientID); !strings.HasPrefix(out, "CLIENT ID") || !strings.Contains(row, "http://blackhole") ||
				strings.Contains(out, added.ClientSecret) {
				t.Errorf("app list:\n%s", out)
			}
			out, _ = m.run(t, "app", "list", "--format", "json")
			var listed struct{ Apps []auth.App }
			if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Apps) < 2 {
				t.Errorf("app list --format json: %v %s", err, out)
			}

			_, msg := m.run(t, "app", "remove", strings.ToUpper(added.ClientID))
			if !strings.Contains(msg, "Removed app "+added.ClientID) {
				t.Errorf("remove said %q", msg)
			}
			want = []string{`{"caller":` + m.caller + `,"client_id":"` + added.ClientID + `","event":"audit.app.remove","name":"My First App","topic":"AUDIT"}`}
			if diff := cmp.Diff(want, events()); diff != "" {
				t.Errorf("remove events (-want +got):\n%s", diff)
			}
			if code, _, stderr := runCmd(t, append(append([]string(nil), m.args...), "app", "remove", added.ClientID)...); code == 0 || !strings.Contains(stderr, "not found") {
				t.Errorf("remove twice: %d %s", code, stderr)
			}
		})
	}
}
