package main

import (
	"os"
	"strings"
	"testing"
)

func TestBenchStoreCmd_DuckDB(t *testing.T) {
	out, stderr, code := runVigil(t, "bench", "store", "--store", "duckdb", "--events", "3000", "--batch", "1000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"wrote 3000 events", "events/s", "newest 100", "user over a day", "stats top events, all time", "p95"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchStoreCmd_ClickHouse(t *testing.T) {
	addr := os.Getenv("VIGIL_TEST_CLICKHOUSE")
	if addr == "" {
		t.Skip("VIGIL_TEST_CLICKHOUSE is not set")
	}
	out, stderr, code := runVigil(t, "bench", "store", "--store", "clickhouse", "--clickhouse", addr, "--events", "3000", "--batch", "1000")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"wrote 3000 events", "path prefix", "3000 rows", "bytes/event", "rest", "every table", "events_by_user"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestBenchStoreCmd_BadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "store", "--store", "sqlite", "--events", "10", "--batch", "10"},
		{"bench", "store", "--store", "clickhouse", "--events", "10", "--batch", "10"},
		{"bench", "store", "--events", "10", "--batch", "100"},
	} {
		if _, stderr, code := runVigil(t, args...); code == 0 || !strings.Contains(stderr, "--") {
			t.Errorf("%v: exit %d, %q", args, code, stderr)
		}
	}
}
