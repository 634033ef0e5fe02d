package filelog_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
)

// format1Log writes a log directory as the release before format 2 left
// it: a format 1 segment per batch (the last one the active segment) and
// the groups' offsets files. It returns the records, in offset order, and
// the segment files.
func format1Log(t *testing.T, dir string, batches [][]eventlog.Record, commits map[string]int64) ([]eventlog.Record, []string) {
	t.Helper()
	ms := time.Now().Add(-time.Hour).UnixMilli()
	var (
		all   []eventlog.Record
		files []string
		base  int64
	)
	for i, recs := range batches {
		path := filepath.Join(dir, fmt.Sprintf("%020d.seg", base))
		if err := os.WriteFile(path, filelog.Format1Segment(base, ms+int64(i)*1000, recs...), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
		all = append(all, recs...)
		base += int64(len(recs))
	}
	if err := os.MkdirAll(filepath.Join(dir, "offsets"), 0o755); err != nil {
		t.Fatal(err)
	}
	for group, next := range commits {
		if err := os.WriteFile(filepath.Join(dir, "offsets", group+".offset"), filelog.Format1Offset(next), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return all, files
}

// format1Frames returns where the frames of an undamaged format 1 segment
// file start, and the file's size.
func format1Frames(data []byte) []int64 {
	var out []int64
	for pos := int64(32); pos < int64(len(data)); pos += 8 + int64(binary.BigEndian.Uint32(data[pos:])) {
		out = append(out, pos)
	}
	return append(out, int64(len(data)))
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segVersions returns the format version of each segment file in dir.
func segVersions(t *testing.T, dir string) map[string]uint16 {
	t.Helper()
	out := make(map[string]uint16)
	for _, path := range segmentFiles(t, dir) {
		out[filepath.Base(path)] = binary.BigEndian.Uint16(readFile(t, path)[4:6])
	}
	return out
}

// TestUpgrade_Format1Log opens a log that the release before format 2
// wrote, sealed segments and an active one, with groups that committed in
// the middle of both: it seals the active segment as it is, appends go to
// a new format 2 segment under the next offsets, and every record, old and
// new, is read under its offset by a new group, by Replay and by the
// groups from where they committed, then again after reopening.
func TestUpgrade_Format1Log(t *testing.T) {
	dir := t.TempDir()
	old, files := format1Log(t, dir, [][]eventlog.Record{
		makeRecords("s0", 30, 150), makeRecords("s1", 25, 150), makeRecords("active", 20, 150),
	}, map[string]int64{"store": 40, "sink": 60})
	before := map[string][]byte{}
	for _, path := range files {
		before[filepath.Base(path)] = readFile(t, path)
	}
	var seen corruptions
	// The active segment has room for more.
	cfg := filelog.Config{MaxBytes: 1 << 20, SegmentBytes: 16 << 10, OnCorrupt: seen.on}
	l := openLog(t, dir, cfg)
	if got := lag(t, l, "store"); got != 75-40 {
		t.Errorf("lag of store = %d, want %d", got, 75-40)
	}
	more := makeRecords("new", 100, 150)
	for i := 0; i < len(more); i += 10 {
		mustAppend(t, l, more[i:i+10])
	}
	want := numbered(append(slices.Clone(old), more...), 0)
	end := int64(len(want))
	check := func(t *testing.T, l *filelog.Log, fresh string) {
		t.Helper()
		if diff := cmp.Diff(want, view(fetchAll(t, l, fresh, end))); diff != "" {
			t.Errorf("a new group (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff(want, view(replayAll(t, l))); diff != "" {
			t.Errorf("Replay (-want +got):\n%s", diff)
		}
	}
	check(t, l, "fresh")
	for group, from := range map[string]int{"store": 40, "sink": 60} {
		if diff := cmp.Diff(want[from:], view(fetchN(t, subscribe(t, l, group), int(end)-from))); diff != "" {
			t.Errorf("group %s from its commit (-want +got):\n%s", group, diff)
		}
	}
	// Replay from the time of the second format 1 segment.
	since := replayAll(t, l)[30].Time
	var fromSince []eventlog.Record
	if err := l.Replay(ctxT(t), since, func(r eventlog.Record) error {
		fromSince = append(fromSince, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want[30:], view(fromSince)); diff != "" {
		t.Errorf("Replay since the second segment (-want +got):\n%s", diff)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	versions := segVersions(t, dir)
	if len(versions) < 5 {
		t.Errorf("segments %v; want the three of format 1 and two or more new ones", versions)
	}
	for name, v := range versions {
		old, wasThere := before[name]
		switch {
		case wasThere && (v != 1 || !slices.Equal(old, readFile(t, filepath.Join(dir, name)))):
			t.Errorf("segment %s of format 1 changed: version %d", name, v)
		case !wasThere && v != 2:
			t.Errorf("new segment %s has format version %d, want 2", name, v)
		}
	}
	if _, ok := versions[fmt.Sprintf("%020d.seg", 75)]; !ok {
		t.Errorf("segments %v: no new segment starts at offset 75", versions)
	}
	if got := seen.list(); len(got) != 0 || l.Damaged() != nil {
		t.Errorf("reported damage %v, %v", got, l.Damaged())
	}

	l = openLog(t, dir, cfg)
	check(t, l, "again")
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := segVersions(t, dir); !cmp.Equal(got, versions) {
		t.Errorf("reopening changed the segments: %v, was %v", got, versions)
	}
}

// TestUpgrade_Format1TornTail opens a log whose format 1 active segment
// ends with a torn frame or zeros: the tail is truncated, as that release
// did, and appends go on after the last whole record in a new segment.
func TestUpgrade_Format1TornTail(t *testing.T) {
	for _, tail := range []string{"cut", "zeros"} {
		t.Run(tail, func(t *testing.T) {
			dir := t.TempDir()
			old, files := format1Log(t, dir, [][]eventlog.Record{makeRecords("s0", 10, 150), makeRecords("active", 10, 150)}, nil)
			active := files[1]
			data := readFile(t, active)
			frames := format1Frames(data)
			kept := data
			if tail == "cut" {
				old = old[:19]
				kept = data[:frames[9]]
				data = data[:frames[9]+(frames[10]-frames[9])/2]
			} else {
				data = append(slices.Clone(data), make([]byte, 100)...)
			}
			if err := os.WriteFile(active, data, 0o644); err != nil {
				t.Fatal(err)
			}
			var seen corruptions
			cfg := filelog.Config{OnCorrupt: seen.on}
			l := openLog(t, dir, cfg)
			more := makeRecords("new", 5, 100)
			mustAppend(t, l, more)
			want := numbered(append(slices.Clone(old), more...), 0)
			if diff := cmp.Diff(want, view(fetchAll(t, l, "fresh", int64(len(want))))); diff != "" {
				t.Errorf("a new group (-want +got):\n%s", diff)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, active); !slices.Equal(got, kept) {
				t.Errorf("the active segment has %d bytes; want its %d bytes of whole frames", len(got), len(kept))
			}
			next := fmt.Sprintf("%020d.seg", len(old))
			if v := segVersions(t, dir); len(v) != 3 || v[next] != 2 {
				t.Errorf("segments %v; want a new one of format 2, %s", v, next)
			}
			if got := seen.list(); len(got) != 0 {
				t.Errorf("reported %v for a torn tail", got)
			}
		})
	}
}

// TestCorrupt_Format1SealedSegment flips bits in a sealed format 1
// segment, whose frames do not carry their offsets. With one damaged
// frame the records after it are counted back from the segment's end
// (the next segment's base) and only its record is lost; with two, the
// records between them cannot be counted, so the rest of the segment is
// lost. Either way it is reported once and copied aside, and no record of
// a later segment moves.
func TestCorrupt_Format1SealedSegment(t *testing.T) {
	tests := []struct {
		name  string
		flips []int // frames of the segment of records 30..54
		lost  [2]int
	}{
		{"one frame", []int{7}, [2]int{37, 38}},
		{"two frames", []int{7, 15}, [2]int{37, 55}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			old, files := format1Log(t, dir, [][]eventlog.Record{
				makeRecords("s0", 30, 150), makeRecords("s1", 25, 150), makeRecords("active", 20, 150),
			}, map[string]int64{"store": 40})
			data := readFile(t, files[1])
			frames := format1Frames(data)
			for _, i := range tt.flips {
				data[frames[i]+40] ^= 0x02
			}
			if err := os.WriteFile(files[1], data, 0o644); err != nil {
				t.Fatal(err)
			}
			var seen corruptions
			cfg := filelog.Config{OnCorrupt: seen.on}
			l := openLog(t, dir, cfg)
			more := makeRecords("new", 5, 100)
			mustAppend(t, l, more)
			all := numbered(append(slices.Clone(old), more...), 0)
			end := int64(len(all))
			want := slices.Delete(slices.Clone(all), tt.lost[0], tt.lost[1])
			if diff := cmp.Diff(want, view(fetchAll(t, l, "fresh", end))); diff != "" {
				t.Errorf("a new group (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(want, view(replayAll(t, l))); diff != "" {
				t.Errorf("Replay (-want +got):\n%s", diff)
			}
			from := max(40, tt.lost[1])
			if diff := cmp.Diff(all[from:], view(fetchN(t, subscribe(t, l, "store"), int(end)-from))); diff != "" {
				t.Errorf("group store from its commit at 40 (-want +got):\n%s", diff)
			}
			waitFor(t, "the report", func() bool { return len(seen.list()) > 0 })
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			seg := filepath.Base(files[1])
			pos := frames[tt.flips[0]]
			regionEnd := frames[tt.flips[0]+1]
			if len(tt.flips) > 1 {
				regionEnd = int64(len(data))
			}
			aside := filepath.Join(dir, seg+".corrupt-"+fmt.Sprint(pos))
			wantReport := []filelog.Corruption{{Segment: seg, Pos: pos, Bytes: regionEnd - pos,
				FirstRecord: int64(tt.lost[0]), Records: int64(tt.lost[1] - tt.lost[0]), File: aside}}
			if diff := cmp.Diff(wantReport, seen.list()); diff != "" {
				t.Errorf("reported (-want +got):\n%s", diff)
			}
			if got := readFile(t, aside); !slices.Equal(got, data[pos:regionEnd]) {
				t.Errorf("copied aside %d bytes, want the %d of the region", len(got), regionEnd-pos)
			}
			if m := metric(t, l, "vigil_filelog_corrupt_records_total"); m != float64(tt.lost[1]-tt.lost[0]) {
				t.Errorf("vigil_filelog_corrupt_records_total = %v, want %d", m, tt.lost[1]-tt.lost[0])
			}

			var again corruptions
			cfg.OnCorrupt = again.on
			l = openLog(t, dir, cfg)
			if diff := cmp.Diff(want, view(fetchAll(t, l, "other", end))); diff != "" {
				t.Errorf("after reopening (-want +got):\n%s", diff)
			}
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			if got := again.list(); len(got) != 0 {
				t.Errorf("reopened: reported %v again", got)
			}
		})
	}
}

// TestCorrupt_Format1LastSegment damages a frame of a format 1 active
// segment that valid frames follow. How many records the damage held
// cannot be known, so Open counts as many as its bytes could hold: the
// records after it are kept under offsets no lower than their own, the
// new segment starts after them, and a group that had committed past the
// damage reads again rather than skipping a record. Reopening numbers
// them the same.
func TestCorrupt_Format1LastSegment(t *testing.T) {
	dir := t.TempDir()
	old, files := format1Log(t, dir, [][]eventlog.Record{makeRecords("s0", 10, 150), makeRecords("active", 20, 150)},
		map[string]int64{"sink": 18})
	data := readFile(t, files[1])
	frames := format1Frames(data)
	data[frames[5]+40] ^= 0x02 // record 15
	if err := os.WriteFile(files[1], data, 0o644); err != nil {
		t.Fatal(err)
	}
	var seen corruptions
	cfg := filelog.Config{OnCorrupt: seen.on}
	l := openLog(t, dir, cfg)
	reserved := (frames[6] - frames[5]) / 18 // the smallest format 1 frame
	if reserved < 5 {
		t.Fatalf("the damaged frame could hold %d records; the test wants more", reserved)
	}
	more := makeRecords("new", 5, 100)
	mustAppend(t, l, more)
	want := append(numbered(old[:15], 0), numbered(old[16:], 15+reserved)...)
	want = append(want, numbered(more, 15+reserved+14)...)
	end := want[len(want)-1].Offset + 1
	if diff := cmp.Diff(want, view(fetchAll(t, l, "fresh", end))); diff != "" {
		t.Errorf("a new group (-want +got):\n%s", diff)
	}
	// The group had read records 10..17; it reads 16 and 17 again.
	sink := fetchN(t, subscribe(t, l, "sink"), len(want)-15)
	if diff := cmp.Diff(want[15:], view(sink)); diff != "" {
		t.Errorf("group sink (-want +got):\n%s", diff)
	}
	waitFor(t, "the report", func() bool { return len(seen.list()) > 0 })
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seg := filepath.Base(files[1])
	wantReport := []filelog.Corruption{{Segment: seg, Pos: frames[5], Bytes: frames[6] - frames[5], FirstRecord: 15,
		Records: reserved, File: filepath.Join(dir, seg+".corrupt-"+fmt.Sprint(frames[5]))}}
	if diff := cmp.Diff(wantReport, seen.list()); diff != "" {
		t.Errorf("reported (-want +got):\n%s", diff)
	}
	if got := readFile(t, files[1]); !slices.Equal(got, data) {
		t.Errorf("the damaged segment changed")
	}
	if v := segVersions(t, dir); v[fmt.Sprintf("%020d.seg", 15+reserved+14)] != 2 {
		t.Errorf("segments %v; want a format 2 one after the reserved offsets", v)
	}

	var again corruptions
	cfg.OnCorrupt = again.on
	l = openLog(t, dir, cfg)
	if diff := cmp.Diff(want, view(fetchAll(t, l, "other", end))); diff != "" {
		t.Errorf("after reopening (-want +got):\n%s", diff)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := again.list(); len(got) != 0 {
		t.Errorf("reopened: reported %v again", got)
	}
}
