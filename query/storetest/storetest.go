// Package storetest is the conformance suite of query.Store: every
// implementation runs Run against a fresh, empty store per test.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

// Run runs the suite. open returns a new, empty store; the suite closes
// it.
func Run(t *testing.T, open func(t *testing.T) query.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s query.Store)
	}{
		{"WriteThenSearch", testWriteThenSearch},
		{"WireExact", testWireExact},
		{"Filters", testFilters},
		{"Order", testOrder},
		{"PagingEqualsStream", testPagingEqualsStream},
		{"CursorStableWhileWriting", testCursorStable},
		{"BadCursor", testBadCursor},
		{"Redelivery", testRedelivery},
		{"Stats", testStats},
		{"RollupsAgreeWithEvents", testRollupsAgree},
		{"TimeZones", testTimeZones},
		{"Injection", testInjection},
		{"InvalidFilter", testInvalidFilter},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("close: %v", err)
				}
			})
			tc.fn(t, s)
		})
	}
}

var t0 = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// Identities used by the fixture.
var (
	alice, bob, carol, dave = "alice@example.com", "bob@example.com", "carol@example.com", "dave@example.com"
	devA, devB, devM        = Hex("dev-a"), Hex("dev-b"), Hex("dev-mobile")
	store1, obj1, obj2      = Hex("store-1"), Hex("obj-1"), Hex("obj-2")
	folder1                 = Hex("folder-1")
)

func ts(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000Z07:00") }

func sub(user, dev string) schema.Meta {
	return schema.Meta{Submitter: schema.Submitter{UserID: user, DeviceID: dev}, ReceivedAt: t0.Add(time.Hour)}
}

// fixture is a set of events, each naming its identities in known roles.
type fixture struct {
	all   []*schema.Event
	named map[string]*schema.Event
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{named: map[string]*schema.Event{}}
	add := func(name string, fields map[string]any, meta schema.Meta) {
		fields["event_id"] = "fx-" + name
		e := Build(t, fields, meta)
		f.all = append(f.all, e)
		f.named[name] = e
	}
	add("transfer", map[string]any{"topic": "FILE", "event": "file.transfer", "timestamp": ts(1 * time.Minute),
		"soid": map[string]any{"sid": store1, "oid": obj1}, "event_time": ts(0), "operations": []string{"CONTENT_REQUEST"},
		"device": devA, "path": map[string]any{"sid": store1, "relative_path": "Finance/2025/q1.xlsx"},
		"destination_device": devB, "destination_user": bob}, sub(alice, devA))
	add("move", map[string]any{"topic": "FILE", "event": "file.notification", "timestamp": ts(2 * time.Minute),
		"soid": map[string]any{"sid": store1, "oid": obj2}, "event_time": ts(0), "operations": []string{"MOVE"},
		"device": devA, "path": map[string]any{"sid": store1, "relative_path": "Drafts/plan.doc"},
		"path_to": map[string]any{"sid": store1, "relative_path": "Finance/plan.doc"}, "mobile_device": devM}, sub(alice, devA))
	add("signin", map[string]any{"topic": "USER", "event": "user.signin", "timestamp": ts(3 * time.Minute), "user": carol, "authority": "LDAP"}, schema.Meta{})
	add("invite", map[string]any{"topic": "SHARING", "event": "folder.invite", "timestamp": ts(4 * time.Minute),
		"folder": map[string]any{"id": folder1, "name": "Finance"}, "target": dave, "role": []string{"WRITE"},
		"caller": map[string]any{"email": bob, "device": devB}}, schema.Meta{})
	add("link", map[string]any{"topic": "LINK", "event": "link.create", "timestamp": ts(5 * time.Minute), "ip": "203.0.113.7",
		"caller": map[string]any{"email": "root@example.com", "acting_as": carol}, "key": "AbC123", "soid": map[string]any{"sid": store1, "oid": obj1}}, schema.Meta{})
	add("download", map[string]any{"topic": "LINK", "event": "link.download", "timestamp": ts(6 * time.Minute), "ip": "2001:db8::1",
		"key": "AbC123", "oid": obj1, "name": "q1.xlsx"}, schema.Meta{})
	add("devsignin", map[string]any{"topic": "DEVICE", "event": "device.signin", "timestamp": ts(7 * time.Minute), "user": dave, "device_id": devM, "ip": "203.0.113.7"}, schema.Meta{})
	add("unlink", map[string]any{"topic": "DEVICE", "event": "device.unlink", "timestamp": ts(8 * time.Minute), "admin_user": "admin@example.com", "device": devB, "owner": bob}, schema.Meta{})
	add("org", map[string]any{"topic": "ORG", "event": "org.2fa.level", "timestamp": ts(9 * time.Minute), "org": "org@example.com", "caller": "admin@example.com", "old_level": "OPT_IN", "new_level": "MANDATORY"}, schema.Meta{})
	add("invitee", map[string]any{"topic": "USER", "event": "user.org.invite", "timestamp": ts(10 * time.Minute), "inviter": carol, "invitee": "new@example.com", "organization": 2}, schema.Meta{})
	add("create", map[string]any{"topic": "USER", "event": "user.create", "timestamp": ts(11 * time.Minute), "email": "made@example.com", "caller": map[string]any{"email": "admin@example.com", "device": devA}}, schema.Meta{})
	add("authz", map[string]any{"topic": "USER", "event": "user.org.authorization", "timestamp": ts(12 * time.Minute), "admin_user": "admin@example.com", "target_user": "Target@Example.com", "new_level": "ADMIN"}, schema.Meta{})
	return f
}

func (f *fixture) ids(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, f.named[n].ID())
	}
	slices.Sort(out)
	return out
}

