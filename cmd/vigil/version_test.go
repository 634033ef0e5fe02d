package main

import (
	"runtime"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	code, stdout, stderr := runCmd(t, "version")
	if code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
	}
	b := readBuildInfo()
	want := "vigil " + b.Version + "\ngo: " + runtime.Version() + "\n"
	if !strings.HasPrefix(stdout, want) {
		t.Errorf("version output = %q, want prefix %q", stdout, want)
	}
	if b.Version == "" {
		t.Error("version is empty, want at least \"dev\"")
	}
}
