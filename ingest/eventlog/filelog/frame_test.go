package filelog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// segmentBytes builds a segment file holding recs, stamped with time ms.
func segmentBytes(base, ms int64, recs ...eventlog.Record) []byte {
	b := appendSegHeader(nil, base, ms)
	var frames []byte
	for i := range recs {
		frames = appendFrame(frames, &recs[i])
	}
	sealFrames(frames, base, ms, func(int) {})
	return append(b, frames...)
}

type decoded struct {
	Off, Ms        int64
	Key, ID, Value string
	Pos            int64
}

// scanSegment parses a whole segment file the way Open reads the last one.
func scanSegment(data []byte) (base int64, got []decoded, damages []damage, end int64, err error) {
	return scanSegmentTo(data, -1)
}

// scanSegmentTo parses a segment file the way Open or a reader reads a
// sealed one whose records are below offLimit (-1: the last segment).
func scanSegmentTo(data []byte, offLimit int64) (base int64, got []decoded, damages []damage, end int64, err error) {
	base, v, err := parseSegHeader(data)
	if err != nil {
		return 0, nil, nil, 0, err
	}
	damages, end, err = scanFrames(bytes.NewReader(data), v, segHeaderSize, int64(len(data)), base, offLimit, func(pos int64, f frame) {
		got = append(got, decoded{Off: f.off, Ms: f.ms, Key: string(f.key), ID: string(f.id), Value: string(f.v), Pos: pos})
	})
	return base, got, damages, end, err
}