func write(t *testing.T, s query.Store, events []*schema.Event) {
	t.Helper()
	if err := s.Write(context.Background(), events); err != nil {
		t.Fatalf("write %d events: %v", len(events), err)
	}
}

// stream returns every event matching f, in order.
func stream(t *testing.T, s query.Store, f query.Filter, o query.Order) [][]byte {
	t.Helper()
	var out [][]byte
	err := s.Stream(context.Background(), f, o, func(w []byte) error {
		out = append(out, bytes.Clone(w))
		return nil
	})
	if err != nil {
		t.Fatalf("stream %+v: %v", f, err)
	}
	return out
}

// idsOf reads the event_ids of wire forms, sorted.
func idsOf(t *testing.T, wires [][]byte) []string {
	t.Helper()
	var out []string
	for _, w := range wires {
		e, err := schema.Normalize(w, schema.Meta{Trusted: true})
		if err != nil {
			t.Fatalf("store returned an unreadable event %s: %v", w, err)
		}
		out = append(out, e.ID())
	}
	slices.Sort(out)
	return out
}

func search(t *testing.T, s query.Store, p query.Page) query.Result {
	t.Helper()
	res, err := s.Search(context.Background(), p)
	if err != nil {
		t.Fatalf("search %+v: %v", p, err)
	}
	return res
}

func testWriteThenSearch(t *testing.T, s query.Store) {
	f := newFixture(t)
	write(t, s, f.all)
	res := search(t, s, query.Page{Limit: 1000})
	if diff := cmp.Diff(f.ids(keys(f.named)...), idsOf(t, res.Events)); diff != "" {
		t.Errorf("search all (-want +got):\n%s", diff)
	}
	if res.NextCursor != "" {
		t.Errorf("one page holds everything, yet NextCursor = %q", res.NextCursor)
	}
	for name, e := range f.named {
		got := stream(t, s, query.Filter{Events: []string{e.Name()}, Since: e.Timestamp(), Until: e.Timestamp().Add(time.Millisecond)}, query.Asc)
		if len(got) != 1 || !bytes.Equal(got[0], e.Wire()) {
			t.Errorf("%s: found %q, want its wire form", name, got)
		}
	}
}

func keys[M ~map[string]V, V any](m M) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func testWireExact(t *testing.T, s query.Store) {
	events := Samples(t)
	write(t, s, events)
	want := map[string][]byte{}
	for _, e := range events {
		want[e.ID()] = e.Wire()
	}
	got := stream(t, s, query.Filter{}, query.Asc)
	if len(got) != len(events) {
		t.Fatalf("stream: %d events, want %d", len(got), len(events))
	}
	for _, w := range got {
		id := idsOf(t, [][]byte{w})[0]
		if !bytes.Equal(w, want[id]) {
			t.Errorf("event %s:\n got %s\nwant %s", id, w, want[id])
		}
	}
}

