package schema

import (
	"testing"
)

// TestCatalog_Shape checks the counts the issue and EVENT-NAMES fix, and
// the invariants the normalizer relies on.
func TestCatalog_Shape(t *testing.T) {
	byTopic := map[Topic]int{}
	byOrigin := map[Origin]int{}
	seen := map[string]bool{}
	for _, s := range Catalog() {
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		byOrigin[s.Origin]++
		if s.Origin == Documented {
			byTopic[s.Topic]++
		}
		if len(s.Fields) == 0 || len(s.Fields) > maxFields {
			t.Errorf("%s has %d fields; want 1 to %d", s.Name, len(s.Fields), maxFields)
		}
		names := map[string]bool{}
		for _, f := range s.Fields {
			if names[f.Name] {
				t.Errorf("%s: field %s twice", s.Name, f.Name)
			}
			names[f.Name] = true
			switch f.Name {
			case "topic", "event", "timestamp", "event_id", "received_at":
				t.Errorf("%s: field %s clashes with the envelope", s.Name, f.Name)
			}
			if f.Type == TypeSubmitter && f.Name != "verified_submitter" {
				t.Errorf("%s: submitter field named %s", s.Name, f.Name)
			}
		}
		if s.Doc == "" {
			t.Errorf("%s has no description", s.Name)
		}
	}
	want := map[Topic]int{TopicFile: 2, TopicUser: 21, TopicSharing: 8, TopicDevice: 8, TopicLink: 8, TopicOrg: 1}
	for topic, n := range want {
		if byTopic[topic] != n {
			t.Errorf("documented %s events: %d, want %d", topic, byTopic[topic], n)
		}
	}
	if byOrigin[Documented] != 48 || byOrigin[Original] != 4 {
		t.Errorf("origins: %v; want 48 documented and 4 original", byOrigin)
	}
	for _, s := range Catalog() {
		ext := s.Topic == TopicAudit || s.Topic == TopicAlert
		if ext != (s.Origin == Extension) {
			t.Errorf("%s: topic %s, origin %s; extension topics hold exactly the extension events", s.Name, s.Topic, s.Origin)
		}
	}
	for _, name := range []string{
		"device.mobile.error", "user.org.invite", "user.org.signup", "user.org.authorization", "user.org.provision",
		"user.org.accept", "user.org.remove", "device.mobile.code", "device.mobile.authenticate", "link.download",
		"folder.add", "link.update", "link.set_require_login", "user.device.recertify",
	} {
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s missing from the catalog", name)
		}
	}
}

func TestParseTopic(t *testing.T) {
	for in, want := range map[string]Topic{"FILE": TopicFile, "file": TopicFile, "ORGANIZATION": TopicOrg, "Org": TopicOrg, "NOPE": ""} {
		got, ok := ParseTopic(in)
		if got != want || ok != (want != "") {
			t.Errorf("ParseTopic(%q) = %q, %v", in, got, ok)
		}
	}
}

func TestEnumMatch(t *testing.T) {
	tests := []struct {
		e    *enum
		in   string
		want string
	}{
		{enumDeviceType, "desktop client", "Desktop Client"},
		{enumDeviceType, "TEAM_SERVER", "Team Server"},
		{enumDeviceType, "mobileapp", "Mobile App"},
		{enumAuthority, "credential", "Credential"},
		{enumAuthority, "ldap", "LDAP"},
		{enumAuthority, "OPENID", "OpenID"},
		{enumOrgLevel, "#ADMIN#", "ADMIN"},
		{enum2FALevel, "opt_in", "OPT_IN"},
		{enumJoinAs, "External", "external"},
		{enumOperations, "content_completed", "CONTENT_COMPLETED"},
		{enumDeviceType, "toaster", ""},
		{enumDeviceType, "a very long value that does not fit the stack buffer at all", ""},
	}
	for _, tt := range tests {
		i, ok := tt.e.match(tt.in)
		got := ""
		if ok {
			got = tt.e.values[i]
		}
		if got != tt.want {
			t.Errorf("%s.match(%q) = %q, want %q", tt.e.name, tt.in, got, tt.want)
		}
	}
}
