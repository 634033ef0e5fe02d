package filelog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/ingest/eventlog/logtest"
)

func TestConformance(t *testing.T) {
	logtest.Run(t, func(t *testing.T) logtest.Harness {
		dir := t.TempDir()
		return logtest.Harness{Open: func(t *testing.T) eventlog.Log {
			l, err := filelog.Open(dir, filelog.Config{})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return l
		}}
	})
}

// TestConformance_SmallSegments runs the suite with segments so small that
// most batches start a new one.
func TestConformance_SmallSegments(t *testing.T) {
	logtest.Run(t, func(t *testing.T) logtest.Harness {
		dir := t.TempDir()
		return logtest.Harness{Open: func(t *testing.T) eventlog.Log {
			l, err := filelog.Open(dir, filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 1 << 10})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			return l
		}}
	})
}

func openLog(t *testing.T, dir string, cfg filelog.Config) *filelog.Log {
	t.Helper()
	l, err := filelog.Open(dir, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// makeRecords makes n records with ids PREFIX-i and values of about size
// bytes.
func makeRecords(prefix string, n, size int) []eventlog.Record {
	out := make([]eventlog.Record, n)
	for i := range out {
		id := fmt.Sprintf("%s-%05d", prefix, i)
		v := fmt.Sprintf(`{"topic":"FILE","event":"file.transfer","event_id":%q,"pad":"`, id)
		v += strings.Repeat("x", max(0, size-len(v)-2)) + `"}`
		out[i] = eventlog.Record{Key: []byte(fmt.Sprintf("user%d@example.com", i%7)), ID: id, Value: []byte(v)}
	}
	return out
}

func mustAppend(t *testing.T, l eventlog.Appender, recs []eventlog.Record) {
	t.Helper()
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatalf("Append(%d records): %v", len(recs), err)
	}
}

// replayAll returns every retained record.
func replayAll(t *testing.T, l eventlog.Log) []eventlog.Record {
	t.Helper()
	var out []eventlog.Record
	if err := l.Replay(ctxT(t), time.Time{}, func(r eventlog.Record) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return out
}

type rec struct {
	Key, ID, Value string
	Offset         int64
}

// view keeps what a test compares of records: their contents and offsets.
func view(recs []eventlog.Record) []rec {
	out := make([]rec, len(recs))
	for i, r := range recs {
		out[i] = rec{Key: string(r.Key), ID: r.ID, Value: string(r.Value), Offset: r.Offset}
	}
	return out
}

// numbered gives recs the offsets from first on.
func numbered(recs []eventlog.Record, first int64) []rec {
	out := view(recs)
	for i := range out {
		out[i].Offset = first + int64(i)
	}
	return out
}

func subscribe(t *testing.T, l eventlog.Log, group string) eventlog.Subscription {
	t.Helper()
	s, err := l.Subscribe(ctxT(t), group)
	if err != nil {
		t.Fatalf("Subscribe(%s): %v", group, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func fetchN(t *testing.T, s eventlog.Subscription, n int) []eventlog.Record {
	t.Helper()
	var out []eventlog.Record
	for len(out) < n {
		batch, err := s.Fetch(ctxT(t), n-len(out), 0)
		if err != nil {
			t.Fatalf("Fetch after %d of %d: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	return out
}

func lag(t *testing.T, l eventlog.Log, group string) int64 {
	t.Helper()
	n, err := l.Lag(ctxT(t), group)
	if err != nil {
		t.Fatalf("Lag(%s): %v", group, err)
	}
	return n
}

// metric returns the value of a counter or gauge of the log, 0 if absent.
func metric(t testing.TB, l *filelog.Log, name string, labels ...string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(l.Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					found = found || lp.GetName() == labels[i] && lp.GetValue() == labels[i+1]
				}
				if !found {
					continue next
				}
			}
			switch {
			case m.GetCounter() != nil:
				return m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				return m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func segmentFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// waitFor polls cond, for conditions that a background goroutine makes
// true (retention); it never asserts on how long that took.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConfig_Validate(t *testing.T) {
	tests := []struct {
		name string
		cfg  filelog.Config
		want []string // substrings of the error, in order; none for valid
	}{
		{name: "defaults", cfg: filelog.Config{}},
		{name: "explicit", cfg: filelog.Config{MaxBytes: 1 << 30, SegmentBytes: 64 << 20, Retention: time.Hour,
			Groups: map[string]bool{"store": true, "sink.siem": false, "detect": false}}},
		{name: "segment not below max", cfg: filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 1 << 20},
			want: []string{"segment_bytes: must be smaller than max_bytes"}},
		{name: "default segment shrinks to a small max", cfg: filelog.Config{MaxBytes: 64 << 20}},
		{name: "default segment shrinks to a tiny max", cfg: filelog.Config{MaxBytes: 1 << 20}},
		{name: "set segment above small max", cfg: filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 2 << 20},
			want: []string{"segment_bytes: must be smaller than max_bytes"}},
		{name: "negative values", cfg: filelog.Config{MaxBytes: -1, SegmentBytes: -1, Retention: -time.Second},
			want: []string{"max_bytes: must not be negative", "segment_bytes: must not be negative", "retention: must not be negative"}},
		{name: "tiny segment", cfg: filelog.Config{SegmentBytes: 100},
			want: []string{"segment_bytes: must be at least 1024"}},
		{name: "bad group names", cfg: filelog.Config{Groups: map[string]bool{"": true, "a\nb": false}},
			want: []string{`groups: "": empty group name`, `groups: "a\nb": group name contains control characters`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.want)
			}
			got := strings.Split(err.Error(), "\n")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() errors (-want +got):\n%s", diff)
			}
			if _, err := filelog.Open(t.TempDir(), tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want[0]) {
				t.Errorf("Open() = %v, want the validation error", err)
			}
		})
	}
}

func TestRecords_RoundTripExactly(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, filelog.Config{})
	big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 50_000)
	recs := []eventlog.Record{
		{Key: []byte("alice"), ID: "01J0", Value: []byte(`{"a":1}`)},
		{ID: "no-key-no-value"},
		{Key: []byte{0, 0xff, '\n'}, ID: "binary\x00id\xff", Value: []byte{0, 0, 0}},
		{Key: bytes.Repeat([]byte("k"), 300), ID: strings.Repeat("i", 200), Value: big},
		{Key: []byte("é"), ID: "ü", Value: []byte("ß")},
	}
	before := time.Now().Truncate(time.Millisecond)
	mustAppend(t, l, recs)
	after := time.Now()
	check := func(got []eventlog.Record) {
		t.Helper()
		if diff := cmp.Diff(numbered(recs, 0), view(got)); diff != "" {
			t.Errorf("records (-want +got):\n%s", diff)
		}
		for _, r := range got {
			if r.Time.Before(before) || r.Time.After(after) || r.Partition != 0 {
				t.Errorf("record %q: time %v partition %d; want a time in [%v, %v] and partition 0", r.ID, r.Time, r.Partition, before, after)
			}
		}
	}
	check(fetchN(t, subscribe(t, l, "g"), len(recs)))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check(replayAll(t, openLog(t, dir, filelog.Config{})))
}

func TestAppend_TimesAreMonotonic(t *testing.T) {
	l := openLog(t, t.TempDir(), filelog.Config{})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 20 {
				if err := l.Append(context.Background(), makeRecords(fmt.Sprintf("w%d-%d", w, i), 3, 100)); err != nil {
					t.Errorf("Append: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got := replayAll(t, l)
	if len(got) != 8*20*3 {
		t.Fatalf("%d records, want %d", len(got), 8*20*3)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Offset != got[i-1].Offset+1 || got[i].Time.Before(got[i-1].Time) {
			t.Fatalf("record %d: offset %d time %v after offset %d time %v; want dense offsets and monotonic times",
				i, got[i].Offset, got[i].Time, got[i-1].Offset, got[i-1].Time)
		}
	}
}

// lastAppend appends first, then last, closes the log, and returns the
// segment file and its size before and after last.
func lastAppend(t *testing.T, dir string, first, last []eventlog.Record) (path string, before, after int64) {
	t.Helper()
	l, err := filelog.Open(dir, filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, first)
	files := segmentFiles(t, dir)
	path = files[len(files)-1]
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	mustAppend(t, l, last)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	fi2, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, fi.Size(), fi2.Size()
}

// checkRecovered opens dir and checks that it holds exactly want, and that
// appends continue after them.
func checkRecovered(t *testing.T, dir string, want []eventlog.Record) {
	t.Helper()
	l, err := filelog.Open(dir, filelog.Config{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer l.Close()
	if diff := cmp.Diff(numbered(want, 0), view(replayAll(t, l))); diff != "" {
		t.Fatalf("records after reopening (-want +got):\n%s", diff)
	}
	more := makeRecords("more", 2, 50)
	mustAppend(t, l, more)
	if diff := cmp.Diff(numbered(append(slices.Clone(want), more...), 0), view(replayAll(t, l))); diff != "" {
		t.Fatalf("records after appending to the recovered log (-want +got):\n%s", diff)
	}
}

func TestOpen_TornTail(t *testing.T) {
	base := t.TempDir()
	first := makeRecords("r", 4, 120)
	last := makeRecords("last", 1, 120)
	path, before, after := lastAppend(t, base, first, last)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Every cut inside the last frame loses it and only it; a cut at its
	// end loses nothing.
	for cut := before; cut <= after; cut++ {
		t.Run(fmt.Sprint("cut=", cut-before), func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), data[:cut], 0o644); err != nil {
				t.Fatal(err)
			}
			want := first
			if cut == after {
				want = append(slices.Clone(first), last...)
			}
			checkRecovered(t, dir, want)
		})
	}
}

func TestOpen_CorruptTail(t *testing.T) {
	base := t.TempDir()
	first := makeRecords("r", 4, 120)
	last := makeRecords("last", 1, 120)
	path, before, after := lastAppend(t, base, first, last)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		mutate func(b []byte) []byte
		want   []eventlog.Record
	}{
		{"length", func(b []byte) []byte { b[before+3] ^= 0x40; return b }, first},
		{"checksum", func(b []byte) []byte { b[before+5] ^= 1; return b }, first},
		{"time", func(b []byte) []byte { b[before+10] ^= 1; return b }, first},
		{"value", func(b []byte) []byte { b[after-3] ^= 0x20; return b }, first},
		{"zero length frame", func(b []byte) []byte { clear(b[before:after]); return b }, first},
		{"zeros after the last frame", func(b []byte) []byte { return append(b, make([]byte, 4096)...) }, append(slices.Clone(first), last...)},
		{"garbage after the last frame", func(b []byte) []byte { return append(b, "garbage that is not a frame"...) }, append(slices.Clone(first), last...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), tt.mutate(slices.Clone(data)), 0o644); err != nil {
				t.Fatal(err)
			}
			checkRecovered(t, dir, tt.want)
		})
	}
}

