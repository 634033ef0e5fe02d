package chstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

// testConfig returns a configuration for a database of its own, dropped
// when t ends. It skips only when VIGIL_TEST_CLICKHOUSE is unset.
func testConfig(t *testing.T) Config {
	t.Helper()
	addr := os.Getenv("VIGIL_TEST_CLICKHOUSE")
	if addr == "" {
		t.Skip("VIGIL_TEST_CLICKHOUSE is not set")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	cfg := Config{Addr: []string{addr}, Database: "vigil_test_" + hex.EncodeToString(b[:])}
	t.Cleanup(func() {
		conn, err := connect(cfg.withDefaults())
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer conn.Close()
		if err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+quoteIdent(cfg.Database)); err != nil {
			t.Errorf("drop test database: %v", err)
		}
	})
	return cfg
}

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func generate(t *testing.T, seed uint64, n int) []*schema.Event {
	t.Helper()
	evs, err := sample.Generate(seed, n, 40, time.Date(2025, 1, 20, 0, 0, 0, 0, time.UTC), 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

// sorted returns the events' wire forms in order by (time, event_id).
func sorted(evs []*schema.Event, o query.Order) [][]byte {
	evs = slices.Clone(evs)
	slices.SortFunc(evs, func(a, b *schema.Event) int {
		if c := a.Timestamp().Compare(b.Timestamp()); c != 0 {
			return c
		}
		return strings.Compare(a.ID(), b.ID())
	})
	if o == query.Desc {
		slices.Reverse(evs)
	}
	out := make([][]byte, len(evs))
	for i, e := range evs {
		out[i] = e.Wire()
	}
	return out
}

func streamAll(t *testing.T, s *Store, f query.Filter, o query.Order) [][]byte {
	t.Helper()
	var out [][]byte
	if err := s.Stream(t.Context(), f, o, func(w []byte) error {
		out = append(out, bytes.Clone(w))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func searchAll(t *testing.T, s *Store, f query.Filter, o query.Order, limit int) [][]byte {
	t.Helper()
	var out [][]byte
	p := query.Page{Filter: f, Order: o, Limit: limit}
	for range 10000 {
		res, err := s.Search(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Events) > limit {
			t.Fatalf("page of %d events, limit %d", len(res.Events), limit)
		}
		out = append(out, res.Events...)
		if res.NextCursor == "" {
			return out
		}
		p.Cursor = res.NextCursor
	}
	t.Fatal("search does not end")
	return nil
}

func equalWire(t *testing.T, what string, got, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d events, want %d", what, len(got), len(want))
	}
	for i := range got {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("%s: event %d:\n got %s\nwant %s", what, i, got[i], want[i])
		}
	}
}

func TestStore_Ping(t *testing.T) {
	s := openTest(t)
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping = %v", err)
	}
}

func TestStore_RoundTripBytes(t *testing.T) {
	s := openTest(t)
	evs := storetest.Samples(t)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	equalWire(t, "stream asc", streamAll(t, s, query.Filter{}, query.Asc), sorted(evs, query.Asc))
	equalWire(t, "stream desc", streamAll(t, s, query.Filter{}, query.Desc), sorted(evs, query.Desc))
}

func TestStore_RedeliveryCountsOnce(t *testing.T) {
	s := openTest(t)
	evs := generate(t, 1, 3000)
	// The batch repeats some of its own events, and then comes again.
	batch := append(slices.Clone(evs), evs[:100]...)
	for range 2 {
		if err := s.Write(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Write(t.Context(), evs[1000:1500]); err != nil {
		t.Fatal(err)
	}
	equalWire(t, "stream", streamAll(t, s, query.Filter{}, query.Desc), sorted(evs, query.Desc))
	equalWire(t, "search", searchAll(t, s, query.Filter{}, query.Desc, 1000), sorted(evs, query.Desc))

	// Whole hours: the rollup answers. Otherwise the events table does.
	for _, since := range []time.Time{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 1, 0, 0, 0, 1e6, time.UTC)} {
		st, err := s.Stats(t.Context(), query.StatsRequest{Filter: query.Filter{Since: since}, Bucket: 24 * time.Hour, By: "event"})
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != int64(len(evs)) {
			t.Errorf("since %v: total %d, want %d", since, st.Total, len(evs))
		}
		var sum int64
		for _, b := range st.Buckets {
			sum += b.Count
		}
		if sum != int64(len(evs)) {
			t.Errorf("since %v: buckets add up to %d, want %d", since, sum, len(evs))
		}
		want := map[string]int64{}
		for _, e := range evs {
			want[e.Name()]++
		}
		for _, c := range st.Top {
			if want[c.Value] != c.Count {
				t.Errorf("since %v: %s counted %d, want %d", since, c.Value, c.Count, want[c.Value])
			}
		}
	}
}

// expect filters events in Go, the way the store should.
func expect(evs []*schema.Event, keep func(query.Row) bool) []*schema.Event {
	var out []*schema.Event
	for _, e := range evs {
		r, err := query.RowOf(e)
		if err != nil {
			panic(err)
		}
		if keep(r) {
			out = append(out, e)
		}
	}
	return out
}

func TestStore_Filters(t *testing.T) {
	s := openTest(t)
	evs := generate(t, 2, 4000)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	some := func(i int) query.Row {
		r, _ := query.RowOf(evs[i])
		return r
	}
	file := some(slices.IndexFunc(evs, func(e *schema.Event) bool { return e.Name() == "file.transfer" }))
	link := some(slices.IndexFunc(evs, func(e *schema.Event) bool { return e.Name() == "link.download" }))
	folder := some(slices.IndexFunc(evs, func(e *schema.Event) bool { return e.Name() == "folder.invite" }))
	since := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		f    query.Filter
		keep func(query.Row) bool
	}{
		{"user", query.Filter{User: "User7@corp.example.com"}, func(r query.Row) bool { return slices.Contains(r.Users, "user7@corp.example.com") }},
		{"user and topic and time", query.Filter{User: "user3@corp.example.com", Topics: []schema.Topic{schema.TopicFile}, Since: since},
			func(r query.Row) bool {
				return slices.Contains(r.Users, "user3@corp.example.com") && r.Topic == "FILE" && r.Time >= since.UnixMilli()
			}},
		{"device", query.Filter{Device: file.Devices[1]}, func(r query.Row) bool { return slices.Contains(r.Devices, file.Devices[1]) }},
		{"soid", query.Filter{SOID: file.SID + file.OID}, func(r query.Row) bool { return r.SID == file.SID && r.OID == file.OID }},
		{"path prefix", query.Filter{Path: "Projects/p1"}, func(r query.Row) bool {
			return strings.HasPrefix(r.Path, "Projects/p1") || strings.HasPrefix(r.PathTo, "Projects/p1")
		}},
		{"ip", query.Filter{IP: link.IP}, func(r query.Row) bool { return r.IP == link.IP }},
		{"key", query.Filter{Key: link.LinkKey}, func(r query.Row) bool { return r.LinkKey == link.LinkKey }},
		{"folder", query.Filter{Folder: strings.ToUpper(folder.FolderID)}, func(r query.Row) bool { return r.FolderID == folder.FolderID }},
		{"events", query.Filter{Events: []string{"user.signin", "link.download"}, Until: since}, func(r query.Row) bool {
			return (r.Event == "user.signin" || r.Event == "link.download") && r.Time < since.UnixMilli()
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := expect(evs, c.keep)
			if len(want) == 0 {
				t.Fatal("the case selects nothing")
			}
			for _, o := range []query.Order{query.Desc, query.Asc} {
				equalWire(t, "search", searchAll(t, s, c.f, o, 7), sorted(want, o))
				equalWire(t, "stream", streamAll(t, s, c.f, o), sorted(want, o))
			}
			st, err := s.Stats(t.Context(), query.StatsRequest{Filter: c.f, By: "user", Top: 3})
			if err != nil {
				t.Fatal(err)
			}
			if st.Total != int64(len(want)) {
				t.Errorf("stats total %d, want %d", st.Total, len(want))
			}
		})
	}
}

// TestStore_FilterValuesAreLiteral: values that would change the SQL if
// they were pasted into it match literally (nothing, here).
func TestStore_FilterValuesAreLiteral(t *testing.T) {
	s := openTest(t)
	evs := generate(t, 3, 500)
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{
		"' OR 1=1 --",
		`\' OR 1=1 --`,
		"x') OR has(users, 'user1@corp.example.com') OR ('",
		"%", "_", "Projects/%",
		"?", "user1@corp.example.com' --",
		"1; DROP TABLE events",
	} {
		for _, f := range []query.Filter{{User: v}, {Path: v}, {Key: v}} {
			res, err := s.Search(t.Context(), query.Page{Filter: f, Limit: 10})
			if err != nil {
				var pe *query.ParamError
				if errors.As(err, &pe) {
					continue // refused before any SQL
				}
				t.Fatalf("%+v: %v", f, err)
			}
			if len(res.Events) != 0 {
				t.Errorf("%+v matched %d events", f, len(res.Events))
			}
			st, err := s.Stats(t.Context(), query.StatsRequest{Filter: f, By: "user"})
			if err != nil {
				t.Fatalf("%+v: %v", f, err)
			}
			if st.Total != 0 {
				t.Errorf("%+v counted %d events", f, st.Total)
			}
		}
	}
	if n := len(streamAll(t, s, query.Filter{}, query.Asc)); n != len(evs) {
		t.Fatalf("%d events left, want %d", n, len(evs))
	}
}

func TestStore_BadCursor(t *testing.T) {
	s := openTest(t)
	if err := s.Write(t.Context(), generate(t, 4, 50)); err != nil {
		t.Fatal(err)
	}
	res, err := s.Search(t.Context(), query.Page{Limit: 10})
	if err != nil || res.NextCursor == "" {
		t.Fatal(res, err)
	}
	for _, p := range []query.Page{
		{Limit: 10, Cursor: "garbage"},
		{Limit: 10, Cursor: res.NextCursor, Order: query.Asc},
		{Limit: 10, Cursor: res.NextCursor, Filter: query.Filter{User: "user1@corp.example.com"}},
	} {
		if _, err := s.Search(t.Context(), p); !errors.Is(err, query.ErrBadCursor) {
			t.Errorf("cursor %q for %+v: %v, want ErrBadCursor", p.Cursor, p.Filter, err)
		}
	}
}

func TestOpen_MigrationsOnce(t *testing.T) {
	cfg := testConfig(t)
	for range 2 {
		s, err := Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		if err := s.conn.QueryRow(t.Context(), "SELECT count() FROM "+s.db+".schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != uint64(len(migrations)) {
			t.Errorf("%d migrations recorded, want %d", n, len(migrations))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStore_DropExpired(t *testing.T) {
	cfg := testConfig(t)
	cfg.Retention = 40 * 24 * time.Hour
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	evs := generate(t, 5, 1000) // 2025-01-20 to 2025-02-19
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	// On 2025-03-15 the cutoff is 2025-02-03: January goes, February stays.
	n, err := s.DropExpired(t.Context(), time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(partitioned) {
		t.Errorf("dropped %d partitions, want %d", n, len(partitioned))
	}
	feb := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	want := expect(evs, func(r query.Row) bool { return r.Time >= feb.UnixMilli() })
	equalWire(t, "after retention", streamAll(t, s, query.Filter{}, query.Asc), sorted(want, query.Asc))
	st, err := s.Stats(t.Context(), query.StatsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != int64(len(want)) {
		t.Errorf("rollup total %d, want %d", st.Total, len(want))
	}
	u := expect(want, func(r query.Row) bool { return slices.Contains(r.Users, "user1@corp.example.com") })
	equalWire(t, "user index after retention", searchAll(t, s, query.Filter{User: "user1@corp.example.com"}, query.Asc, 50), sorted(u, query.Asc))
}

func TestConfig_Validate(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{Addr: []string{"h:9000"}}, ""},
		{Config{}, "addr"},
		{Config{Addr: []string{"h:9000"}, Database: "a-b; DROP"}, "database"},
		{Config{Addr: []string{"h:9000"}, Retention: -time.Hour}, "retention"},
	} {
		err := c.cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v, want %q", c.cfg, err, c.want)
		}
	}
}

// TestStore_ReceivedAt: the receive time comes back exactly whether it is
// near time, far from it (either way) or absent.
func TestStore_ReceivedAt(t *testing.T) {
	s := openTest(t)
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var evs []*schema.Event
	for i, received := range []time.Time{at.Add(1500 * time.Millisecond), at.Add(-time.Minute), at.Add(40 * 24 * time.Hour), at.Add(-400 * 24 * time.Hour), {}} {
		evs = append(evs, storetest.Build(t, map[string]any{"topic": "USER", "event": "user.signin", "user": "a@example.com", "authority": "LDAP",
			"timestamp": at.Add(time.Duration(i) * time.Second).Format(time.RFC3339), "event_id": "ra-" + string(rune('a'+i))},
			schema.Meta{Submitter: schema.Submitter{UserID: "a@example.com", DeviceID: storetest.Hex("d")}, ReceivedAt: received}))
	}
	if err := s.Write(t.Context(), evs); err != nil {
		t.Fatal(err)
	}
	equalWire(t, "stream", streamAll(t, s, query.Filter{}, query.Asc), sorted(evs, query.Asc))
}

// TestOpen_RetiredLayout: a database with the layout from before the
// first release is refused, not written to.
func TestOpen_RetiredLayout(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.conn.Exec(t.Context(), "INSERT INTO "+s.db+".schema_migrations (version, name, applied_at) SELECT toUInt32(1), 'events', now()"); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	if s, err := Open(t.Context(), cfg); err == nil || !strings.Contains(err.Error(), "before the first release") {
		if err == nil {
			_ = s.Close()
		}
		t.Fatalf("open: %v, want the retired layout refused", err)
	}
}

// TestOpen_MigrationRunAgain: a migration that ran but was not recorded
// (interrupted in between) runs again without error.
func TestOpen_MigrationRunAgain(t *testing.T) {
	cfg := testConfig(t)
	s, err := Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 18.16 has no lightweight DELETE: rebuild the log without the last step.
	last := migrations[len(migrations)-1].version
	for _, q := range []string{
		"CREATE TABLE " + s.db + ".m AS " + s.db + ".schema_migrations",
		"INSERT INTO " + s.db + ".m SELECT * FROM " + s.db + ".schema_migrations WHERE version != " + strconv.Itoa(int(last)),
		"DROP TABLE " + s.db + ".schema_migrations",
		"RENAME TABLE " + s.db + ".m TO " + s.db + ".schema_migrations",
	} {
		if err := s.conn.Exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.Close()
	s, err = Open(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Write(t.Context(), generate(t, 5, 10)); err != nil {
		t.Fatal(err)
	}
}