func TestFrames_RoundTrip(t *testing.T) {
	recs := []eventlog.Record{
		{Key: []byte("alice"), ID: "id-1", Value: []byte(`{"event":"user.signin"}`)},
		{},
		{Key: bytes.Repeat([]byte{0xff}, 200), ID: strings.Repeat("é", 100), Value: bytes.Repeat([]byte{0}, 70000)},
	}
	data := segmentBytes(42, 1_700_000_000_123, recs...)
	base, got, damages, end, err := scanSegment(data)
	if err != nil || base != 42 || end != int64(len(data)) || len(damages) != 0 {
		t.Fatalf("scan = base %d, end %d, damages %v, err %v; want base 42, end %d, none, nil", base, end, damages, err, len(data))
	}
	var want []decoded
	pos := int64(segHeaderSize)
	for i, r := range recs {
		want = append(want, decoded{Off: 42 + int64(i), Ms: 1_700_000_000_123, Key: string(r.Key), ID: r.ID, Value: string(r.Value), Pos: pos})
		pos += int64(frameSize(&r))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func TestSegmentHeader_Errors(t *testing.T) {
	good := appendSegHeader(nil, 7, 1)
	tests := []struct {
		name   string
		mutate func(h []byte) []byte
		want   error
	}{
		{"short", func(h []byte) []byte { return h[:31] }, errTorn},
		{"magic", func(h []byte) []byte { h[0] = 'X'; return h }, errCorrupt},
		{"checksum", func(h []byte) []byte { h[9] ^= 1; return h }, errCorrupt},
		{"version", func(h []byte) []byte { h[5] = 3; return h }, &versionError{version: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := parseSegHeader(tt.mutate(bytes.Clone(good)))
			var ve *versionError
			if errors.As(tt.want, &ve) {
				var got *versionError
				if !errors.As(err, &got) || got.version != ve.version {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestGroupFile(t *testing.T) {
	tests := []struct{ group, file string }{
		{"store", "store.offset"},
		{"sink.siem-eu_1", "sink.siem-eu_1.offset"},
		{".hidden", "%2Ehidden.offset"},
		{"..", "%2E..offset"},
		{"a/b c", "a%2Fb%20c.offset"},
		{"%41", "%2541.offset"},
		{"ü", "%C3%BC.offset"},
	}
	for _, tt := range tests {
		if got := groupFile(tt.group); got != tt.file {
			t.Errorf("groupFile(%q) = %q, want %q", tt.group, got, tt.file)
		}
		if got, ok := groupOfFile(tt.file); !ok || got != tt.group {
			t.Errorf("groupOfFile(%q) = %q, %v; want %q", tt.file, got, ok, tt.group)
		}
	}
	for _, name := range []string{"store.offset.tmp", "%zz.offset", "%4.offset", ".offset", "store", "%41.offset"} {
		if g, ok := groupOfFile(name); ok {
			t.Errorf("groupOfFile(%q) = %q, true; want it rejected", name, g)
		}
	}
}

// TestFrames_Format1 reads a segment of format version 1, whose frames
// leave their offsets implicit.
func TestFrames_Format1(t *testing.T) {
	recs := []eventlog.Record{
		{Key: []byte("alice"), ID: "id-1", Value: []byte(`{"event":"user.signin"}`)},
		{},
		{Key: []byte("bob"), ID: "id-3", Value: bytes.Repeat([]byte("x"), 300)},
	}
	data := Format1Segment(42, 1_700_000_000_123, recs...)
	base, got, damages, end, err := scanSegment(data)
	if err != nil || base != 42 || end != int64(len(data)) || len(damages) != 0 {
		t.Fatalf("scan = base %d, end %d, damages %v, err %v; want base 42, end %d, none, nil", base, end, damages, err, len(data))
	}
	var want []decoded
	pos := int64(segHeaderSize)
	for i, r := range recs {
		want = append(want, decoded{Off: 42 + int64(i), Ms: 1_700_000_000_123, Key: string(r.Key), ID: r.ID, Value: string(r.Value), Pos: pos})
		pos += int64(frameSize(&r)) - 8 // no offset
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("frames (-want +got):\n%s", diff)
	}
}

// format1Frames returns the positions of the frames of an undamaged
// format 1 segment, and its end.
func format1Frames(data []byte) []int64 {
	var out []int64
	for pos := int64(segHeaderSize); pos < int64(len(data)); pos += frameHeaderSize + int64(binary.BigEndian.Uint32(data[pos:])) {
		out = append(out, pos)
	}
	return append(out, int64(len(data)))
}

// TestRegion_Format1 checks how the records of a damaged region of a
// format 1 segment are counted: from the segment's end when every frame
// after it validates, else the rest of the segment is lost; in the last
// segment, whose count is unknown, the region holds as many records as
// its bytes could.
func TestRegion_Format1(t *testing.T) {
	recs := make([]eventlog.Record, 10)
	for i := range recs {
		recs[i] = eventlog.Record{ID: fmt.Sprint("id-", i), Value: []byte(`{"event":"user.signin"}`)}
	}
	clean := Format1Segment(100, 1, recs...)
	frames := format1Frames(clean)
	// In the last segment, the region of frame 3 is counted as holding as
	// many records as its bytes could, and the rest of the segment from
	// it, if it has a second region.
	one := (frames[4] - frames[3]) / version1.minFrame()
	rest := (frames[10] - frames[3]) / version1.minFrame()
	seq := func(from, to int64) []int64 {
		var out []int64
		for o := from; o < to; o++ {
			out = append(out, o)
		}
		return out
	}
	tests := []struct {
		name     string
		flips    []int // frames whose body gets a bit flipped
		offLimit int64
		want     []damage
		offsets  []int64 // of the frames read
	}{{
		name: "sealed, one region", flips: []int{3}, offLimit: 110,
		want:    []damage{{pos: frames[3], end: frames[4], first: 103, next: 104}},
		offsets: append(seq(100, 103), seq(104, 110)...),
	}, {
		name: "sealed, two regions", flips: []int{3, 6}, offLimit: 110,
		want:    []damage{{pos: frames[3], end: frames[10], first: 103, next: 110, tail: true}},
		offsets: seq(100, 103),
	}, {
		name: "sealed, more frames than records", flips: []int{3}, offLimit: 105,
		want:    []damage{{pos: frames[3], end: frames[10], first: 103, next: 105, tail: true}},
		offsets: seq(100, 103),
	}, {
		name: "last, one region", flips: []int{3}, offLimit: -1,
		want:    []damage{{pos: frames[3], end: frames[4], first: 103, next: 103 + one}},
		offsets: append(seq(100, 103), seq(103+one, 103+one+6)...),
	}, {
		name: "last, two regions", flips: []int{3, 6}, offLimit: -1,
		want:    []damage{{pos: frames[3], end: frames[10], first: 103, next: 103 + rest, tail: true}},
		offsets: seq(100, 103),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := bytes.Clone(clean)
			for _, i := range tt.flips {
				data[frames[i+1]-1] ^= 0x01
			}
			_, got, damages, _, err := scanSegmentTo(data, tt.offLimit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, damages, cmp.AllowUnexported(damage{})); diff != "" {
				t.Errorf("damages (-want +got):\n%s", diff)
			}
			var offs []int64
			for _, g := range got {
				offs = append(offs, g.Off)
			}
			if diff := cmp.Diff(tt.offsets, offs); diff != "" {
				t.Errorf("offsets (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzSegment feeds arbitrary bytes to the segment scanner that Open and
// readers use, resynchronization included, in both format versions. It
// must never panic nor read past the data; the good frames and the
// damaged regions it reports must tile the data in order, with offsets
// that only grow; what Open keeps of a last segment (the data cut where
// torn damage starts) must read back the same, with no torn damage; and
// sealed as it is, with the records Open counts in it, it must read back
// the same as a sealed segment.
func FuzzSegment(f *testing.F) {
	recs := []eventlog.Record{
		{Key: []byte("alice@example.com"), ID: "01J8", Value: []byte(`{"topic":"USER","event":"user.signin"}`)},
		{Key: []byte("bob"), ID: "01J9", Value: []byte(`{}`)},
		{},
		{Key: []byte("carol"), ID: "01JA", Value: []byte(`{"topic":"FILE","event":"file.transfer"}`)},
	}
	for _, good := range [][]byte{segmentBytes(0, 1_700_000_000_000, recs...), Format1Segment(0, 1_700_000_000_000, recs...)} {
		f.Add(good)
		f.Add(good[:len(good)-5])
		f.Add(good[:segHeaderSize])
		f.Add(append(bytes.Clone(good), make([]byte, 64)...))
		for _, at := range []int{segHeaderSize + 1, segHeaderSize + 20, segHeaderSize + 70, len(good) - 3} {
			flipped := bytes.Clone(good)
			flipped[at] ^= 0x10
			f.Add(flipped)
			f.Add(flipped[:len(flipped)-5])
		}
	}
	f.Add([]byte("VLOG"))
	f.Fuzz(func(t *testing.T, data []byte) {
		base, got, damages, end, err := scanSegment(data)
		if err != nil {
			if len(got) != 0 || len(damages) != 0 {
				t.Fatalf("scan error %v after %d frames", err, len(got))
			}
			return // a bad header
		}
		if end < segHeaderSize || end > int64(len(data)) {
			t.Fatalf("end %d outside [%d, %d]", end, segHeaderSize, len(data))
		}
		// Frames and damaged regions tile [header, len).
		pos, off, gi := int64(segHeaderSize), base, 0
		for _, d := range damages {
			for ; gi < len(got) && got[gi].Pos < d.pos; gi++ {
				if got[gi].Pos != pos || got[gi].Off < off {
					t.Fatalf("frame %d at %d offset %d; want position %d, offset from %d", gi, got[gi].Pos, got[gi].Off, pos, off)
				}
				pos += frameHeaderSize + int64(binary.BigEndian.Uint32(data[got[gi].Pos:]))
				off = got[gi].Off + 1
			}
			if d.pos != pos || d.end <= d.pos || d.first != off || d.next < d.first {
				t.Fatalf("damage %+v; want it to start at %d, from offset %d", d, pos, off)
			}
			if d.tail != (d.end == int64(len(data))) || d.torn && (!d.tail || d.pos != end) || d.tail && !d.torn && end != int64(len(data)) {
				t.Fatalf("damage %+v: tail wrong for %d bytes ending at %d", d, len(data), end)
			}
			pos, off = d.end, d.next
		}
		for ; gi < len(got); gi++ {
			if got[gi].Pos != pos || got[gi].Off < off {
				t.Fatalf("frame %d at %d offset %d; want position %d, offset from %d", gi, got[gi].Pos, got[gi].Off, pos, off)
			}
			pos += frameHeaderSize + int64(binary.BigEndian.Uint32(data[got[gi].Pos:]))
			off = got[gi].Off + 1
		}
		if pos != int64(len(data)) {
			t.Fatalf("frames and damage cover %d of %d bytes", pos, len(data))
		}
		// What Open keeps, and the records it counts in it.
		var kept []damage
		for _, d := range damages {
			if !d.torn {
				kept = append(kept, d)
			}
		}
		count := base
		if len(got) > 0 {
			count = got[len(got)-1].Off + 1
		}
		if len(kept) > 0 {
			count = max(count, kept[len(kept)-1].next)
		}
		for _, offLimit := range []int64{-1, count} {
			_, again, damages2, end2, err := scanSegmentTo(data[:end], offLimit)
			if err != nil || end2 != end {
				t.Fatalf("rescan of the kept %d bytes below offset %d: end %d, err %v", end, offLimit, end2, err)
			}
			if diff := cmp.Diff(got, again); diff != "" {
				t.Fatalf("rescan below offset %d differs (-first +second):\n%s", offLimit, diff)
			}
			if diff := cmp.Diff(kept, damages2, cmp.AllowUnexported(damage{})); diff != "" {
				t.Fatalf("rescan below offset %d finds other damage (-first +second):\n%s", offLimit, diff)
			}
		}
	})
}

// FuzzOffsetFile feeds arbitrary bytes to the offsets file decoder.
func FuzzOffsetFile(f *testing.F) {
	f.Add(encodeOffset(0))
	f.Add(encodeOffset(1 << 40))
	f.Add([]byte("VOFF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		next, err := decodeOffset(data)
		if err != nil {
			return
		}
		if next < 0 || !bytes.Equal(encodeOffset(next), data) {
			t.Fatalf("decodeOffset accepted %x as %d, which encodes differently", data, next)
		}
	})
}