func TestOpen_UnfinishedSegmentHeader(t *testing.T) {
	for _, size := range []int{0, 10, 32} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			dir := t.TempDir()
			recs := makeRecords("r", 3, 100)
			l := openLog(t, dir, filelog.Config{})
			mustAppend(t, l, recs)
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			// The process stopped while it created the next segment.
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%020d.seg", 3)), make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
			checkRecovered(t, dir, recs)
		})
	}
}

func TestOpen_UnknownVersion(t *testing.T) {
	for _, which := range []string{"sealed", "last"} {
		t.Run(which, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, dir, filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 1 << 10})
			mustAppend(t, l, makeRecords("a", 8, 200))
			mustAppend(t, l, makeRecords("b", 8, 200))
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			files := segmentFiles(t, dir)
			if len(files) < 2 {
				t.Fatalf("%d segments, want 2 or more", len(files))
			}
			path := files[0]
			if which == "last" {
				path = files[len(files)-1]
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			b[5] = 9 // version 9
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = filelog.Open(dir, filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 1 << 10})
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "version 9") {
				t.Fatalf("Open = %v; want an error naming %s and its version", err, path)
			}
		})
	}
}

func TestOpen_CorruptOffsetsFile(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir, filelog.Config{})
	mustAppend(t, l, makeRecords("r", 3, 50))
	s := subscribe(t, l, "store")
	if err := s.Commit(ctxT(t), fetchN(t, s, 3)); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "offsets", "store.offset")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[9] ^= 1
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := filelog.Open(dir, filelog.Config{}); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open = %v; want an error naming %s", err, path)
	}
}