func testFilters(t *testing.T, s query.Store) {
	f := newFixture(t)
	write(t, s, f.all)
	for _, tc := range []struct {
		name   string
		filter query.Filter
		want   []string
	}{
		{"user as submitter", query.Filter{User: alice}, []string{"transfer", "move"}},
		{"user upper-cased", query.Filter{User: "ALICE@example.com"}, []string{"transfer", "move"}},
		{"user as destination_user, caller, owner", query.Filter{User: bob}, []string{"transfer", "invite", "unlink"}},
		{"user as user, acting_as, inviter", query.Filter{User: carol}, []string{"signin", "link", "invitee"}},
		{"user as target, user", query.Filter{User: dave}, []string{"invite", "devsignin"}},
		{"user as caller email and admin_user", query.Filter{User: "admin@example.com"}, []string{"unlink", "org", "create", "authz"}},
		{"user as org", query.Filter{User: "org@example.com"}, []string{"org"}},
		{"user as invitee", query.Filter{User: "new@example.com"}, []string{"invitee"}},
		{"user as email", query.Filter{User: "made@example.com"}, []string{"create"}},
		{"user as target_user", query.Filter{User: "target@example.com"}, []string{"authz"}},
		{"user as link caller", query.Filter{User: "root@example.com"}, []string{"link"}},
		{"user nobody", query.Filter{User: "nobody@example.com"}, nil},
		{"user partial is no match", query.Filter{User: "alice"}, nil},
		{"device as submitter, device, caller.device", query.Filter{Device: devA}, []string{"transfer", "move", "create"}},
		{"device as destination, caller, device", query.Filter{Device: strings.ToUpper(devB)}, []string{"transfer", "invite", "unlink"}},
		{"device as mobile_device, device_id", query.Filter{Device: devM}, []string{"move", "devsignin"}},
		{"soid", query.Filter{SOID: store1 + obj1}, []string{"transfer", "link", "download"}},
		{"soid other object", query.Filter{SOID: store1 + obj2}, []string{"move"}},
		{"soid other store", query.Filter{SOID: Hex("x") + obj2}, nil},
		{"path prefix", query.Filter{Path: "Finance/"}, []string{"transfer", "move"}},
		{"path prefix with slash", query.Filter{Path: "/Finance/2025"}, []string{"transfer"}},
		{"path prefix of path", query.Filter{Path: "Drafts"}, []string{"move"}},
		{"path exact", query.Filter{Path: "Finance/2025/q1.xlsx"}, []string{"transfer"}},
		{"path is case-sensitive", query.Filter{Path: "finance"}, nil},
		{"ip", query.Filter{IP: "203.0.113.7"}, []string{"link", "devsignin"}},
		{"ip v6", query.Filter{IP: "2001:DB8:0::1"}, []string{"download"}},
		{"key", query.Filter{Key: "AbC123"}, []string{"link", "download"}},
		{"key is exact", query.Filter{Key: "abc123"}, nil},
		{"folder", query.Filter{Folder: strings.ToUpper(folder1)}, []string{"invite"}},
		{"topics", query.Filter{Topics: []schema.Topic{"LINK", "ORG"}}, []string{"link", "download", "org"}},
		{"events", query.Filter{Events: []string{"user.signin", "device.unlink"}}, []string{"signin", "unlink"}},
		{"since is inclusive", query.Filter{Since: t0.Add(11 * time.Minute)}, []string{"create", "authz"}},
		{"until is exclusive", query.Filter{Until: t0.Add(2 * time.Minute)}, []string{"transfer"}},
		{"since and until", query.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(5*time.Minute + time.Millisecond)}, []string{"signin", "invite", "link"}},
		{"until a millisecond early", query.Filter{Since: t0.Add(3 * time.Minute), Until: t0.Add(5 * time.Minute)}, []string{"signin", "invite"}},
		{"combined", query.Filter{User: bob, Topics: []schema.Topic{"FILE", "SHARING"}, Device: devB, Since: t0.Add(2 * time.Minute)}, []string{"invite"}},
		{"combined soid and ip", query.Filter{SOID: store1 + obj1, IP: "203.0.113.7", Key: "AbC123"}, []string{"link"}},
		{"combined excludes", query.Filter{User: alice, Topics: []schema.Topic{"USER"}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := f.ids(tc.want...)
			if diff := cmp.Diff(want, idsOf(t, stream(t, s, tc.filter, query.Desc))); diff != "" {
				t.Errorf("stream %+v (-want +got):\n%s", tc.filter, diff)
			}
			res := search(t, s, query.Page{Filter: tc.filter, Limit: 100})
			if diff := cmp.Diff(want, idsOf(t, res.Events)); diff != "" {
				t.Errorf("search %+v (-want +got):\n%s", tc.filter, diff)
			}
			st, err := s.Stats(context.Background(), query.StatsRequest{Filter: tc.filter})
			if err != nil || st.Total != int64(len(want)) {
				t.Errorf("stats %+v: total %d, %v; want %d", tc.filter, st.Total, err, len(want))
			}
		})
	}
}

