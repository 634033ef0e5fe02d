package agent

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
)

// A segment file holds records, one a line:
//
//	<crc> <event>\n
//
// where <event> is the event's JSON object, compact on one line, whose
// first member is "seq" (the spool writes it so: {"seq":17,...}), and
// <crc> is the CRC-32C of <event> in 8 lowercase hex digits. The file
// stays readable with text tools, and a record torn by a crash, or bytes
// a disk garbled, fail the check instead of being sent.

var crcTable = crc32.MakeTable(crc32.Castagnoli)

const (
	crcLen     = 8
	seqPrefix  = `{"seq":`
	maxSeqText = 20 // digits of the largest uint64
)

var (
	errRecordShort = errors.New("record too short")
	errRecordCRC   = errors.New("checksum mismatch")
	errRecordForm  = errors.New("malformed record")
)

// appendRecord appends the record of event (a JSON object, starting with
// '{') under seq to dst.
func appendRecord(dst []byte, seq uint64, event []byte) []byte {
	start := len(dst)
	dst = append(dst, "00000000 "...)
	body := len(dst)
	dst = append(dst, seqPrefix...)
	dst = strconv.AppendUint(dst, seq, 10)
	rest := bytes.TrimLeft(event[1:], " \t\r\n")
	if len(rest) > 0 && rest[0] != '}' {
		dst = append(dst, ',')
	}
	dst = append(dst, rest...)
	sum := crc32Checksum(dst[body:])
	const hex = "0123456789abcdef"
	for i := range crcLen {
		dst[start+i] = hex[(sum>>(28-4*i))&0xf]
	}
	return append(dst, '\n')
}

// parseRecord reads one record line (without its newline) and returns its
// seq and event. event aliases line.
func parseRecord(line []byte) (seq uint64, event []byte, err error) {
	if len(line) < crcLen+1+len(seqPrefix)+2 {
		return 0, nil, errRecordShort
	}
	if line[crcLen] != ' ' {
		return 0, nil, errRecordForm
	}
	want, err := strconv.ParseUint(string(line[:crcLen]), 16, 32)
	if err != nil {
		return 0, nil, errRecordForm
	}
	event = line[crcLen+1:]
	if crc32Checksum(event) != uint32(want) {
		return 0, nil, errRecordCRC
	}
	if !bytes.HasPrefix(event, []byte(seqPrefix)) || event[len(event)-1] != '}' {
		return 0, nil, errRecordForm
	}
	digits := event[len(seqPrefix):]
	n := 0
	for n < len(digits) && n <= maxSeqText && digits[n] >= '0' && digits[n] <= '9' {
		n++
	}
	if n == 0 || n > maxSeqText || (digits[n] != ',' && digits[n] != '}') {
		return 0, nil, errRecordForm
	}
	seq, err = strconv.ParseUint(string(digits[:n]), 10, 64)
	if err != nil || seq == 0 {
		return 0, nil, errRecordForm
	}
	return seq, event, nil
}

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, crcTable) }

// segmentName is the file name of the segment whose first record is seq;
// names sort in seq order.
func segmentName(first uint64) string {
	return fmt.Sprintf("%020d.seg", first)
}

// parseSegmentName returns the first seq a segment file name holds.
func parseSegmentName(name string) (uint64, bool) {
	digits, ok := bytes.CutSuffix([]byte(name), []byte(".seg"))
	if !ok || len(digits) != 20 {
		return 0, false
	}
	n, err := strconv.ParseUint(string(digits), 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return n, true
}
