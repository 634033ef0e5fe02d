package agent

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendRecord(t *testing.T) {
	tests := []struct {
		name  string
		seq   uint64
		event string
		want  string
	}{
		{"members", 1, `{"topic":"FILE"}`, `{"seq":1,"topic":"FILE"}`},
		{"empty object", 7, `{}`, `{"seq":7}`},
		{"space after brace", 42, `{ "a": 1 }`, `{"seq":42,"a": 1 }`},
		{"empty with space", 3, `{ }`, `{"seq":3}`},
		{"large seq", 18446744073709551615, `{"a":[1,{"b":2}]}`, `{"seq":18446744073709551615,"a":[1,{"b":2}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := appendRecord([]byte("prefix"), tt.seq, []byte(tt.event))
			if string(rec[:6]) != "prefix" || rec[len(rec)-1] != '\n' {
				t.Fatalf("record %q: want the prefix kept and a newline", rec)
			}
			seq, event, err := parseRecord(rec[6 : len(rec)-1])
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(event)); diff != "" || seq != tt.seq {
				t.Errorf("seq %d (want %d), event (-want +got):\n%s", seq, tt.seq, diff)
			}
		})
	}
}

func TestParseRecord_Damaged(t *testing.T) {
	good := string(appendRecord(nil, 5, []byte(`{"a":1}`)))
	good = good[:len(good)-1]
	tests := []struct {
		name string
		line string
		want error
	}{
		{"empty", "", errRecordShort},
		{"torn", good[:len(good)-3], errRecordCRC},
		{"flipped byte", good[:12] + "X" + good[13:], errRecordCRC},
		{"zeros", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", errRecordForm},
		{"no space", "0000000000" + good[9:], errRecordForm},
		{"bad hex", "zzzzzzzz " + good[9:], errRecordForm},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := parseRecord([]byte(tt.line)); err != tt.want {
				t.Errorf("parseRecord(%q) = %v, want %v", tt.line, err, tt.want)
			}
		})
	}
	// A checksum that matches over a body that is not a record.
	for _, body := range []string{`{"seq":0}`, `{"seq":x}`, `{"seq":12,"a":1`, `{"sequence":1}`, `{"seq":123456789012345678901}`} {
		line := appendRecord(nil, 1, []byte(`{}`))
		line = append(line[:9], body...)
		sum := crcHex(line[9:])
		copy(line, sum)
		if _, _, err := parseRecord(line); err != errRecordForm {
			t.Errorf("parseRecord(%q) = %v, want %v", line, err, errRecordForm)
		}
	}
}

func crcHex(b []byte) string {
	var out [8]byte
	sum := crc32Checksum(b)
	const hex = "0123456789abcdef"
	for i := range out {
		out[i] = hex[(sum>>(28-4*i))&0xf]
	}
	return string(out[:])
}

func TestSegmentName(t *testing.T) {
	for _, seq := range []uint64{1, 99, 18446744073709551615} {
		got, ok := parseSegmentName(segmentName(seq))
		if !ok || got != seq {
			t.Errorf("parseSegmentName(segmentName(%d)) = %d, %v", seq, got, ok)
		}
	}
	for _, name := range []string{"1.seg", "00000000000000000000.seg", "0000000000000000000a.seg", "00000000000000000001.tmp", "lock"} {
		if _, ok := parseSegmentName(name); ok {
			t.Errorf("parseSegmentName(%q) accepted", name)
		}
	}
}
