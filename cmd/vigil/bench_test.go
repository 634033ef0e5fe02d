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
		{"bench", "fresh", "--rate", "2000", "--batch", "200", "--duration", "1s"},
	} {
		out, stderr, code := runVigil(t, args...)
		if code != 0 || !strings.Contains(out, "events/s") || !strings.Contains(out, "2000 events") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
		}
	}
	// Every batch raises its alert: the line counts the batches and gives
	// the lag; nothing about speed.
	out, stderr, code := runVigil(t, "bench", "detect", "--rate", "1000", "--batch", "100", "--duration", "1s")
	if code != 0 || !strings.Contains(out, "detect (1000 events/s, batches of 100") || !strings.Contains(out, "accepted to alert durable p50") {
		t.Errorf("bench detect: exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	if _, stderr, code := runVigil(t, "bench", "detect", "--batch", "1"); code == 0 || !strings.Contains(stderr, "--batch at least 2") {
		t.Errorf("bench detect bad flags: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runVigil(t, "bench", "ingest", "--events", "10", "--batch", "100"); code == 0 || !strings.Contains(stderr, "--events") {
		t.Errorf("bad flags: exit %d, %q", code, stderr)
	}
}

// TestBenchSinkCmd_EveryKind forwards through a sink of every kind to its
// loopback receiver and checks that the result names the kind and counts
// every event. It says nothing about speed.
func TestBenchSinkCmd_EveryKind(t *testing.T) {
	runs := [][]string{{"--plain"}, {"--kind", "splunkhec", "--no-ack"}}
	for _, kind := range benchSinkKinds {
		runs = append(runs, []string{"--kind", kind})
	}
	for _, flags := range runs {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			args := append([]string{"bench", "sink", "--events", "2000"}, flags...)
			out, stderr, code := runVigil(t, args...)
			kind := "tcp"
			if flags[0] == "--kind" {
				kind = flags[1]
			}
			if code != 0 || !strings.Contains(out, "sink "+kind+" (") || !strings.Contains(out, ": 2000 events of ") || !strings.Contains(out, "events/s") {
				t.Errorf("%v: exit %d, stdout %q, stderr %q", args, code, out, stderr)
			}
		})
	}
}

func TestBenchSinkCmd_BadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--kind", "kafka"}, "want one of tcp, tls, syslog, relp, splunkhec"},
		{[]string{"--plain", "--kind", "syslog"}, "--plain is --kind tcp"},
		{[]string{"--kind", "relp", "--no-ack"}, "--no-ack is for --kind splunkhec"},
		{[]string{"--settle", "0s"}, "must be positive"},
	}
	for _, tt := range tests {
		args := append([]string{"bench", "sink", "--events", "10"}, tt.args...)
		if _, stderr, code := runVigil(t, args...); code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q", args, code, stderr, tt.want)
		}
	}
}
