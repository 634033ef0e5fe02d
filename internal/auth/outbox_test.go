package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/metadb/metadbtest"
	"github.com/vigilaudit/vigil/schema"
)

// drainAll drains s's outbox and returns the events.
func drainAll(t *testing.T, s *Store) [][]byte {
	t.Helper()
	var events [][]byte
	n, err := s.DrainOutbox(context.Background(), func(ev *schema.Event) error {
		events = append(events, ev.Wire())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(events) {
		t.Errorf("DrainOutbox = %d, called fn %d times", n, len(events))
	}
	return events
}

// summary is what a test compares of an audit event: its name and the
// canonical JSON of its fields.
type summary struct {
	Event  string
	Fields map[string]string
}

// TestOutbox_CatalogEvents checks that every admin action writes one
// AUDIT event that the catalog accepts, with the action's fields.
func TestOutbox_CatalogEvents(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, clk := openStore(t, backend)
		ctx := context.Background()
		d, _, err := s.AddDevice(ctx, ":local", "Alice@Example.com", "laptop")
		if err != nil {
			t.Fatal(err)
		}
		clk.Add(time.Second)
		if _, _, err := s.AddToken(ctx, "Root@Example.com", RoleAuditor, "grafana"); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeDevice(ctx, ":token:ops", d.ID); err != nil {
			t.Fatal(err)
		}
		if err := s.RevokeToken(ctx, ":token:ops", "grafana"); err != nil {
			t.Fatal(err)
		}

		events := drainAll(t, s)
		var got []summary
		ids := map[string]bool{}
		for _, raw := range events {
			ev, err := schema.Normalize(raw, schema.Meta{})
			if err != nil {
				t.Fatalf("outbox event %s does not normalize: %v", raw, err)
			}
			if ev.Topic() != schema.TopicAudit {
				t.Errorf("%s: topic %s, want AUDIT", ev.Name(), ev.Topic())
			}
			if len(ev.ID()) != 26 || ids[ev.ID()] {
				t.Errorf("%s: event_id %q is not a fresh ULID", ev.Name(), ev.ID())
			}
			ids[ev.ID()] = true
			sum := summary{Event: ev.Name(), Fields: map[string]string{}}
			for _, f := range ev.Spec().Fields {
				if v := ev.Value(f.Name); v != nil {
					sum.Fields[f.Name] = string(v)
				}
			}
			got = append(got, sum)
		}
		dev := `"` + d.ID + `"`
		want := []summary{
			{Event: "audit.device.add", Fields: map[string]string{"caller": `{"email":":local"}`, "user": `"alice@example.com"`, "device": dev, "name": `"laptop"`}},
			{Event: "audit.token.add", Fields: map[string]string{"caller": `{"email":"root@example.com"}`, "name": `"grafana"`, "role": `"auditor"`}},
			{Event: "audit.device.revoke", Fields: map[string]string{"caller": `{"email":":token:ops"}`, "device": dev, "user": `"alice@example.com"`}},
			{Event: "audit.token.revoke", Fields: map[string]string{"caller": `{"email":":token:ops"}`, "name": `"grafana"`}},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("outbox events (-want +got):\n%s", diff)
		}

		// The input form carries the action's time.
		ev, err := schema.Normalize(events[0], schema.Meta{})
		if err != nil {
			t.Fatal(err)
		}
		if !ev.Timestamp().Equal(t0) {
			t.Errorf("timestamp %v, want %v", ev.Timestamp(), t0)
		}
		if events := drainAll(t, s); len(events) != 0 {
			t.Errorf("a second drain returned %d events, want none", len(events))
		}
	})
}