func TestOpen_Locked(t *testing.T) {
	dir := t.TempDir()
	openLog(t, dir, filelog.Config{})
	if l, err := filelog.Open(dir, filelog.Config{}); err == nil {
		l.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
}

func TestRotation_BySize(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 4 << 10}
	l := openLog(t, dir, cfg)
	var want []eventlog.Record
	for b := range 40 {
		recs := makeRecords(fmt.Sprint("b", b), 5, 180)
		mustAppend(t, l, recs)
		want = append(want, recs...)
	}
	files := segmentFiles(t, dir)
	if len(files) < 10 {
		t.Fatalf("%d segments; want 4 KiB segments to hold about 4 batches each", len(files))
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err != nil || fi.Size() > cfg.SegmentBytes {
			t.Errorf("segment %s: %v bytes, err %v; want at most %d", f, fi.Size(), err, cfg.SegmentBytes)
		}
	}
	if got := metric(t, l, "vigil_filelog_segments"); got != float64(len(files)) {
		t.Errorf("segments gauge = %v, want %d", got, len(files))
	}
	var disk int64
	for _, f := range files {
		fi, _ := os.Stat(f)
		disk += fi.Size()
	}
	if got := metric(t, l, "vigil_filelog_disk_bytes"); got != float64(disk) {
		t.Errorf("disk bytes gauge = %v, want %d", got, disk)
	}
	if diff := cmp.Diff(numbered(want, 0), view(fetchN(t, subscribe(t, l, "g"), len(want)))); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, cfg)
	if diff := cmp.Diff(numbered(want, 0), view(replayAll(t, l2))); diff != "" {
		t.Errorf("records after reopening (-want +got):\n%s", diff)
	}
}

