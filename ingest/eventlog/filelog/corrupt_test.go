package filelog_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
)

// frameSpan is where one record's frame lies in a segment file.
type frameSpan struct{ pos, end, off int64 }

// segmentFrames lists the frames of an undamaged segment file (see
// doc.go for the format).
func segmentFrames(t *testing.T, data []byte) []frameSpan {
	t.Helper()
	var out []frameSpan
	for pos := int64(32); pos < int64(len(data)); {
		n := int64(binary.BigEndian.Uint32(data[pos:]))
		off := int64(binary.BigEndian.Uint64(data[pos+8:]))
		out = append(out, frameSpan{pos: pos, end: pos + 8 + n, off: off})
		pos += 8 + n
	}
	return out
}

// corruptions collects what OnCorrupt is told.
type corruptions struct {
	mu  sync.Mutex
	got []filelog.Corruption
}

func (c *corruptions) on(x filelog.Corruption) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, x)
}

func (c *corruptions) list() []filelog.Corruption {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// copySegments copies the segment files of src into a new directory.
func copySegments(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	for _, path := range segmentFiles(t, src) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(path)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fetchAll reads a new group's records up to the end of the log.
func fetchAll(t *testing.T, l eventlog.Log, group string, end int64) []eventlog.Record {
	t.Helper()
	s := subscribe(t, l, group)
	var out []eventlog.Record
	for len(out) == 0 || out[len(out)-1].Offset < end-1 {
		batch, err := s.Fetch(ctxT(t), 50, 0)
		if err != nil {
			t.Fatalf("Fetch after %d records: %v", len(out), err)
		}
		out = append(out, batch...)
	}
	if err := s.Commit(ctxT(t), out[len(out)-1:]); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	return out
}

// TestCorrupt_SealedSegmentBitFlips flips one bit at a random position of
// the frames of a sealed segment, 100 times: every record but the one
// whose frame holds the bit is still read, under its offset, by a new
// group and by Replay; a group that had committed past the segment goes on
// where it was; the damaged frame's bytes are copied aside under its
// position; it is reported once, and not again by the next Open.
func TestCorrupt_SealedSegmentBitFlips(t *testing.T) {
	cfg := filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 8 << 10}
	tmpl := t.TempDir()
	l := openLog(t, tmpl, cfg)
	var all []eventlog.Record
	for b := range 6 {
		recs := makeRecords(fmt.Sprint("b", b), 20, 150+10*b)
		mustAppend(t, l, recs)
		all = append(all, recs...)
	}
	want := numbered(all, 0)
	end := int64(len(all))
	// A group that read past the damaged segment.
	ahead := subscribe(t, l, "ahead")
	got := fetchN(t, ahead, int(end-10))
	if err := ahead.Commit(ctxT(t), got); err != nil {
		t.Fatal(err)
	}
	_ = ahead.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	files := segmentFiles(t, tmpl)
	if len(files) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(files))
	}
	sealed := filepath.Base(files[1])
	data, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	frames := segmentFrames(t, data)
	if last := frames[len(frames)-1]; last.end != int64(len(data)) || last.off >= end-10 {
		t.Fatalf("segment %s: frames end at %d of %d, last offset %d", sealed, last.end, len(data), last.off)
	}
	offsetsFile, err := os.ReadFile(filepath.Join(tmpl, "offsets", "ahead.offset"))
	if err != nil {
		t.Fatal(err)
	}

	rng := rand.New(rand.NewPCG(5, 1))
	for i := range 100 {
		pos := 32 + rng.Int64N(int64(len(data))-32)
		bit := byte(1) << rng.IntN(8)
		t.Run(fmt.Sprintf("%d/byte=%d", i, pos), func(t *testing.T) {
			dir := copySegments(t, tmpl)
			if err := os.MkdirAll(filepath.Join(dir, "offsets"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "offsets", "ahead.offset"), offsetsFile, 0o644); err != nil {
				t.Fatal(err)
			}
			bad := slices.Clone(data)
			bad[pos] ^= bit
			if err := os.WriteFile(filepath.Join(dir, sealed), bad, 0o644); err != nil {
				t.Fatal(err)
			}
			i := slices.IndexFunc(frames, func(f frameSpan) bool { return f.pos <= pos && pos < f.end })
			hit := frames[i]
			wantKept := slices.Delete(slices.Clone(want), int(hit.off), int(hit.off)+1)

			var seen corruptions
			c := cfg
			c.OnCorrupt = seen.on
			l := openLog(t, dir, c)
			if diff := cmp.Diff(want[end-10:], view(fetchN(t, subscribe(t, l, "ahead"), 10))); diff != "" {
				t.Errorf("the group past the damage (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantKept, view(fetchAll(t, l, "store", end))); diff != "" {
				t.Fatalf("a new group's records (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(wantKept, view(replayAll(t, l))); diff != "" {
				t.Fatalf("Replay (-want +got):\n%s", diff)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			aside := filepath.Join(dir, sealed+".corrupt-"+fmt.Sprint(hit.pos))
			wantReport := []filelog.Corruption{{Segment: sealed, Pos: hit.pos, Bytes: hit.end - hit.pos,
				FirstRecord: hit.off, Records: 1, File: aside}}
			if diff := cmp.Diff(wantReport, seen.list()); diff != "" {
				t.Errorf("reported (-want +got):\n%s", diff)
			}
			moved, err := os.ReadFile(aside)
			if err != nil || !slices.Equal(moved, bad[hit.pos:hit.end]) {
				t.Errorf("bytes copied aside: %d bytes, err %v; want the %d of the damaged frame", len(moved), err, hit.end-hit.pos)
			}
			if m := metric(t, l, "vigil_filelog_corrupt_records_total"); m != 1 {
				t.Errorf("vigil_filelog_corrupt_records_total = %v, want 1", m)
			}
			if err := l.Damaged(); err == nil || !strings.Contains(err.Error(), sealed) {
				t.Errorf("Damaged() = %v, want it to name %s", err, sealed)
			}

			// The next Open knows the region from its copy.
			var again corruptions
			c.OnCorrupt = again.on
			l = openLog(t, dir, c)
			if diff := cmp.Diff(wantKept, view(fetchAll(t, l, "other", end))); diff != "" {
				t.Fatalf("after reopening (-want +got):\n%s", diff)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := again.list(); len(got) != 0 || l.Damaged() != nil {
				t.Errorf("reopened: reported %v again", got)
			}
		})
	}
}

// TestCorrupt_LastSegmentInside damages a frame of the last segment that
// valid frames follow: Open keeps them (it is not a torn tail), reports
// the region, and appends go on after the last record.
func TestCorrupt_LastSegmentInside(t *testing.T) {
	cfg := filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 512 << 10}
	src := t.TempDir()
	l := openLog(t, src, cfg)
	recs := makeRecords("r", 30, 200)
	mustAppend(t, l, recs[:10])
	mustAppend(t, l, recs[10:])
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	dir := copySegments(t, src)
	path := segmentFiles(t, dir)[0]
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	frames := segmentFrames(t, data)
	hit := frames[12]
	data[hit.pos+2] ^= 0x08 // the length field
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var seen corruptions
	cfg.OnCorrupt = seen.on
	l = openLog(t, dir, cfg)
	more := makeRecords("more", 3, 100)
	mustAppend(t, l, more)
	want := append(slices.Delete(numbered(recs, 0), 12, 13), numbered(more, 30)...)
	if diff := cmp.Diff(want, view(replayAll(t, l))); diff != "" {
		t.Fatalf("Replay (-want +got):\n%s", diff)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := seen.list(); len(got) != 1 || got[0].Pos != hit.pos || got[0].Records != 1 || got[0].FirstRecord != 12 {
		t.Errorf("reported %+v; want one region at %d with record 12", got, hit.pos)
	}
}

// TestCorrupt_ReaderFindsDamage damages a sealed segment this process
// wrote, after Open: the reader finds the region, skips it and reports
// it once, though two groups and Replay read it.
func TestCorrupt_ReaderFindsDamage(t *testing.T) {
	var seen corruptions
	dir := t.TempDir()
	l := openLog(t, dir, filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 4 << 10, OnCorrupt: seen.on})
	recs := makeRecords("r", 40, 200)
	for i := 0; i < len(recs); i += 5 {
		mustAppend(t, l, recs[i:i+5])
	}
	files := segmentFiles(t, dir)
	data, err := os.ReadFile(files[1])
	if err != nil {
		t.Fatal(err)
	}
	frames := segmentFrames(t, data)
	hit := frames[len(frames)/2]
	f, err := os.OpenFile(files[1], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte{data[hit.end-1] ^ 0x01}, hit.end-1); err != nil {
		t.Fatal(err)
	}
	_ = f.Close()
	want := slices.Delete(numbered(recs, 0), int(hit.off), int(hit.off)+1)
	for _, g := range []string{"a", "b"} {
		if diff := cmp.Diff(want, view(fetchAll(t, l, g, int64(len(recs))))); diff != "" {
			t.Fatalf("group %s (-want +got):\n%s", g, diff)
		}
	}
	if diff := cmp.Diff(want, view(replayAll(t, l))); diff != "" {
		t.Fatalf("Replay (-want +got):\n%s", diff)
	}
	waitFor(t, "the report", func() bool { return len(seen.list()) > 0 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := seen.list(); len(got) != 1 || got[0].FirstRecord != hit.off || got[0].Records != 1 {
		t.Errorf("reported %+v; want one region holding record %d", got, hit.off)
	}
}
