package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// testEvents returns n events numbered from first: file.transfer events
// whose "n" member tells them apart.
func testEvents(first, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"topic":"FILE","event":"file.transfer","timestamp":"2026-01-02T03:04:05.000Z","n":%d}`, first+i)
	}
	return out
}

// ndjson joins events into NDJSON.
func ndjson(events [][]byte) []byte {
	var b bytes.Buffer
	for _, e := range events {
		b.Write(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// eventN returns the "n" member of an event, -1 without one.
func eventN(t *testing.T, raw []byte) int {
	t.Helper()
	var ev struct {
		N *int `json:"n"`
	}
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatalf("event %s: %v", raw, err)
	}
	if ev.N == nil {
		return -1
	}
	return *ev.N
}

func openSpool(t *testing.T, dir string, opts SpoolOptions) *Spool {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := OpenSpool(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func newUploader(t *testing.T, url string) *Uploader {
	t.Helper()
	u, err := NewUploader(UploaderConfig{
		Server: url, Token: "device-token",
		InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		RequestTimeout: 10 * time.Second,
		Logger:         testLogger(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { u.Close() })
	return u
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(&testWriter{t: t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct {
	mu sync.Mutex
	t  *testing.T
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.t.Log(string(bytes.TrimSuffix(p, []byte("\n"))))
	return len(p), nil
}
