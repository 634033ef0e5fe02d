package sample_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/schema/sample"
)

func TestGenerate_SameSeedSameEvents(t *testing.T) {
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a, err := sample.Generate(3, 500, 20, start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	b, err := sample.Generate(3, 500, 20, start, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 500 || len(b) != 500 {
		t.Fatalf("generated %d and %d events, want 500", len(a), len(b))
	}
	ids := map[string]bool{}
	for i := range a {
		if !bytes.Equal(a[i].Wire(), b[i].Wire()) {
			t.Fatalf("event %d differs between runs:\n%s\n%s", i, a[i].Wire(), b[i].Wire())
		}
		if ts := a[i].Timestamp(); ts.Before(start) || !ts.Before(start.Add(time.Hour)) {
			t.Errorf("event %d at %v, outside the span", i, ts)
		}
		ids[a[i].ID()] = true
	}
	if len(ids) != len(a) {
		t.Errorf("%d distinct ids among %d events", len(ids), len(a))
	}
}

func TestHex(t *testing.T) {
	h := sample.Hex("device-1")
	if len(h) != 32 || h != sample.Hex("device-1") || h == sample.Hex("device-2") {
		t.Errorf("Hex(device-1) = %q", h)
	}
}
