package ingest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/vigilaudit/vigil/internal/auth"
)

// TestDevice_RemovedCredentialStopsAtOnce checks, through the real ingest
// handler, that a device certified through the content API uploads with
// its credential, and that once unlinked or erased the credential is
// refused on the next upload, saying why.
func TestDevice_RemovedCredentialStopsAtOnce(t *testing.T) {
	for _, how := range []auth.Removal{auth.RemovalUnlinked, auth.RemovalErased} {
		t.Run(string(how), func(t *testing.T) {
			f := newFixture(t, Config{})
			ctx := context.Background()
			owner := auth.Actor{Email: "carol@example.com", IP: "203.0.113.7"}
			d, cred, err := f.store.CertifyDevice(ctx, owner, auth.NewDevice{Owner: owner.Email, Name: "desk", OSFamily: "Linux"})
			if err != nil {
				t.Fatal(err)
			}
			if resp, data := f.do(t, "POST", "/audit/v1/events", cred, signin(1)); resp.StatusCode != 202 {
				t.Fatalf("upload with the certified credential: %d %s", resp.StatusCode, data)
			}
			if _, err := f.store.RemoveDevice(ctx, owner, d.ID, how); err != nil {
				t.Fatal(err)
			}
			for _, path := range []string{"/audit/v1/events", "/event"} {
				resp, data := f.do(t, "POST", path, cred, signin(2))
				var e struct {
					Error struct{ Code, Message string } `json:"error"`
				}
				if err := json.Unmarshal(data, &e); err != nil {
					t.Fatalf("%s: %d %s", path, resp.StatusCode, data)
				}
				if resp.StatusCode != 403 || e.Error.Code != "revoked" || e.Error.Message != "device "+string(how) {
					t.Errorf("%s after %s: %d %s, want 403 revoked %q", path, how, resp.StatusCode, data, "device "+string(how))
				}
			}
			if n := len(f.log.ids()); n != 1 {
				t.Errorf("log holds %d events, want only the one uploaded before the removal", n)
			}
		})
	}
}
