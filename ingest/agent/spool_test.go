package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// drain reads the spool batch by batch, acknowledging each, and returns
// the "n" of every event in order. It fails the test if seqs do not
// increase.
func drain(t *testing.T, s *Spool, batch int) []int {
	t.Helper()
	var ns []int
	var last uint64
	for {
		b, err := s.Next(batch, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Events) == 0 {
			if b.Last > s.Acked() {
				if err := s.Ack(b.Last); err != nil {
					t.Fatal(err)
				}
				continue
			}
			return ns
		}
		for i, e := range b.Events {
			if b.Seqs[i] <= last {
				t.Fatalf("seq %d after %d", b.Seqs[i], last)
			}
			last = b.Seqs[i]
			ns = append(ns, eventN(t, e))
		}
		if err := s.Ack(b.Last); err != nil {
			t.Fatal(err)
		}
	}
}

func seqRange(first, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = first + i
	}
	return out
}

func mustAdd(t *testing.T, s *Spool, events [][]byte) (uint64, uint64) {
	t.Helper()
	first, last, err := s.Add(events)
	if err != nil {
		t.Fatal(err)
	}
	return first, last
}

func TestSpool_OrderAndSeq(t *testing.T) {
	s := openSpool(t, t.TempDir(), SpoolOptions{SegmentBytes: 512})
	first, last := mustAdd(t, s, testEvents(0, 10))
	if first != 1 || last != 10 {
		t.Fatalf("seqs %d..%d, want 1..10", first, last)
	}
	first, last = mustAdd(t, s, testEvents(10, 25))
	if first != 11 || last != 35 {
		t.Fatalf("seqs %d..%d, want 11..35", first, last)
	}
	if got := s.Pending(); got != 35 {
		t.Fatalf("pending %d, want 35", got)
	}
	b, err := s.Next(1000, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range b.Events {
		want := fmt.Sprintf(`{"seq":%d,"topic":"FILE",`, i+1)
		if !bytes.HasPrefix(e, []byte(want)) || b.Seqs[i] != uint64(i+1) {
			t.Fatalf("event %d = %s (seq %d), want it to start %s", i, e, b.Seqs[i], want)
		}
	}
	if diff := cmp.Diff(seqRange(0, 35), drain(t, s, 7)); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := s.Pending(); got != 0 {
		t.Errorf("pending %d after draining", got)
	}
}

func TestSpool_NextLimits(t *testing.T) {
	events := testEvents(0, 10)
	size := len(events[0]) + len(`"seq":1,`) + 1 // one event in a batch, with its newline
	tests := []struct {
		name      string
		maxEvents int
		maxBytes  int
		want      int
	}{
		{"by count", 3, 1 << 20, 3},
		{"by bytes", 100, 3*size + 5, 3},
		{"first event alone is over the limit", 100, 10, 1},
		{"everything", 100, 1 << 20, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSpool(t, t.TempDir(), SpoolOptions{})
			mustAdd(t, s, events)
			b, err := s.Next(tt.maxEvents, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if len(b.Events) != tt.want || b.Last != uint64(tt.want) {
				t.Errorf("batch of %d events up to %d, want %d", len(b.Events), b.Last, tt.want)
			}
			again, err := s.Next(tt.maxEvents, tt.maxBytes)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b, again); diff != "" {
				t.Errorf("Next without Ack returned another batch (-first +second):\n%s", diff)
			}
		})
	}
}

func TestSpool_AddRejects(t *testing.T) {
	s := openSpool(t, t.TempDir(), SpoolOptions{})
	for _, e := range []string{"", "[1]", "{\"a\":\n1}", `{"a":1} `, "x"} {
		if _, _, err := s.Add([][]byte{[]byte(e)}); err == nil {
			t.Errorf("Add(%q) succeeded", e)
		}
	}
	if s.LastSeq() != 0 {
		t.Errorf("rejected adds took seqs: last %d", s.LastSeq())
	}
}

func TestSpool_SeqNeverRepeats(t *testing.T) {
	dir := t.TempDir()
	var seqs []uint64
	add := func(s *Spool, n int) {
		first, last := mustAdd(t, s, testEvents(0, n))
		for q := first; q <= last; q++ {
			seqs = append(seqs, q)
		}
	}
	s := openSpool(t, dir, SpoolOptions{})
	add(s, 3)
	s.Close()

	s = openSpool(t, dir, SpoolOptions{})
	add(s, 2)
	drain(t, s, 100)
	s.Close() // everything acknowledged: the segments are deleted

	if segs, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(segs) != 0 {
		t.Fatalf("segments left after everything was acknowledged: %v", segs)
	}
	s = openSpool(t, dir, SpoolOptions{})
	add(s, 1)
	s.abandon()

	s = openSpool(t, dir, SpoolOptions{})
	add(s, 2)
	if diff := cmp.Diff([]uint64{1, 2, 3, 4, 5, 6, 7, 8}, seqs); diff != "" {
		t.Errorf("seqs (-want +got):\n%s", diff)
	}
}

