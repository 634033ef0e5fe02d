package main

import (
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/schema"
)

// TestTableLine_ShowsTheActor: the WHO column is the user the event is
// about or who acted, never the submitting device's owner, who has a
// column of its own.
func TestTableLine_ShowsTheActor(t *testing.T) {
	sub := `"verified_submitter":{"user_id":"alice@example.com","device_id":"` + strings.Repeat("d", 32) + `"}`
	tests := []struct {
		wire      string
		who, subm string
	}{
		{`{"topic":"USER","event":"user.signin","timestamp":"t",` + sub + `,"user":"bob@example.com","authority":"LDAP"}`, "bob@example.com", "alice@example.com"},
		{`{"topic":"USER","event":"user.org.remove","timestamp":"t","admin_user":"root@example.com","target_user":"bob@example.com"}`, "root@example.com", "-"},
		{`{"topic":"USER","event":"user.create","timestamp":"t","email":"new@example.com","caller":{"email":"admin@example.com"}}`, "admin@example.com", "-"},
		{`{"topic":"SHARING","event":"folder.invite","timestamp":"t","sharer":"carol@example.com","target":"dan@example.com"}`, "carol@example.com", "-"},
		{`{"topic":"FILE","event":"file.transfer","timestamp":"t",` + sub + `,"path":{"sid":"x","relative_path":"a/b"}}`, "alice@example.com", "alice@example.com"},
	}
	for _, tt := range tests {
		cols := strings.Split(tableLine([]byte(tt.wire)), "\t")
		if len(cols) != 6 || cols[3] != tt.who || cols[5] != tt.subm {
			t.Errorf("%s: columns %q, want WHO %q and SUBMITTER %q", tt.wire, cols, tt.who, tt.subm)
		}
	}
}

// TestActor_EveryEvent: every event of the catalog but those that name
// nobody (anonymous link use and its wrong passwords, a refused OAuth client, the log's and the sinks' own alerts) has an actor, and its
// path starts with a field of the event.
func TestActor_EveryEvent(t *testing.T) {
	var none []string
	for _, s := range schema.Catalog() {
		path := s.Actor()
		if path == nil {
			none = append(none, s.Name)
			continue
		}
		if s.Field(path[0]) < 0 {
			t.Errorf("%s: actor %v is not a field", s.Name, path)
		}
	}
	if want := []string{"link.access", "link.download", "audit.oauth.token.error", "audit.link.password.error", "alert.log.skipped", "alert.log.corrupt", "alert.sink.oversize"}; strings.Join(none, " ") != strings.Join(want, " ") {
		t.Errorf("events without an actor: %v, want %v", none, want)
	}
}