// TestReopen_SeekIntoOldSegment reads from the middle of segments that
// Open did not scan, which the reader indexes on first use.
func TestReopen_SeekIntoOldSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{MaxBytes: 64 << 20, SegmentBytes: 256 << 10}
	l := openLog(t, dir, cfg)
	var want []eventlog.Record
	for b := range 30 {
		recs := makeRecords(fmt.Sprint("b", b), 200, 300)
		mustAppend(t, l, recs)
		want = append(want, recs...)
	}
	if n := len(segmentFiles(t, dir)); n < 3 {
		t.Fatalf("%d segments, want several", n)
	}
	for _, at := range []int{1, 2999, 3001, 4567} {
		s := subscribe(t, l, fmt.Sprint("g", at))
		if err := s.Commit(ctxT(t), fetchN(t, s, at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, cfg)
	for _, at := range []int{1, 2999, 3001, 4567} {
		group := fmt.Sprint("g", at)
		if got := lag(t, l2, group); got != int64(len(want)-at) {
			t.Errorf("lag of %s = %d, want %d", group, got, len(want)-at)
		}
		got := fetchN(t, subscribe(t, l2, group), 10)
		if diff := cmp.Diff(numbered(want[at:at+10], int64(at)), view(got)); diff != "" {
			t.Errorf("group %s resumes with (-want +got):\n%s", group, diff)
		}
	}
}

func TestReplay_Since(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{MaxBytes: 64 << 20, SegmentBytes: 256 << 10}
	l := openLog(t, dir, cfg)
	old := makeRecords("old", 3000, 300)
	for i := 0; i < len(old); i += 500 {
		mustAppend(t, l, old[i:i+500])
	}
	time.Sleep(20 * time.Millisecond)
	since := time.Now()
	recent := makeRecords("new", 700, 300)
	mustAppend(t, l, recent[:300])
	mustAppend(t, l, recent[300:])
	check := func(l eventlog.Log) {
		t.Helper()
		var got []eventlog.Record
		if err := l.Replay(ctxT(t), since, func(r eventlog.Record) error {
			got = append(got, r)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(numbered(recent, int64(len(old))), view(got)); diff != "" {
			t.Errorf("Replay(since) (-want +got):\n%s", diff)
		}
	}
	check(l)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	check(openLog(t, dir, cfg))
}

func TestOffsets_SurviveReopen(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{Groups: map[string]bool{"store": true, "detect": false}}
	l := openLog(t, dir, cfg)
	recs := makeRecords("r", 30, 80)
	mustAppend(t, l, recs)
	commits := map[string]int{"store": 30, "detect": 7, "sink.siem/eu": 12, ".hidden": 1}
	for g, n := range commits {
		s := subscribe(t, l, g)
		got := fetchN(t, s, n)
		if err := s.Commit(ctxT(t), got[:n/2]); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctxT(t), got[n/2:]); err != nil {
			t.Fatal(err)
		}
		// Committing less again never moves the group back.
		if err := s.Commit(ctxT(t), got[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2 := openLog(t, dir, cfg)
	for g, n := range commits {
		if got := lag(t, l2, g); got != int64(30-n) {
			t.Errorf("lag of %s after reopening = %d, want %d", g, got, 30-n)
		}
	}
	if got := lag(t, l2, "never"); got != 30 {
		t.Errorf("lag of a group that never committed = %d, want 30", got)
	}
	got := fetchN(t, subscribe(t, l2, "detect"), 23)
	if diff := cmp.Diff(numbered(recs[7:], 7), view(got)); diff != "" {
		t.Errorf("detect resumes with (-want +got):\n%s", diff)
	}
}

func TestCommit_Checks(t *testing.T) {
	l := openLog(t, t.TempDir(), filelog.Config{})
	mustAppend(t, l, makeRecords("r", 5, 50))
	s := subscribe(t, l, "g")
	got := fetchN(t, s, 2)
	if err := s.Commit(ctxT(t), []eventlog.Record{{Offset: 3}}); err == nil {
		t.Error("Commit of a record not fetched succeeded")
	}
	if err := s.Commit(ctxT(t), []eventlog.Record{{Offset: 0, Partition: 1}}); err == nil {
		t.Error("Commit of a record of partition 1 succeeded")
	}
	if err := s.Commit(ctxT(t), nil); err != nil {
		t.Errorf("Commit(nil) = %v", err)
	}
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Errorf("Commit = %v", err)
	}
	if _, err := l.Subscribe(ctxT(t), "g"); err == nil {
		t.Error("a second subscription of an open group succeeded")
	}
	if _, err := s.Fetch(ctxT(t), 0, 0); err == nil {
		t.Error("Fetch(max 0) succeeded")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Fetch(ctxT(t), 1, 0); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Fetch after Close = %v, want ErrClosed", err)
	}
	if err := s.Commit(ctxT(t), got); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	s2 := subscribe(t, l, "g")
	if diff := cmp.Diff([]string{"r-00002", "r-00003", "r-00004"}, ids(fetchN(t, s2, 3))); diff != "" {
		t.Errorf("after reopening the subscription (-want +got):\n%s", diff)
	}
}

func ids(recs []eventlog.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

func TestFetch_ReturnsWhenLogCloses(t *testing.T) {
	l, err := filelog.Open(t.TempDir(), filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Fetch(context.Background(), 10, 0)
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Fetch when the log closed = %v, want ErrClosed", err)
	}
	if err := l.Ready(); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
	if _, err := l.Subscribe(ctxT(t), "h"); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
}

// TestFetch_Linger checks that Fetch waits up to linger for max records
// and returns as soon as it has them.
func TestFetch_Linger(t *testing.T) {
	l := openLog(t, t.TempDir(), filelog.Config{})
	s := subscribe(t, l, "g")
	mustAppend(t, l, makeRecords("a", 2, 50))
	got := make(chan []eventlog.Record, 1)
	go func() {
		batch, err := s.Fetch(ctxT(t), 5, time.Minute)
		if err != nil {
			t.Errorf("Fetch: %v", err)
		}
		got <- batch
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case batch := <-got:
		t.Fatalf("Fetch returned %v before it had max records or linger passed", ids(batch))
	default:
	}
	mustAppend(t, l, makeRecords("b", 3, 50))
	if diff := cmp.Diff([]string{"a-00000", "a-00001", "b-00000", "b-00001", "b-00002"}, ids(<-got)); diff != "" {
		t.Errorf("Fetch (-want +got):\n%s", diff)
	}

	// Cancelled while lingering, it returns what it has.
	mustAppend(t, l, makeRecords("c", 1, 50))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	batch, err := s.Fetch(ctx, 5, time.Minute)
	if err != nil || len(batch) != 1 {
		t.Errorf("Fetch cancelled while lingering = %v, %v; want the one record", ids(batch), err)
	}
}

// TestGroupCommit checks that concurrent appends share fsyncs.
func TestGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir(), filelog.Config{})
	const writers, appends = 64, 20
	start := make(chan struct{})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			<-start
			for a := range appends {
				if err := l.Append(context.Background(), makeRecords(fmt.Sprintf("w%d-%d", w, a), 1, 580)); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
			}
		})
	}
	before := metric(t, l, "vigil_filelog_fsyncs_total")
	close(start)
	wg.Wait()
	fsyncs := metric(t, l, "vigil_filelog_fsyncs_total") - before
	t.Logf("%d appends, %v fsyncs", writers*appends, fsyncs)
	if fsyncs > writers*appends/8 {
		t.Errorf("%v fsyncs for %d concurrent appends; want them to share fsyncs (at most %d)", fsyncs, writers*appends, writers*appends/8)
	}
	if got := metric(t, l, "vigil_filelog_appended_records_total"); got != writers*appends {
		t.Errorf("appended records = %v, want %d", got, writers*appends)
	}
	if got := metric(t, l, "vigil_filelog_append_seconds"); got != writers*appends {
		t.Errorf("append latency observations = %v, want %d", got, writers*appends)
	}
	if got := len(replayAll(t, l)); got != writers*appends {
		t.Errorf("%d records, want %d", got, writers*appends)
	}
}