// TestSpool_Crash simulates a crash at each step of the spool's life
// (the files are left as they are, without Close) and checks that the
// reopened spool returns exactly the events not acknowledged, in order,
// and goes on with the next seq.
func TestSpool_Crash(t *testing.T) {
	tests := []struct {
		name string
		// crash runs steps on a spool holding events 0..19 (seqs 1..20
		// in segments of a few events) and abandons it.
		crash func(t *testing.T, dir string, s *Spool)
		want  []int // events returned after reopening
	}{
		{
			name:  "after add",
			crash: func(t *testing.T, dir string, s *Spool) {},
			want:  seqRange(0, 20),
		},
		{
			name: "batch in flight",
			crash: func(t *testing.T, dir string, s *Spool) {
				if _, err := s.Next(5, 1<<20); err != nil {
					t.Fatal(err)
				}
			},
			want: seqRange(0, 20),
		},
		{
			name: "after ack",
			crash: func(t *testing.T, dir string, s *Spool) {
				b, _ := s.Next(5, 1<<20)
				if err := s.Ack(b.Last); err != nil {
					t.Fatal(err)
				}
			},
			want: seqRange(5, 15),
		},
		{
			name: "cursor written, segments not yet deleted",
			crash: func(t *testing.T, dir string, s *Spool) {
				saved := saveSegments(t, dir)
				b, _ := s.Next(12, 1<<20)
				if err := s.Ack(b.Last); err != nil {
					t.Fatal(err)
				}
				restoreSegments(t, dir, saved)
			},
			want: seqRange(12, 8),
		},
		{
			name: "cursor write interrupted",
			crash: func(t *testing.T, dir string, s *Spool) {
				b, _ := s.Next(3, 1<<20)
				if err := s.Ack(b.Last); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, ".cursor.123.tmp"), `{"acked":19`)
			},
			want: seqRange(3, 17),
		},
		{
			name: "torn record at the tail",
			crash: func(t *testing.T, dir string, s *Spool) {
				rec := appendRecord(nil, 21, []byte(`{"n":20}`))
				appendFile(t, lastSegment(t, dir), rec[:len(rec)/2])
			},
			want: seqRange(0, 20),
		},
		{
			name: "zeros at the tail",
			crash: func(t *testing.T, dir string, s *Spool) {
				appendFile(t, lastSegment(t, dir), append(make([]byte, 100), '\n'))
			},
			want: seqRange(0, 20),
		},
		{
			name: "new segment created, nothing in it",
			crash: func(t *testing.T, dir string, s *Spool) {
				writeFile(t, filepath.Join(dir, segmentName(21)), "")
			},
			want: seqRange(0, 20),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openSpool(t, dir, SpoolOptions{SegmentBytes: 400})
			mustAdd(t, s, testEvents(0, 12))
			mustAdd(t, s, testEvents(12, 8))
			tt.crash(t, dir, s)
			s.abandon()

			s = openSpool(t, dir, SpoolOptions{SegmentBytes: 400})
			if got := s.Pending(); got != uint64(len(tt.want)) {
				t.Errorf("pending %d after reopening, want %d", got, len(tt.want))
			}
			if diff := cmp.Diff(tt.want, drain(t, s, 4)); diff != "" {
				t.Errorf("events after reopening (-want +got):\n%s", diff)
			}
			if first, _ := mustAdd(t, s, testEvents(100, 1)); first != 21 {
				t.Errorf("next seq %d, want 21", first)
			}
			s.Close()
			if tmp, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(tmp) != 0 {
				t.Errorf("temporary files left: %v", tmp)
			}
		})
	}
}

// TestSpool_DamagedRecord checks that a record garbled in a sealed
// segment is skipped, with its seq, and the rest delivered.
func TestSpool_DamagedRecord(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentBytes: 400})
	mustAdd(t, s, testEvents(0, 20))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) < 3 {
		t.Fatalf("want several segments, have %v", segs)
	}
	data, err := os.ReadFile(segs[1])
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	lines[1] = bytes.Replace(lines[1], []byte(`"FILE"`), []byte(`"FILX"`), 1)
	damagedSeq, _, _ := parseRecord(lines[2][:len(lines[2])-1])
	damagedSeq--
	writeFile(t, segs[1], string(bytes.Join(lines, nil)))

	s = openSpool(t, dir, SpoolOptions{SegmentBytes: 400})
	got := drain(t, s, 100)
	want := slices.Delete(seqRange(0, 20), int(damagedSeq)-1, int(damagedSeq))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

// TestSpool_DamagedTail checks that a spool whose unacknowledged records
// are all damaged empties instead of looping.
func TestSpool_DamagedTail(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentBytes: 300})
	mustAdd(t, s, testEvents(0, 10))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	// Garble every record of the segments before the last one.
	for _, seg := range segs[:len(segs)-1] {
		data, _ := os.ReadFile(seg)
		writeFile(t, seg, strings.ReplaceAll(string(data), `"FILE"`, `"FILX"`))
	}
	s = openSpool(t, dir, SpoolOptions{SegmentBytes: 300})
	got := drain(t, s, 3)
	if len(got) == 0 || got[len(got)-1] != 9 {
		t.Errorf("events %v, want the last segment's, ending with 9", got)
	}
	if s.Pending() != 0 {
		t.Errorf("pending %d", s.Pending())
	}
}

