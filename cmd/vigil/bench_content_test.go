package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestBenchContent runs vigil bench content, as a process of its own (it
// starts vigil serve from its own binary), on a tiny file: every figure
// is printed, with no claim about its value.
func TestBenchContent(t *testing.T) {
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "bench", "content", "--size", "1MiB", "--ops", "3")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench content: %v\nstdout %s\nstderr %s", err, out, stderr.String())
	}
	wants := []string{
		`upload \(vigil, Go client, plain PUT\): 1 MiB in .*: \d+ MB/s`,
		`download \(vigil, Go client\): 1 MiB in .*: \d+ MB/s`,
		`download \(Go file server, Go client\): 1 MiB in .*: \d+ MB/s`,
		`server memory: idle \d+ MiB, peak \d+ MiB above idle`,
		`metadata create: 3 in .*: \d+ ops/s`,
		`metadata list: 3 in`,
		`metadata rename: 3 in`,
		`metadata delete: 3 in`,
		`audited mutation \(create, rename, delete; 9\): p50 .*, p99 .*, max `,
	}
	if _, err := exec.LookPath("curl"); err == nil {
		wants = append(wants, `download \(vigil, curl\): 1 MiB`, `download \(Go file server, curl\): 1 MiB`)
	}
	for _, w := range wants {
		if !regexp.MustCompile(w).Match(out) {
			t.Errorf("no line matches %q in:\n%s", w, out)
		}
	}
}

// TestBenchContent_BadFlags: flags that cannot work are refused before
// anything starts.
func TestBenchContent_BadFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{args: []string{"--size", "0"}, want: "--size"},
		{args: []string{"--ops", "0"}, want: "--ops"},
		{args: []string{"--size", "lots"}, want: "invalid byte size"},
		{args: []string{"--server", "http://127.0.0.1:1"}, want: "--token"},
	} {
		_, stderr, code := runVigil(t, append([]string{"bench", "content"}, tt.args...)...)
		if code == 0 || !strings.Contains(stderr, tt.want) {
			t.Errorf("%v: exit %d, stderr %q; want an error about %s", tt.args, code, stderr, tt.want)
		}
	}
}
