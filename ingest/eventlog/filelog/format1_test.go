package filelog

import (
	"encoding/binary"
	"hash/crc32"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// The release before format version 2 wrote its files as below; these
// writers keep that layout byte for byte, apart from the code that reads
// it, so that the tests know what an upgraded log finds on disk.

var format1Table = crc32.MakeTable(crc32.Castagnoli)

// Format1Segment returns a segment file of format version 1 holding recs
// with the offsets base, base+1, ... and the append time ms: a 32-byte
// header, then per record a length, a CRC-32C of the length and the body,
// and a body of time, key, ID and value. No frame stores its offset.
func Format1Segment(base, ms int64, recs ...eventlog.Record) []byte {
	b := []byte("VLOG")
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(base))
	b = binary.BigEndian.AppendUint64(b, uint64(ms))
	b = binary.BigEndian.AppendUint32(b, 0)
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, format1Table))
	for _, r := range recs {
		body := binary.BigEndian.AppendUint64(nil, uint64(ms))
		body = binary.AppendUvarint(body, uint64(len(r.Key)))
		body = append(body, r.Key...)
		body = binary.AppendUvarint(body, uint64(len(r.ID)))
		body = append(body, r.ID...)
		body = append(body, r.Value...)
		length := binary.BigEndian.AppendUint32(nil, uint32(len(body)))
		b = append(b, length...)
		b = binary.BigEndian.AppendUint32(b, crc32.Update(crc32.Checksum(length, format1Table), format1Table, body))
		b = append(b, body...)
	}
	return b
}

// Format1Offset returns a group's offsets file, as that release wrote it
// (the offsets format has not changed since).
func Format1Offset(next int64) []byte {
	b := []byte("VOFF")
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint64(b, uint64(next))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, format1Table))
}