func TestSpool_SegmentsDeletedWhenAcked(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{SegmentBytes: 300})
	for i := range 10 {
		mustAdd(t, s, testEvents(i*3, 3))
	}
	before, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(before) < 5 {
		t.Fatalf("want many segments, have %d", len(before))
	}
	b, _ := s.Next(15, 1<<20)
	if err := s.Ack(b.Last); err != nil {
		t.Fatal(err)
	}
	after, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(after) >= len(before) {
		t.Errorf("segments: %d before acknowledging half, %d after", len(before), len(after))
	}
	drain(t, s, 100)
	mustAdd(t, s, testEvents(100, 1)) // drops the active segment, fully acknowledged
	drain(t, s, 100)
	s.Close()
	if left, _ := filepath.Glob(filepath.Join(dir, "*.seg")); len(left) != 0 {
		t.Errorf("segments left after everything was acknowledged: %v", left)
	}
}

func TestSpool_Locked(t *testing.T) {
	dir := t.TempDir()
	openSpool(t, dir, SpoolOptions{})
	if s, err := OpenSpool(dir, SpoolOptions{}); err == nil {
		s.Close()
		t.Fatal("a second agent opened the same spool")
	} else if !strings.Contains(err.Error(), "in use") {
		t.Errorf("error %q does not say the spool is in use", err)
	}
}

func TestSpool_AckBeyondSpooled(t *testing.T) {
	s := openSpool(t, t.TempDir(), SpoolOptions{})
	mustAdd(t, s, testEvents(0, 2))
	if err := s.Ack(3); err == nil {
		t.Error("Ack past the spooled events succeeded")
	}
	if err := s.Ack(2); err != nil {
		t.Fatal(err)
	}
	if err := s.Ack(1); err != nil {
		t.Errorf("acknowledging an older seq again: %v", err)
	}
}

// TestSpool_Concurrent adds from one goroutine while another reads and
// acknowledges.
func TestSpool_Concurrent(t *testing.T) {
	s := openSpool(t, t.TempDir(), SpoolOptions{SegmentBytes: 4096})
	const groups, per = 50, 7
	var wg sync.WaitGroup
	wg.Go(func() {
		for g := range groups {
			if _, _, err := s.Add(testEvents(g*per, per)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var got []int
	for len(got) < groups*per && !t.Failed() {
		b, err := s.Next(10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range b.Events {
			got = append(got, eventN(t, e))
		}
		if b.Last > s.Acked() {
			if err := s.Ack(b.Last); err != nil {
				t.Fatal(err)
			}
		}
	}
	wg.Wait()
	if diff := cmp.Diff(seqRange(0, groups*per), got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}

func TestSpool_Source(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	mustAdd(t, s, testEvents(0, 4))
	if _, ok, err := s.CurrentSource(); ok || err != nil {
		t.Fatalf("a new spool has a source: %v, %v", ok, err)
	}
	src, err := s.BeginSource("/in/a.ndjson", 10, time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if src.FirstSeq != 5 || s.Taken(src) != 0 {
		t.Fatalf("source %+v, taken %d; want first seq 5, none taken", src, s.Taken(src))
	}
	mustAdd(t, s, testEvents(4, 3))
	s.abandon()

	s = openSpool(t, dir, SpoolOptions{})
	got, ok, err := s.CurrentSource()
	if err != nil || !ok {
		t.Fatalf("source after a crash: %v, %v", ok, err)
	}
	if diff := cmp.Diff(src, got); diff != "" {
		t.Errorf("source (-want +got):\n%s", diff)
	}
	if n := s.Taken(got); n != 3 {
		t.Errorf("taken %d, want 3", n)
	}
	if err := s.EndSource(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.CurrentSource(); ok {
		t.Error("source still there after EndSource")
	}
}

func TestSpool_Reject(t *testing.T) {
	dir := t.TempDir()
	s := openSpool(t, dir, SpoolOptions{})
	err := s.Reject(
		Rejected{Source: "a.ndjson", Line: 3, Error: "not valid JSON", Event: []byte(`{"a":`)},
		Rejected{Seq: 9, Error: "too large", Event: []byte(`{"seq":9}`)},
	)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, rejectedName))
	if err != nil {
		t.Fatal(err)
	}
	var got []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("line %s: %v", line, err)
		}
		delete(m, "time")
		got = append(got, m)
	}
	want := []map[string]any{
		{"source": "a.ndjson", "line": 3.0, "error": "not valid JSON", "raw": `{"a":`},
		{"seq": 9.0, "error": "too large", "event": map[string]any{"seq": 9.0}},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejected.ndjson (-want +got):\n%s", diff)
	}
}

func saveSegments(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	out := map[string][]byte{}
	for _, p := range segs {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = data
	}
	return out
}

func restoreSegments(t *testing.T, dir string, saved map[string][]byte) {
	t.Helper()
	for p, data := range saved {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			writeFile(t, p, string(data))
		}
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segments")
	}
	sort.Strings(segs)
	return segs[len(segs)-1]
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, name string, data []byte) {
	t.Helper()
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
}