// skips collects OnSkip calls.
type skips struct {
	mu    sync.Mutex
	calls map[string]int64
}

func (s *skips) onSkip(group string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.calls == nil {
		s.calls = map[string]int64{}
	}
	s.calls[group] += n
}

func (s *skips) get() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// oldest returns the offset of the oldest retained record: a group that
// never committed lags by everything retained.
func oldest(t *testing.T, l eventlog.Log, next int64) int64 {
	t.Helper()
	return next - lag(t, l, "nobody")
}

func TestRetention_BySize(t *testing.T) {
	dir := t.TempDir()
	var sk skips
	cfg := filelog.Config{MaxBytes: 32 << 10, SegmentBytes: 4 << 10,
		Groups: map[string]bool{"store": true, "detect": false}, OnSkip: sk.onSkip}
	l := openLog(t, dir, cfg)
	store, detect := subscribe(t, l, "store"), subscribe(t, l, "detect")

	// detect commits one record and stops; store keeps up.
	var next int64
	for b := range 100 {
		recs := makeRecords(fmt.Sprint("b", b), 4, 200)
		mustAppend(t, l, recs)
		next += int64(len(recs))
		if err := store.Commit(ctxT(t), fetchN(t, store, len(recs))); err != nil {
			t.Fatal(err)
		}
		if b == 0 {
			if err := detect.Commit(ctxT(t), fetchN(t, detect, 1)); err != nil {
				t.Fatal(err)
			}
		}
		if disk := metric(t, l, "vigil_filelog_disk_bytes"); disk > float64(cfg.MaxBytes) {
			t.Fatalf("disk bytes %v over the budget %d", disk, cfg.MaxBytes)
		}
	}
	first := oldest(t, l, next)
	if first == 0 {
		t.Fatal("nothing was deleted")
	}
	if n := len(segmentFiles(t, dir)); float64(n) != metric(t, l, "vigil_filelog_segments") || n > 9 {
		t.Errorf("%d segment files (gauge %v); want at most 32 KiB of 4 KiB segments", n, metric(t, l, "vigil_filelog_segments"))
	}
	// detect lost everything before the oldest retained record but the
	// one it committed.
	waitFor(t, "OnSkip", func() bool { return sk.get()["detect"] == first-1 })
	if diff := cmp.Diff(map[string]int64{"detect": first - 1}, sk.get()); diff != "" {
		t.Errorf("OnSkip calls (-want +got):\n%s", diff)
	}
	if got := metric(t, l, "vigil_filelog_skipped_records_total", "group", "detect"); got != float64(first-1) {
		t.Errorf("skipped records of detect = %v, want %d", got, first-1)
	}
	if got := lag(t, l, "detect"); got != next-first {
		t.Errorf("lag of detect = %d, want %d (everything retained)", got, next-first)
	}
	// detect's subscription goes on from the oldest retained record.
	got := fetchN(t, detect, 1)
	if got[0].Offset != first {
		t.Errorf("detect fetched offset %d, want %d", got[0].Offset, first)
	}
	// The replay starts at the oldest retained record too.
	if all := replayAll(t, l); len(all) != int(next-first) || all[0].Offset != first {
		t.Errorf("replay: %d records from offset %d; want %d from %d", len(all), all[0].Offset, next-first, first)
	}
}