// tied returns n user.signin events at the same few times, so that
// order must fall back to event_id.
func tied(t *testing.T, n int, prefix string, at time.Time) []*schema.Event {
	var out []*schema.Event
	for i := range n {
		out = append(out, Build(t, map[string]any{"topic": "USER", "event": "user.signin",
			"timestamp": at.Add(time.Duration(i%4) * time.Second).Format(time.RFC3339Nano),
			"event_id":  fmt.Sprintf("%s-%03d", prefix, (i*37)%n), "user": fmt.Sprintf("u%d@example.com", i%3), "authority": "Credential"}, schema.Meta{}))
	}
	return out
}

// key is an event's place in time order.
type key struct {
	ms int64
	id string
}

func keyOf(t *testing.T, w []byte) key {
	e, err := schema.Normalize(w, schema.Meta{Trusted: true})
	if err != nil {
		t.Fatalf("unreadable event %s: %v", w, err)
	}
	return key{e.Timestamp().UnixMilli(), e.ID()}
}

func less(a, b key) bool { return a.ms < b.ms || a.ms == b.ms && a.id < b.id }

func testOrder(t *testing.T, s query.Store) {
	events := tied(t, 40, "ord", t0)
	write(t, s, events)
	for _, o := range []query.Order{query.Asc, query.Desc} {
		got := stream(t, s, query.Filter{}, o)
		if len(got) != len(events) {
			t.Fatalf("order %d: %d events, want %d", o, len(got), len(events))
		}
		for i := 1; i < len(got); i++ {
			a, b := keyOf(t, got[i-1]), keyOf(t, got[i])
			if o == query.Desc {
				a, b = b, a
			}
			if !less(a, b) {
				t.Errorf("order %d: %v before %v", o, keyOf(t, got[i-1]), keyOf(t, got[i]))
			}
		}
		res := search(t, s, query.Page{Order: o, Limit: 1000})
		if diff := cmp.Diff(got, res.Events); diff != "" {
			t.Errorf("order %d: search and stream differ:\n%s", o, diff)
		}
	}
	// The default order is newest first.
	res := search(t, s, query.Page{Limit: 1})
	if last := stream(t, s, query.Filter{}, query.Desc)[0]; !bytes.Equal(res.Events[0], last) {
		t.Errorf("default order: first event %s, want the newest %s", res.Events[0], last)
	}
}

// pages reads every page of p.
func pages(t *testing.T, s query.Store, p query.Page, between func(page int)) [][]byte {
	var out [][]byte
	for i := 0; ; i++ {
		res := search(t, s, p)
		if len(res.Events) > p.Limit {
			t.Fatalf("page %d: %d events, limit %d", i, len(res.Events), p.Limit)
		}
		out = append(out, res.Events...)
		if res.NextCursor == "" {
			return out
		}
		if len(res.Events) == 0 {
			t.Fatalf("page %d: empty page with a cursor", i)
		}
		if i > 1000 {
			t.Fatal("paging does not end")
		}
		p.Cursor = res.NextCursor
		if between != nil {
			between(i)
		}
	}
}

func testPagingEqualsStream(t *testing.T, s query.Store) {
	events := append(tied(t, 53, "pg", t0), newFixture(t).all...)
	write(t, s, events)
	for _, o := range []query.Order{query.Asc, query.Desc} {
		for _, limit := range []int{1, 3, 7, 65, 1000} {
			for _, f := range []query.Filter{{}, {User: "u1@example.com"}, {Topics: []schema.Topic{"USER"}, Since: t0.Add(time.Second)}} {
				got := pages(t, s, query.Page{Filter: f, Order: o, Limit: limit}, nil)
				want := stream(t, s, f, o)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("order %d limit %d filter %+v: pages differ from stream:\n%s", o, limit, f, diff)
				}
			}
		}
	}
	// A page that ends exactly at the last event says so.
	res := search(t, s, query.Page{Limit: len(events)})
	if len(res.Events) != len(events) || res.NextCursor != "" {
		t.Errorf("exact last page: %d events, cursor %q", len(res.Events), res.NextCursor)
	}
}

