package main

import (
	"strings"
	"testing"
)

func TestBenchCmd(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "normalize", "--events", "2000"},
		{"bench", "ingest", "--events", "2000", "--batch", "500", "--clients", "2"},
		{"bench", "sink", "--events", "2000", "--batch", "300"},
		{"bench", "sink", "--events", "2000", "--plain"},
		{"bench", "fresh", "--rate", "2000", "--batch", "200", "--duration", "1s"},
	} {
		out, stderr, code := runVigil(t, args...)
		if code != 0 || !strings.Contains(out, "events/s") || !strings.Contains(out, "2000 events") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	if _, stderr, code := runVigil(t, "bench", "ingest", "--events", "10", "--batch", "100"); code == 0 || !strings.Contains(stderr, "--events") {
		t.Errorf("bad flags: exit %d, %q", code, stderr)
	}
}