func TestAppend_FullUntilRequiredGroupCommits(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{MaxBytes: 16 << 10, SegmentBytes: 4 << 10, Groups: map[string]bool{"store": true}}
	l := openLog(t, dir, cfg)

	// store never committed: it holds every record.
	var appended []eventlog.Record
	var full error
	for b := 0; full == nil; b++ {
		if b > 100 {
			t.Fatal("the log never filled up")
		}
		recs := makeRecords(fmt.Sprint("b", b), 4, 200)
		if full = l.Append(ctxT(t), recs); full == nil {
			appended = append(appended, recs...)
		}
	}
	if !errors.Is(full, eventlog.ErrFull) || !strings.Contains(full.Error(), `"store"`) {
		t.Fatalf("Append to a full log = %v; want ErrFull naming the group that holds it", full)
	}
	if err := l.Ready(); !errors.Is(err, eventlog.ErrFull) {
		t.Errorf("Ready of a full log = %v, want ErrFull", err)
	}
	if got := metric(t, l, "vigil_filelog_full_appends_total"); got != 1 {
		t.Errorf("full appends = %v, want 1", got)
	}
	if disk := metric(t, l, "vigil_filelog_disk_bytes"); disk > float64(cfg.MaxBytes) {
		t.Errorf("disk bytes %v over the budget %d", disk, cfg.MaxBytes)
	}
	// Nothing was lost or deleted.
	if diff := cmp.Diff(numbered(appended, 0), view(replayAll(t, l))); diff != "" {
		t.Fatalf("records of the full log (-want +got):\n%s", diff)
	}
	// Still full after reopening.
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l = openLog(t, dir, cfg)
	if err := l.Append(ctxT(t), makeRecords("again", 4, 200)); !errors.Is(err, eventlog.ErrFull) {
		t.Fatalf("Append after reopening = %v, want ErrFull", err)
	}

	// Once store commits, retention makes room.
	s := subscribe(t, l, "store")
	got := fetchN(t, s, len(appended))
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready", func() bool { return l.Ready() == nil })
	more := makeRecords("more", 4, 200)
	mustAppend(t, l, more)
	if diff := cmp.Diff(numbered(more, int64(len(appended))), view(fetchN(t, s, len(more)))); diff != "" {
		t.Errorf("store reads (-want +got):\n%s", diff)
	}
}

