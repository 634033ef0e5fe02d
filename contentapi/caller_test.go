package contentapi

import (
	"encoding/json"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/schema"
)

func TestCallerOf(t *testing.T) {
	p := Principal{Email: "a@x.com", Device: appDevice, ActingAs: ":2", Scopes: scopes(t, "user.read")}
	if got, want := CallerOf(p), (Caller{Email: "a@x.com", Device: appDevice}); got != want {
		t.Errorf("without organization.admin: %+v, want %+v (no acting_as)", got, want)
	}
	p.Scopes = scopes(t, "organization.admin")
	if got := CallerOf(p); got.ActingAs != ":2" {
		t.Errorf("with organization.admin: %+v, want acting_as :2", got)
	}
}

func TestClientIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "[2001:db8::1]:4431"
	r.Header.Set("X-Forwarded-For", "10.0.0.1")
	if got := ClientIP(r); got != "2001:db8::1" {
		t.Errorf("ClientIP = %q, want the peer's address, not the header's", got)
	}
}

// TestNewEvent fills every caller field and ip that the fields leave
// unset, under whatever name the catalog gives it.
func TestNewEvent(t *testing.T) {
	c := Caller{Email: "admin@x.com", Device: appDevice, ActingAs: ":2"}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		event  string
		fields schema.Fields
		want   map[string]any
	}{
		{"user.delete", schema.Fields{"email": "b@x.com"}, map[string]any{"email": "b@x.com",
			"delete": map[string]any{"email": "admin@x.com", "device": appDevice, "acting_as": ":2"}}},
		{"link.delete", schema.Fields{"key": "abcd"}, map[string]any{"ip": "192.0.2.7", "key": "abcd",
			"caller": map[string]any{"email": "admin@x.com", "device": appDevice, "acting_as": ":2"}}},
		{"link.delete", schema.Fields{"key": "abcd", "ip": "192.0.2.8", "caller": "c@x.com"}, map[string]any{"ip": "192.0.2.8", "key": "abcd",
			"caller": map[string]any{"email": "c@x.com"}}},
	}
	for _, tt := range tests {
		e, err := newEvent(tt.event, at, tt.fields, c, "192.0.2.7")
		if err != nil {
			t.Fatalf("%s: %v", tt.event, err)
		}
		var got map[string]any
		if err := json.Unmarshal(e.Wire(), &got); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"topic", "event", "timestamp", "event_id"} {
			delete(got, k)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.event, diff)
		}
	}
	if _, err := newEvent("user.nope", at, nil, c, ""); err == nil {
		t.Error("an event not in the catalog was built")
	}
}
