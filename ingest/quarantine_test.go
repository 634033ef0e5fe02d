package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestQuarantine_ResentEntryCountsAttempts: the same bytes from the same
// submitter, rejected again while their entry waits, count an attempt
// instead of a new entry; after a replay they make a new one.
func TestQuarantine_ResentEntryCountsAttempts(t *testing.T) {
	ctx := context.Background()
	q := openQuarantine(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bad := Quarantined{ReceivedAt: t0, Submitter: alice, Reason: "missing field user", Raw: `{"topic":"USER"}`}
	other := bad
	other.Submitter.DeviceID = "ffffffffffffffffffffffffffffffff"

	if err := q.Add(ctx, []Quarantined{bad, other}); err != nil {
		t.Fatal(err)
	}
	again := bad
	again.ReceivedAt, again.Reason = t0.Add(time.Minute), "missing field user (again)"
	if err := q.Add(ctx, []Quarantined{again}); err != nil {
		t.Fatal(err)
	}
	list, err := q.List(ctx, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		Device   string
		Attempts int
		Reason   string
		Last     *time.Time
	}
	var got []summary
	for _, e := range list {
		got = append(got, summary{e.Submitter.DeviceID, e.Attempts, e.Reason, e.LastReceivedAt})
	}
	last := t0.Add(time.Minute)
	want := []summary{
		{alice.DeviceID, 2, "missing field user (again)", &last},
		{other.Submitter.DeviceID, 1, "missing field user", nil},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}

	if err := q.markReplayed(ctx, list[0].ID, "01JX", t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := q.Add(ctx, []Quarantined{bad}); err != nil {
		t.Fatal(err)
	}
	all, err := q.List(ctx, ListOptions{Replayed: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[2].Attempts != 1 {
		t.Errorf("after a replay, the same bytes make a new entry: %+v", all)
	}
}

// TestQuarantine_OpensOlderFile: a quarantine written before attempts
// were counted opens, keeps its entries and counts from then on.
func TestQuarantine_OpensOlderFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "quarantine.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`CREATE TABLE quarantine (id INTEGER PRIMARY KEY AUTOINCREMENT, received_at INTEGER NOT NULL, submitter_user TEXT NOT NULL,
			submitter_device TEXT NOT NULL, reason TEXT NOT NULL, raw BLOB NOT NULL, replayed_at INTEGER, event_id TEXT)`,
		`INSERT INTO quarantine (received_at, submitter_user, submitter_device, reason, raw) VALUES (1, 'a', 'd', 'bad', 'x')`,
	} {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	q, err := OpenQuarantine(path)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	list, err := q.List(context.Background(), ListOptions{})
	if err != nil || len(list) != 1 || list[0].Attempts != 1 || list[0].Raw != "x" {
		t.Fatalf("older entries: %+v, %v", list, err)
	}
}

// TestQuarantine_ListBoundsPageBytes: large entries end a page before
// its limit, and paging by id still lists every entry once.
func TestQuarantine_ListBoundsPageBytes(t *testing.T) {
	ctx := context.Background()
	q := openQuarantine(t)
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var entries []Quarantined
	for i := range 5 {
		raw := fmt.Sprintf(`{"n":%d,"pad":%q}`, i, strings.Repeat("x", 990))
		entries = append(entries, Quarantined{ReceivedAt: t0, Submitter: alice, Reason: "bad", Raw: raw})
	}
	if err := q.Add(ctx, entries); err != nil {
		t.Fatal(err)
	}
	var pages []int
	var seen []string
	after := int64(0)
	for {
		page, err := q.List(ctx, ListOptions{After: after, Limit: 100, MaxBytes: 2500})
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		pages = append(pages, len(page))
		for _, e := range page {
			seen = append(seen, e.Raw)
			after = e.ID
		}
	}
	if want := []int{3, 2}; !slices.Equal(pages, want) {
		t.Errorf("page sizes %v, want %v (each page ends after the entry that reaches 2500 bytes)", pages, want)
	}
	var want []string
	for _, e := range entries {
		want = append(want, e.Raw)
	}
	if diff := cmp.Diff(want, seen); diff != "" {
		t.Errorf("entries over all pages (-want +got):\n%s", diff)
	}
}