func TestRetention_ByAge(t *testing.T) {
	dir := t.TempDir()
	var sk skips
	const retention = 300 * time.Millisecond
	cfg := filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 2 << 10, Retention: retention,
		Groups: map[string]bool{"store": true, "detect": false}, OnSkip: sk.onSkip}
	l := openLog(t, dir, cfg)
	var recs []eventlog.Record
	for b := range 10 {
		batch := makeRecords(fmt.Sprint("b", b), 4, 200)
		mustAppend(t, l, batch)
		recs = append(recs, batch...)
	}
	next := int64(len(recs))
	nsegs := len(segmentFiles(t, dir))
	if nsegs < 5 {
		t.Fatalf("%d segments, want several", nsegs)
	}
	store, detect := subscribe(t, l, "store"), subscribe(t, l, "detect")
	// store has committed half the records, detect two.
	half := next / 2
	if err := store.Commit(ctxT(t), fetchN(t, store, int(half))); err != nil {
		t.Fatal(err)
	}
	if err := detect.Commit(ctxT(t), fetchN(t, detect, 2)); err != nil {
		t.Fatal(err)
	}

	// Once they expire, the segments below store's offset go; the one
	// holding it stays.
	waitFor(t, "retention to delete old segments", func() bool { return oldest(t, l, next) > 0 })
	time.Sleep(2 * retention) // retention runs several times more
	first := oldest(t, l, next)
	if first > half || half-first > 20 {
		t.Errorf("oldest retained offset %d; want the segment holding offset %d kept, and those before it deleted", first, half)
	}
	if got := lag(t, l, "store"); got != next-half {
		t.Errorf("lag of store = %d, want %d", got, next-half)
	}
	waitFor(t, "OnSkip", func() bool { return sk.get()["detect"] == first-2 })
	if got := metric(t, l, "vigil_filelog_skipped_records_total", "group", "detect"); got != float64(first-2) {
		t.Errorf("skipped records of detect = %v, want %d", got, first-2)
	}

	// Once store commits everything, every expired record goes, the
	// segment being written included.
	if err := store.Commit(ctxT(t), fetchN(t, store, int(next-half))); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "retention to delete every expired record", func() bool { return lag(t, l, "nobody") == 0 })
	if got := len(replayAll(t, l)); got != 0 {
		t.Errorf("%d records after all expired, want 0", got)
	}
	// The log goes on from where it was.
	mustAppend(t, l, makeRecords("new", 1, 50))
	if got := replayAll(t, l); len(got) != 1 || got[0].Offset != next {
		t.Errorf("after expiry, replay = %v; want one record at offset %d", view(got), next)
	}
}