func testCursorStable(t *testing.T, s query.Store) {
	first := tied(t, 30, "old", t0.Add(time.Hour))
	write(t, s, first)
	for _, o := range []query.Order{query.Asc, query.Desc} {
		n := 0
		got := pages(t, s, query.Page{Order: o, Limit: 4}, func(page int) {
			// New events on both sides of every position, some at the
			// very times already seen.
			var more []*schema.Event
			for _, at := range []time.Time{t0, t0.Add(time.Hour), t0.Add(time.Hour + 2*time.Second), t0.Add(3 * time.Hour)} {
				n++
				more = append(more, Build(t, map[string]any{"topic": "USER", "event": "user.signin", "timestamp": at.Format(time.RFC3339Nano),
					"event_id": fmt.Sprintf("new-%d-%04d", o, n), "user": alice, "authority": "LDAP"}, schema.Meta{}))
			}
			write(t, s, more)
		})
		seen := map[string]int{}
		for _, id := range idsOf(t, got) {
			seen[id]++
			if seen[id] > 1 {
				t.Errorf("order %d: event %s returned twice", o, id)
			}
		}
		for _, e := range first {
			if seen[e.ID()] != 1 {
				t.Errorf("order %d: event %s, there before the first page, was skipped", o, e.ID())
			}
		}
		for i := 1; i < len(got); i++ {
			a, b := keyOf(t, got[i-1]), keyOf(t, got[i])
			if o == query.Desc {
				a, b = b, a
			}
			if !less(a, b) {
				t.Errorf("order %d: pages out of order at %d", o, i)
			}
		}
	}
}

func testBadCursor(t *testing.T, s query.Store) {
	write(t, s, tied(t, 10, "bc", t0))
	res := search(t, s, query.Page{Limit: 2, Filter: query.Filter{User: "u1@example.com"}})
	if res.NextCursor == "" {
		t.Fatal("no cursor")
	}
	for name, p := range map[string]query.Page{
		"garbage":       {Limit: 2, Cursor: "garbage!"},
		"other filter":  {Limit: 2, Cursor: res.NextCursor, Filter: query.Filter{User: "u2@example.com"}},
		"other order":   {Limit: 2, Cursor: res.NextCursor, Filter: query.Filter{User: "u1@example.com"}, Order: query.Asc},
		"sql in cursor": {Limit: 2, Cursor: "' OR 1=1 --"},
	} {
		if _, err := s.Search(context.Background(), p); !errors.Is(err, query.ErrBadCursor) {
			t.Errorf("%s: err = %v, want ErrBadCursor", name, err)
		}
	}
	// The same cursor still works for its own search, with another limit.
	if _, err := s.Search(context.Background(), query.Page{Limit: 5, Cursor: res.NextCursor, Filter: query.Filter{User: "U1@example.com"}}); err != nil {
		t.Errorf("own cursor: %v", err)
	}
}

