package agent

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLineReader checks the NDJSON line splitter against a plain split,
// with a buffer smaller than the lines.
func FuzzLineReader(f *testing.F) {
	f.Add([]byte("{\"a\":1}\n{\"b\":2}\r\n\n"), 8)
	f.Add([]byte("no newline at the end"), 5)
	f.Add([]byte(strings.Repeat("x", 70)+"\r\ny"), 64)
	f.Add([]byte("\r\r\n\n\r"), 1)
	f.Fuzz(func(t *testing.T, in []byte, max int) {
		if max < 0 || max > 1000 {
			return
		}
		var want []string
		if len(in) > 0 {
			lines := strings.Split(string(in), "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			for _, l := range lines {
				l = strings.TrimSuffix(l, "\r")
				if len(l) > max {
					l = "!too long"
				}
				want = append(want, l)
			}
		}
		lr := newLineReaderSize(bytes.NewReader(in), max, 16)
		var got []string
		for {
			line, err := lr.next()
			if err == io.EOF {
				break
			}
			var lerr *LineError
			if errors.As(err, &lerr) {
				if lerr.Line != len(got)+1 {
					t.Fatalf("error on line %d, want %d", lerr.Line, len(got)+1)
				}
				got = append(got, "!too long")
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(line))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") || len(got) != len(want) {
			t.Fatalf("lines %q, want %q", got, want)
		}
	})
}

// FuzzCheckEvent checks that what CheckEvent lets into the spool comes
// back out of a record as the same JSON object with seq added.
func FuzzCheckEvent(f *testing.F) {
	for _, s := range []string{`{"topic":"FILE","event":"file.transfer"}`, `{}`, ` { "a" : [1, {"seq": 2}] } `, `{"seq":1}`, `[]`, `{"a":"\u2028"}`, "{\"a\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := CheckEvent(line)
		if err != nil || ev == nil {
			return
		}
		if bytes.ContainsAny(ev, "\n") {
			return // not one NDJSON line; the line reader never gives these
		}
		rec := appendRecord(nil, 77, ev)
		seq, out, err := parseRecord(rec[:len(rec)-1])
		if err != nil || seq != 77 {
			t.Fatalf("record of %q: seq %d, %v", ev, seq, err)
		}
		var orig, got map[string]json.RawMessage
		if err := json.Unmarshal(ev, &orig); err != nil {
			t.Fatalf("accepted %q: %v", ev, err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("record %q is not JSON: %v", out, err)
		}
		if string(got["seq"]) != "77" || len(got) != len(orig)+1 {
			t.Fatalf("record %q of %q: want seq 77 and the same members", out, ev)
		}
	})
}

// FuzzSpoolRecovery writes arbitrary bytes after good records in the last
// segment, and checks that opening recovers: the good records come back
// in order, and the next seq follows them.
func FuzzSpoolRecovery(f *testing.F) {
	good := appendRecord(nil, 4, []byte(`{"n":3}`))
	f.Add([]byte{})
	f.Add(good[:10])
	f.Add(append(make([]byte, 30), '\n'))
	f.Add(append(bytes.Clone(good), good...))
	f.Add(appendRecord(nil, 5, []byte(`{"n":4}`)))
	f.Fuzz(func(t *testing.T, tail []byte) {
		dir := t.TempDir()
		s, err := OpenSpool(dir, SpoolOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Add(testEvents(0, 3)); err != nil {
			t.Fatal(err)
		}
		s.abandon()
		segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
		fh, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(tail)
		fh.Close()

		s, err = OpenSpool(dir, SpoolOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		last := s.LastSeq()
		if last < 3 {
			t.Fatalf("last seq %d after recovery, want at least 3", last)
		}
		b, err := s.Next(1000, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if uint64(len(b.Events)) != last || b.Last != last {
			t.Fatalf("%d events up to %d, want %d", len(b.Events), b.Last, last)
		}
		for i, e := range b.Events {
			if b.Seqs[i] != uint64(i+1) || !json.Valid(e) && i < 3 {
				t.Fatalf("event %d: seq %d %q", i, b.Seqs[i], e)
			}
		}
		first, _, err := s.Add(testEvents(9, 1))
		if err != nil || first != last+1 {
			t.Fatalf("next seq %d (%v), want %d", first, err, last+1)
		}
	})
}