// TestRecovery_SnapshotWhileAppending copies the log's files while
// appenders run, as a crash would leave them (the last frame of a segment
// may be half written), and checks that the copy opens with every record
// whose Append had returned before the copy began.
func TestRecovery_SnapshotWhileAppending(t *testing.T) {
	dir := t.TempDir()
	cfg := filelog.Config{MaxBytes: 64 << 20, SegmentBytes: 64 << 10}
	l := openLog(t, dir, cfg)
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		wg    sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(context.Background())
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				recs := makeRecords(fmt.Sprintf("w%d-%d", w, i), 1+i%5, 300)
				if err := l.Append(context.Background(), recs); err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				for _, r := range recs {
					acked[r.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	before := maps.Clone(acked)
	mu.Unlock()
	snap := t.TempDir()
	for _, path := range segmentFiles(t, dir) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(snap, filepath.Base(path)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
	if len(before) < 100 {
		t.Fatalf("only %d records appended before the copy", len(before))
	}

	got := replayAll(t, openLog(t, snap, cfg))
	for i, r := range got {
		if r.Offset != int64(i) {
			t.Fatalf("record %d has offset %d", i, r.Offset)
		}
		delete(before, r.ID)
	}
	if len(before) > 0 {
		t.Errorf("%d acknowledged records missing from the copy, e.g. %v", len(before), slices.Collect(maps.Keys(before))[:1])
	}
}

// TestClose_DuringAppends checks that every append racing with Close
// either succeeds, and its records are there after reopening, or fails
// with ErrClosed.
func TestClose_DuringAppends(t *testing.T) {
	dir := t.TempDir()
	l, err := filelog.Open(dir, filelog.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
	)
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				recs := makeRecords(fmt.Sprintf("w%d-%d", w, i), 2, 100)
				err := l.Append(context.Background(), recs)
				if errors.Is(err, eventlog.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Append: %v", err)
					return
				}
				mu.Lock()
				acked = append(acked, ids(recs)...)
				mu.Unlock()
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	got := ids(replayAll(t, openLog(t, dir, filelog.Config{})))
	slices.Sort(got)
	slices.Sort(acked)
	if diff := cmp.Diff(acked, got); diff != "" {
		t.Errorf("records after reopening differ from the acknowledged ones (-acked +stored):\n%s", diff)
	}
}

func TestAppend_CancelledIsNotWritten(t *testing.T) {
	l := openLog(t, t.TempDir(), filelog.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Append(ctx, makeRecords("cancelled", 3, 50)); !errors.Is(err, context.Canceled) {
		t.Fatalf("Append with a cancelled context = %v, want context.Canceled", err)
	}
	mustAppend(t, l, makeRecords("ok", 1, 50)) // queued after it: the writer has seen both
	if diff := cmp.Diff([]string{"ok-00000"}, ids(replayAll(t, l))); diff != "" {
		t.Errorf("records (-want +got):\n%s", diff)
	}
	if err := l.Ready(); err != nil {
		t.Errorf("Ready = %v, want nil", err)
	}
}

// TestFull_ReadyAgainBelowLowWater: once an append was refused, an append
// that fits does not make the log ready again; only usage below the
// low-water mark does, and each transition is logged once.
func TestFull_ReadyAgainBelowLowWater(t *testing.T) {
	dir := t.TempDir()
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{mu: &logMu, w: &logs}, nil))
	cfg := filelog.Config{MaxBytes: 40 << 10, SegmentBytes: 2 << 10, Groups: map[string]bool{"store": true}, Logger: logger}
	l := openLog(t, dir, cfg)
	n := 0
	for b := 0; ; b++ {
		if b > 200 {
			t.Fatal("the log never filled up")
		}
		recs := makeRecords(fmt.Sprint("b", b), 4, 200)
		if err := l.Append(ctxT(t), recs); err != nil {
			if !errors.Is(err, eventlog.ErrFull) {
				t.Fatal(err)
			}
			break
		}
		n += len(recs)
	}
	// store commits the first segment only: retention frees it, which
	// leaves the log above the low-water mark.
	files := segmentFiles(t, dir)
	var second int64
	fmt.Sscanf(filepath.Base(files[1]), "%d", &second)
	s := subscribe(t, l, "store")
	got := fetchN(t, s, int(second))
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first segment to go", func() bool { return len(segmentFiles(t, dir)) < len(files) })
	// A batch that fits is taken, and the log stays not ready.
	mustAppend(t, l, makeRecords("fits", 1, 200))
	n++
	if err := l.Ready(); !errors.Is(err, eventlog.ErrFull) {
		t.Fatalf("Ready after an append that fits, above the low-water mark = %v, want ErrFull", err)
	}
	// Batches that do not fit are refused again.
	for j := 0; ; j++ {
		if j > 100 {
			t.Fatal("never refused")
		}
		recs := makeRecords(fmt.Sprint("more", j), 4, 200)
		if err := l.Append(ctxT(t), recs); errors.Is(err, eventlog.ErrFull) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n += len(recs)
	}
	// Everything committed: retention frees below the mark.
	got = append(got, fetchN(t, s, n-len(got))...)
	if err := s.Commit(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Ready", func() bool { return l.Ready() == nil })
	if disk := metric(t, l, "vigil_filelog_disk_bytes"); disk > float64(cfg.MaxBytes)*0.9 {
		t.Errorf("ready again at %v bytes, above the low-water mark", disk)
	}
	logMu.Lock()
	text := logs.String()
	logMu.Unlock()
	if c := strings.Count(text, "event log full"); c != 1 {
		t.Errorf("the full state was logged %d times, want once:\n%s", c, text)
	}
	if c := strings.Count(text, "event log accepts appends again"); c != 1 {
		t.Errorf("the end of the full state was logged %d times, want once:\n%s", c, text)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