func testRedelivery(t *testing.T, s query.Store) {
	f := newFixture(t)
	batch := f.all
	write(t, s, batch)
	write(t, s, batch)                                         // the same batch again
	write(t, s, append(slices.Clone(batch[3:]), batch[:5]...)) // overlapping
	write(t, s, []*schema.Event{batch[0], batch[0], batch[1]}) // repeats in one batch
	extra := tied(t, 5, "rd", t0)
	write(t, s, append(append([]*schema.Event{}, extra...), extra...)) // a new batch with its own repeats
	// The same event normalized again (as the log redelivers it).
	again, err := schema.Normalize(batch[2].Wire(), schema.Meta{Trusted: true})
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, []*schema.Event{again})

	want := len(batch) + len(extra)
	got := stream(t, s, query.Filter{}, query.Asc)
	if ids := idsOf(t, got); len(ids) != want || len(slices.Compact(ids)) != want {
		t.Errorf("stream: %d events (%d distinct), want %d", len(ids), len(slices.Compact(slices.Clone(ids))), want)
	}
	res := search(t, s, query.Page{Limit: 1000})
	if len(res.Events) != want {
		t.Errorf("search: %d events, want %d", len(res.Events), want)
	}
	st, err := s.Stats(context.Background(), query.StatsRequest{Bucket: time.Hour, By: "user", Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	if st.Total != int64(want) || sumBuckets(st.Buckets) != int64(want) {
		t.Errorf("stats: total %d, buckets sum %d; want %d", st.Total, sumBuckets(st.Buckets), want)
	}
	for _, c := range st.Top {
		if c.Value == alice && c.Count != 2 {
			t.Errorf("stats: alice counted %d times, want 2", c.Count)
		}
	}
	if err := s.Write(context.Background(), nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
}

func sumBuckets(bs []query.Bucket) int64 {
	var n int64
	for _, b := range bs {
		n += b.Count
	}
	return n
}

func testStats(t *testing.T, s query.Store) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	events, err := sample.Generate(7, 600, 13, start, 10*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, events)
	ctx := context.Background()
	for _, f := range []query.Filter{{}, {Topics: []schema.Topic{"FILE"}}, {Since: start.Add(90 * time.Minute), Until: start.Add(7*time.Hour + 30*time.Minute)}} {
		all := stream(t, s, f, query.Asc)
		st, err := s.Stats(ctx, query.StatsRequest{Filter: f, Bucket: time.Hour, By: "event", Top: 100})
		if err != nil {
			t.Fatal(err)
		}
		if st.Total != int64(len(all)) {
			t.Errorf("filter %+v: total %d, stream has %d", f, st.Total, len(all))
		}
		// Buckets: each event in the hour its timestamp floors to.
		want := map[int64]int64{}
		byEvent := map[string]int64{}
		for _, w := range all {
			e, _ := schema.Normalize(w, schema.Meta{Trusted: true})
			want[e.Timestamp().Truncate(time.Hour).UnixMilli()]++
			byEvent[e.Name()]++
		}
		got := map[int64]int64{}
		for i, b := range st.Buckets {
			if b.Start.Location() != time.UTC {
				t.Errorf("bucket %v is not in UTC", b.Start)
			}
			if i > 0 && !st.Buckets[i-1].Start.Before(b.Start) {
				t.Errorf("buckets out of order at %d", i)
			}
			got[b.Start.UnixMilli()] = b.Count
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("filter %+v: buckets (-want +got):\n%s", f, diff)
		}
		gotEvents := map[string]int64{}
		var sum int64
		for _, c := range st.Top {
			gotEvents[c.Value] = c.Count
			sum += c.Count
		}
		if diff := cmp.Diff(byEvent, gotEvents); diff != "" || sum != st.Total {
			t.Errorf("filter %+v: top events (-want +got):\n%s (sum %d, total %d)", f, diff, sum, st.Total)
		}
	}
	// Top users: each count is what a search for that user finds, in
	// descending order, ties by value.
	st, err := s.Stats(ctx, query.StatsRequest{By: "user", Top: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Top) != 5 {
		t.Fatalf("top 5 users: %d values", len(st.Top))
	}
	for i, c := range st.Top {
		if n := len(stream(t, s, query.Filter{User: c.Value}, query.Asc)); int64(n) != c.Count {
			t.Errorf("user %s: counted %d, stream finds %d", c.Value, c.Count, n)
		}
		if i > 0 && (st.Top[i-1].Count < c.Count || st.Top[i-1].Count == c.Count && st.Top[i-1].Value > c.Value) {
			t.Errorf("top users out of order at %d: %+v", i, st.Top)
		}
	}
	for _, by := range []string{"device", "topic", "ip", "key", "folder"} {
		st, err := s.Stats(ctx, query.StatsRequest{By: by, Top: 3})
		if err != nil {
			t.Fatalf("by %s: %v", by, err)
		}
		if len(st.Top) == 0 || len(st.Top) > 3 {
			t.Errorf("by %s: %d values", by, len(st.Top))
		}
		for _, c := range st.Top {
			if c.Value == "" || c.Count <= 0 {
				t.Errorf("by %s: %+v", by, c)
			}
		}
	}
	// A bucket of a day over a range counts what the range holds.
	st, err = s.Stats(ctx, query.StatsRequest{Bucket: 24 * time.Hour})
	if err != nil || len(st.Buckets) != 1 || st.Buckets[0].Count != int64(len(events)) || !st.Buckets[0].Start.Equal(start) {
		t.Errorf("day bucket: %+v, %v", st.Buckets, err)
	}
}

// testRollupsAgree: rankings and counts that a store may answer from its
// rollups (whole hours and days, no filter but time, topics and events)
// equal those over the events themselves (the same range off by a
// millisecond), after redeliveries.
func testRollupsAgree(t *testing.T, s query.Store) {
	start := time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)
	events, err := sample.Generate(11, 900, 17, start, 50*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	write(t, s, events[:600])
	write(t, s, events[300:])
	write(t, s, events)
	ctx := context.Background()
	for _, by := range []string{"user", "device", "event", "topic"} {
		for _, f := range []query.Filter{{}, {Topics: []schema.Topic{"FILE"}}, {Since: start.Add(24 * time.Hour), Until: start.Add(48 * time.Hour)}} {
			whole, err := s.Stats(ctx, query.StatsRequest{Filter: f, Bucket: time.Hour, By: by, Top: 1000})
			if err != nil {
				t.Fatal(err)
			}
			g := f
			if g.Since.IsZero() {
				g.Since = start.Add(-time.Millisecond)
			} else {
				g.Since = g.Since.Add(-time.Millisecond)
			}
			odd, err := s.Stats(ctx, query.StatsRequest{Filter: g, Bucket: time.Hour, By: by, Top: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(odd, whole); diff != "" {
				t.Errorf("by %s, filter %+v: whole units differ from the events (-events +whole):\n%s", by, f, diff)
			}
		}
	}
}

func testTimeZones(t *testing.T, s query.Store) {
	// The same instant, written with different offsets; and an instant
	// around midnight UTC that is another day locally.
	for i, stamp := range []string{"2025-03-01T01:30:00.250+02:00", "2025-02-28T18:30:00.250-05:00", "2025-02-28 23:30:00.250", "2025-03-01T05:00:00.250+0530"} {
		write(t, s, []*schema.Event{Build(t, map[string]any{"topic": "USER", "event": "user.signin", "timestamp": stamp,
			"event_id": fmt.Sprintf("tz-%d", i), "user": alice, "authority": "LDAP"}, schema.Meta{})})
	}
	at := time.Date(2025, 2, 28, 23, 30, 0, 250e6, time.UTC)
	got := stream(t, s, query.Filter{Since: at, Until: at.Add(time.Millisecond)}, query.Asc)
	if len(got) != 4 {
		t.Errorf("UTC millisecond range finds %d events, want 4", len(got))
	}
	// A range given in another zone means the same instants.
	ny, _ := time.LoadLocation("America/New_York")
	if ny == nil {
		ny = time.FixedZone("EST", -5*3600)
	}
	got = stream(t, s, query.Filter{Since: at.In(ny), Until: at.Add(time.Millisecond).In(ny)}, query.Asc)
	if len(got) != 4 {
		t.Errorf("zoned range finds %d events, want 4", len(got))
	}
	got = stream(t, s, query.Filter{Until: at}, query.Asc)
	if len(got) != 0 {
		t.Errorf("range before the instant finds %d events", len(got))
	}
	for _, w := range stream(t, s, query.Filter{}, query.Asc) {
		if !bytes.Contains(w, []byte(`"timestamp":"2025-02-28T23:30:00.250Z"`)) {
			t.Errorf("timestamp not in UTC: %s", w)
		}
	}
	st, err := s.Stats(context.Background(), query.StatsRequest{Bucket: 24 * time.Hour})
	if err != nil || len(st.Buckets) != 1 || !st.Buckets[0].Start.Equal(time.Date(2025, 2, 28, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("day bucket of UTC day: %+v, %v", st.Buckets, err)
	}
}

func testInjection(t *testing.T, s query.Store) {
	nasty := []string{`x' OR '1'='1`, `"; DROP TABLE events; --`, `%`, `_`, `\`, `a%`, `Fin_nce`, `'`, `\'`, "😀", `$1`, `?`}
	// Link keys hold no spaces and no '?'.
	linkKey := strings.NewReplacer(" ", "", "?", "¿").Replace
	var events []*schema.Event
	for i, v := range nasty {
		events = append(events, Build(t, map[string]any{"topic": "LINK", "event": "link.download", "timestamp": ts(time.Duration(i) * time.Second),
			"event_id": fmt.Sprintf("inj-%02d", i), "ip": "10.0.0.1", "key": linkKey(v), "oid": obj1, "name": v}, schema.Meta{}))
		events = append(events, Build(t, map[string]any{"topic": "FILE", "event": "file.notification", "timestamp": ts(time.Duration(i) * time.Second),
			"event_id": fmt.Sprintf("injp-%02d", i), "soid": map[string]any{"sid": store1, "oid": obj1}, "event_time": ts(0), "operations": []string{"CREATE"},
			"device": devA, "path": map[string]any{"sid": store1, "relative_path": v + "/file"}}, sub(alice, devA)))
	}
	events = append(events, newFixture(t).all...)
	write(t, s, events)
	total := len(events)
	for i, v := range nasty {
		// A key matches only itself.
		got := idsOf(t, stream(t, s, query.Filter{Key: linkKey(v)}, query.Asc))
		if diff := cmp.Diff([]string{fmt.Sprintf("inj-%02d", i)}, got); diff != "" {
			t.Errorf("key %q (-want +got):\n%s", linkKey(v), diff)
		}
		if got := stream(t, s, query.Filter{Key: v + "x"}, query.Asc); len(got) != 0 {
			t.Errorf("key %q finds %d events", v+"x", len(got))
		}
		// A path prefix is literal: % and _ are no wildcards.
		got = idsOf(t, stream(t, s, query.Filter{Path: v}, query.Asc))
		var want []string
		for j, w := range nasty {
			if strings.HasPrefix(w+"/file", v) {
				want = append(want, fmt.Sprintf("injp-%02d", j))
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("path %q (-want +got):\n%s", v, diff)
		}
		// Other filters match nothing, or refuse the value.
		for _, f := range []query.Filter{{User: v}, {Events: []string{v}}, {Topics: []schema.Topic{schema.Topic(v)}}, {SOID: v}, {Device: v}, {Folder: v}, {IP: v}} {
			var n int
			err := s.Stream(context.Background(), f, query.Asc, func([]byte) error { n++; return nil })
			if err == nil && n != 0 {
				t.Errorf("filter %+v finds %d events", f, n)
			}
		}
		st, err := s.Stats(context.Background(), query.StatsRequest{Filter: query.Filter{Key: linkKey(v)}, By: "key"})
		if err != nil || st.Total != 1 || len(st.Top) != 1 || st.Top[0].Value != linkKey(v) {
			t.Errorf("stats by key %q: %+v, %v", linkKey(v), st, err)
		}
	}
	// Still there, all of it.
	if n := len(stream(t, s, query.Filter{}, query.Asc)); n != total {
		t.Errorf("after the injection table: %d events, want %d", n, total)
	}
	write(t, s, tied(t, 3, "after", t0))
	if n := len(stream(t, s, query.Filter{}, query.Asc)); n != total+3 {
		t.Errorf("writing after the injection table: %d events, want %d", n, total+3)
	}
}

func testInvalidFilter(t *testing.T, s query.Store) {
	ctx := context.Background()
	bad := query.Filter{SOID: "nope"}
	if _, err := s.Search(ctx, query.Page{Filter: bad}); err == nil {
		t.Error("search with a bad soid: no error")
	}
	if err := s.Stream(ctx, bad, query.Asc, func([]byte) error { return nil }); err == nil {
		t.Error("stream with a bad soid: no error")
	}
	if _, err := s.Stats(ctx, query.StatsRequest{Filter: bad}); err == nil {
		t.Error("stats with a bad soid: no error")
	}
	if _, err := s.Stats(ctx, query.StatsRequest{By: "rest; DROP TABLE events"}); err == nil {
		t.Error("stats by an unknown field: no error")
	}
	if _, err := s.Search(ctx, query.Page{Limit: 1001}); err == nil {
		t.Error("search with limit 1001: no error")
	}
	// fn's error ends a stream and comes back as it is.
	write(t, s, tied(t, 3, "iv", t0))
	stop := errors.New("enough")
	if err := s.Stream(ctx, query.Filter{}, query.Asc, func([]byte) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("stream: err = %v, want fn's error", err)
	}
}
