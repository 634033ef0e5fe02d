package chstore

import (
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
)

// TestTemplate_RoundTrip: Rest comes back byte for byte from its template,
// whatever its strings hold, for every catalog event and for values that
// look like placeholders, need escapes or differ from the users list only
// in case.
func TestTemplate_RoundTrip(t *testing.T) {
	evs := storetest.Samples(t)
	meta := schema.Meta{Submitter: schema.Submitter{UserID: "Mixed@Example.com", DeviceID: storetest.Hex("d")}, ReceivedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	for _, fields := range []map[string]any{
		{"topic": "USER", "event": "user.signin", "user": "u0@example.com", "authority": "LDAP", "x_u": "U0", "x_note": "D1 T0 \"U2\"", "x_n": 1e21},
		{"topic": "USER", "event": "user.signin", "user": "ab@example.com", "x_q": "a\"b\\\\c@example.com", "authority": "LDAP"},
		{"topic": "USER", "event": "user.signin", "user": "Mixed@Example.com", "authority": "LDAP", "x_same": "mixed@example.com"},
		{"topic": "SHARING", "event": "folder.invite", "folder": map[string]any{"id": storetest.Hex("f"), "name": "F"}, "target": "t@example.com",
			"role": []string{"WRITE"}, "caller": map[string]any{"email": "Mixed@Example.com", "device": storetest.Hex("d")},
			"x_deep": map[string]any{"a": map[string]any{"b": "t@example.com"}}, "x_time": "2025-01-02T03:04:05.678Z"},
		{"topic": "USER", "event": "user.signin", "user": "x@example.com", "x_odd": "é\u2028<>&", "authority": "LDAP"},
	} {
		fields["timestamp"] = "2025-01-02T03:04:05.000Z"
		evs = append(evs, storetest.Build(t, fields, meta))
	}
	coded := 0
	for _, e := range evs {
		r, err := query.RowOf(e)
		if err != nil {
			t.Fatal(err)
		}
		var times []int64
		tmpl, err := template(r, &times)
		if err != nil {
			t.Fatalf("%s: %v", e.Wire(), err)
		}
		if len(tmpl) < len(r.Rest) {
			coded++
		}
		got, err := untemplate(tmpl, r.Users, r.Devices, times, r.Time)
		if err != nil || got != r.Rest {
			t.Errorf("%s:\n template %s\n gives %s (%v)\n  want %s", e.Name(), tmpl, got, err, r.Rest)
		}
	}
	if coded < len(evs)/2 {
		t.Errorf("only %d of %d templates are shorter than Rest", coded, len(evs))
	}
}