// TestDrainOutbox_FailedRelay checks that an event fn fails on stays in
// the outbox, with those after it, and comes first in the next drain.
func TestDrainOutbox_FailedRelay(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		ctx := context.Background()
		const total = 3*drainBatch + 5 // several batches
		for i := range total {
			addToken(t, s, RoleAuditor, fmt.Sprint("t", i))
		}
		name := func(raw []byte) string {
			ev, err := schema.Normalize(raw, schema.Meta{})
			if err != nil {
				t.Fatal(err)
			}
			n, _ := ev.String("name")
			return n
		}

		boom := errors.New("log full")
		var relayed []string
		n, err := s.DrainOutbox(ctx, func(ev *schema.Event) error {
			if len(relayed) == drainBatch+1 {
				return boom
			}
			relayed = append(relayed, name(ev.Wire()))
			return nil
		})
		if !errors.Is(err, boom) || n != drainBatch+1 {
			t.Fatalf("DrainOutbox = %d, %v; want %d, %v", n, err, drainBatch+1, boom)
		}
		n, err = s.DrainOutbox(ctx, func(ev *schema.Event) error {
			relayed = append(relayed, name(ev.Wire()))
			return nil
		})
		if err != nil || n != total-drainBatch-1 {
			t.Fatalf("second DrainOutbox = %d, %v; want %d, nil", n, err, total-drainBatch-1)
		}
		var want []string
		for i := range total {
			want = append(want, fmt.Sprint("t", i))
		}
		if diff := cmp.Diff(want, relayed); diff != "" {
			t.Errorf("relayed events (-want +got):\n%s", diff)
		}
	})
}

func TestDrainOutbox_Empty(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		n, err := s.DrainOutbox(context.Background(), func(*schema.Event) error {
			t.Error("fn called on an empty outbox")
			return nil
		})
		if n != 0 || err != nil {
			t.Errorf("DrainOutbox = %d, %v; want 0, nil", n, err)
		}
	})
}

// TestDrainOutbox_OtherProcess checks that the server's store drains the
// events that "vigil admin" wrote through its own.
func TestDrainOutbox_OtherProcess(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		db := backend.New(t)
		admin, _ := openOn(t, db)
		server, _ := openOn(t, db)
		addToken(t, admin, RoleAdmin, "ops")
		if n := len(drainAll(t, server)); n != 1 {
			t.Errorf("server drained %d events, want 1", n)
		}
		if n := len(drainAll(t, admin)); n != 0 {
			t.Errorf("%d events left, want none", n)
		}
	})
}

// TestDrainOutbox_InputForm checks that events written in the JSON input
// form, as earlier versions wrote them, drain as the events they hold.
func TestDrainOutbox_InputForm(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		old := `{"topic":"AUDIT","event":"audit.token.add","timestamp":"2026-03-30T21:18:19.123Z","event_id":"01KMYR4YWV4Q8M3HW5C9ZV0N6T","caller":":local","name":"ops","role":"admin"}`
		if _, err := s.db.ExecContext(context.Background(), `INSERT INTO outbox (event) VALUES (?)`, []byte(old)); err != nil {
			t.Fatal(err)
		}
		events := drainAll(t, s)
		want := `{"topic":"AUDIT","event":"audit.token.add","timestamp":"2026-03-30T21:18:19.123Z","event_id":"01KMYR4YWV4Q8M3HW5C9ZV0N6T","caller":{"email":":local"},"name":"ops","role":"admin"}`
		if len(events) != 1 || string(events[0]) != want {
			t.Errorf("drained %q, want %s", events, want)
		}
	})
}

// TestRelayOutbox checks that the relay drains at once and at every
// tick, keeps what emit refused for the next one, and returns nil when
// its context ends.
func TestRelayOutbox(t *testing.T) {
	metadbtest.Run(t, func(t *testing.T, backend metadbtest.Backend) {
		s, _ := openStore(t, backend)
		addToken(t, s, RoleAuditor, "a")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		got := make(chan string, 8)
		fail := true
		emit := func(_ context.Context, events ...*schema.Event) error {
			if fail {
				fail = false // the first attempt fails; the next tick succeeds
				return errors.New("log full")
			}
			for _, e := range events {
				name, _ := e.String("name")
				got <- e.Name() + " " + name
			}
			return nil
		}
		done := make(chan error, 1)
		go func() { done <- s.RelayOutbox(ctx, emit, nil) }()
		select {
		case ev := <-got:
			if ev != "audit.token.add a" {
				t.Errorf("relayed %q", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nothing relayed")
		}
		addToken(t, s, RoleAuditor, "b")
		select {
		case ev := <-got:
			if ev != "audit.token.add b" {
				t.Errorf("relayed %q", ev)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the second event was not relayed")
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RelayOutbox = %v, want nil", err)
		}
	})
}
