package query_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
)

// roundTrip checks that wire, read back as the store reads it, is rebuilt
// byte for byte from its row.
func roundTrip(t *testing.T, name string, wire []byte) query.Row {
	t.Helper()
	e, err := schema.Normalize(wire, schema.Meta{Trusted: true})
	if err != nil {
		t.Fatalf("%s: normalize %s: %v", name, wire, err)
	}
	if !bytes.Equal(e.Wire(), wire) {
		t.Fatalf("%s: wire is not canonical:\n got %s\nwant %s", name, e.Wire(), wire)
	}
	r, err := query.RowOf(e)
	if err != nil {
		t.Fatalf("%s: RowOf: %v", name, err)
	}
	got, err := r.Wire()
	if err != nil {
		t.Fatalf("%s: Wire: %v", name, err)
	}
	if !bytes.Equal(got, wire) {
		t.Errorf("%s: rebuilt wire differs:\n got %s\nwant %s\n row %+v", name, got, wire, r)
	}
	return r
}

func TestRow_RoundTripGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "schema", "testdata", "golden", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden files: %v (%d)", err, len(files))
	}
	seen := map[string]bool{}
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range ar.Files {
			if !strings.HasSuffix(f.Name, "/want") {
				continue
			}
			r := roundTrip(t, filepath.Base(file)+":"+f.Name, bytes.TrimRight(f.Data, "\n"))
			seen[r.Event] = true
		}
	}
	if len(seen) < 10 {
		t.Errorf("only %d events in the golden files", len(seen))
	}
}

func TestRow_RoundTripCatalog(t *testing.T) {
	samples := storetest.Samples(t)
	if len(samples) != len(schema.Catalog()) {
		t.Fatalf("%d samples for %d catalog entries", len(samples), len(schema.Catalog()))
	}
	for _, e := range samples {
		r := roundTrip(t, e.Name(), e.Wire())
		if len(r.Users) == 0 && e.Name() != "link.access" && e.Name() != "link.download" && e.Name() != "alert.log.skipped" {
			// Every sample has a submitter.
			t.Errorf("%s: no users", e.Name())
		}
	}
}

func TestRow_RoundTripOddValues(t *testing.T) {
	ts := "2024-01-02T03:04:05.006+02:00"
	for _, tc := range []struct {
		name   string
		fields map[string]any
		meta   schema.Meta
	}{
		{"role null", map[string]any{"topic": "SHARING", "event": "folder.add", "timestamp": ts, "folder": map[string]any{"id": storetest.Hex("f")}, "caller": "a@b.c", "target": "t@b.c", "role": nil}, schema.Meta{}},
		{"role viewer", map[string]any{"topic": "SHARING", "event": "folder.add", "timestamp": ts, "folder": map[string]any{"id": storetest.Hex("f"), "name": ""}, "caller": "a@b.c", "target": "t@b.c", "role": []string{}}, schema.Meta{}},
		{"permission update", map[string]any{"topic": "SHARING", "event": "folder.permission.update", "timestamp": ts, "folder": map[string]any{"id": storetest.Hex("f"), "name": "x\"y\\z\u2028"}, "caller": map[string]any{"email": "Boss@B.C"}, "target": "t@b.c", "old_role": "", "new_role": "write,manage"}, schema.Meta{}},
		{"odd path and extras", map[string]any{"topic": "FILE", "event": "file.notification", "timestamp": ts, "soid": strings.Repeat("A", 64), "event_time": 1459372699123, "operations": "move,create", "device": storetest.Hex("d"), "path": map[string]any{"sid": storetest.Hex("s"), "relative_path": "é/\"q\"/\\/\t\x01.txt"}, "path_to": map[string]any{"sid": storetest.Hex("s"), "relative_path": ""}, "zeta": json.Number("-0.5E+400"), "Alpha": "\u2029", "a\"b": []any{}, "émoji": "😀"},
			schema.Meta{Submitter: schema.Submitter{UserID: ":Local", DeviceID: storetest.Hex("x")}, ReceivedAt: time.Date(2030, 1, 1, 0, 0, 0, 1e6, time.UTC)}},
		{"pseudo users", map[string]any{"topic": "AUDIT", "event": "audit.device.revoke", "timestamp": 1459372699123, "caller": ":Local", "device": storetest.Hex("d")}, schema.Meta{}},
		{"user.delete alias", map[string]any{"topic": "USER", "event": "user.delete", "timestamp": ts, "email": "gone@b.c", "caller": map[string]any{"email": "admin@b.c", "acting_as": "ADMIN@b.c"}}, schema.Meta{}},
		{"link expiry", map[string]any{"topic": "LINK", "event": "link.update", "timestamp": ts, "ip": "::ffff:10.0.0.1", "caller": "a@b.c", "key": "k", "expiry": 1704157445006 + 60000}, schema.Meta{}},
	} {
		e, err := schema.Normalize(mustJSON(t, tc.fields), tc.meta)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		roundTrip(t, tc.name, e.Wire())
	}
}

func TestRowOf_Columns(t *testing.T) {
	e := storetest.Build(t, map[string]any{
		"topic": "FILE", "event": "file.transfer", "timestamp": "2024-01-02T03:04:05.006+02:00",
		"soid": map[string]any{"sid": storetest.Hex("s"), "oid": storetest.Hex("o")}, "event_time": "2024-01-02T01:04:05Z",
		"operations": []string{"CONTENT_REQUEST", "META_REQUEST"}, "device": storetest.Hex("d1"),
		"path":             map[string]any{"sid": storetest.Hex("s"), "relative_path": "a/b.txt"},
		"destination_user": "Bob@Example.com", "destination_device": storetest.Hex("d2"), "x": 1,
	}, schema.Meta{Submitter: schema.Submitter{UserID: "alice@example.com", DeviceID: storetest.Hex("d1")}})
	r, err := query.RowOf(e)
	if err != nil {
		t.Fatal(err)
	}
	want := query.Row{
		Time: time.Date(2024, 1, 2, 1, 4, 5, 6e6, time.UTC).UnixMilli(), Topic: "FILE", Event: "file.transfer", EventID: e.ID(),
		SubmitterUser: "alice@example.com", SubmitterDevice: storetest.Hex("d1"),
		Users: []string{"alice@example.com", "bob@example.com"}, Devices: []string{storetest.Hex("d1"), storetest.Hex("d2")},
		SID: storetest.Hex("s"), OID: storetest.Hex("o"), PathSID: storetest.Hex("s"), Path: "a/b.txt",
		Operations: []string{"META_REQUEST", "CONTENT_REQUEST"},
		Rest:       `{"event_time":"2024-01-02T01:04:05.000Z","device":"` + storetest.Hex("d1") + `","destination_device":"` + storetest.Hex("d2") + `","destination_user":"bob@example.com","x":1}`,
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Errorf("row (-want +got):\n%s", diff)
	}
}

func TestRow_WireRejectsBadRows(t *testing.T) {
	for _, r := range []query.Row{
		{Event: "nope", Topic: "FILE", Rest: "{}"},
		{Event: "user.signin", Topic: "FILE", Rest: "{}"},
		{Event: "user.signin", Topic: "USER", Rest: `{"user":`},
		{Event: "user.signin", Topic: "USER", Rest: ``},
	} {
		if _, err := r.Wire(); err == nil {
			t.Errorf("Wire of %+v: no error", r)
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := jsonMarshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
