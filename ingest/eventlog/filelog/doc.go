// Package filelog is the embedded default eventlog.Log: one partition of
// append-only segment files in a directory, with consumer offsets beside
// them.
//
// # Layout
//
// A log directory holds
//
//	LOCK                         held (flock) while a process has the log open
//	00000000000000000000.seg     segments, named by the offset of their first record
//	00000000000000120000.seg
//	offsets/store.offset         one file per consumer group: its next offset
//
// A segment starts with a 32-byte header:
//
//	0   4  magic "VLOG"
//	4   2  format version (1 or 2), big endian
//	6   2  reserved, zero
//	8   8  offset of the segment's first record
//	16  8  creation time, Unix milliseconds
//	24  4  reserved, zero
//	28  4  CRC-32C of bytes 0..28
//
// and continues with one frame per record:
//
//	0   4  n: length of the body
//	4   4  CRC-32C of the length field and the body
//	8   n  body:
//	          8        the record's offset (version 2 only)
//	          8        append time, Unix milliseconds
//	          uvarint  key length, key
//	          uvarint  ID length, ID
//	          rest     value
//
// Offsets are dense: a record's offset is its segment's base plus its index
// in the segment. Version 2 frames store it all the same, so that a reader
// that skips a damaged frame knows the offsets of those after it; version
// 1 frames, which releases before version 2 wrote, do not.
//
// # Versions
//
// Each segment is read in the version its header names, and new segments
// are written in version 2 only. Open never appends to a last segment of
// version 1: it seals it as it is and starts a version 2 segment at the
// next offset (one that holds no record is written again in version 2
// instead), so an upgraded log keeps every record under its offset, and
// the groups' committed offsets stay valid.
//
// # Writing
//
// Append encodes its records into frames in the caller's goroutine and
// queues them. One writer goroutine takes every queued batch, stamps them
// with one append time (never earlier than the previous one, so times are
// monotonic in offset order), writes them, fsyncs once and then wakes all
// their callers: concurrent appends share an fsync, and an append waits for
// at most the cycle that is running when it arrives plus its own. Readers see
// a batch only after its fsync, and all of it at once.
//
// A segment is sealed (fsynced, then a new one created and its directory
// entry fsynced) when the next batch would take it past SegmentBytes; a
// batch is never split across segments.
//
// # Retention
//
// The writer deletes whole segments, oldest first, while the log would
// exceed MaxBytes or the segment's records are older than Retention; it
// runs when a segment is sealed, when an append needs room, when a group
// commits while the log is full, and on a timer. It never deletes the
// segment being written, nor a record that a required group has not
// committed. A group that is not required and has fallen behind a deleted
// segment moves to the oldest retained record; the records it lost are
// counted in vigil_filelog_skipped_records_total and reported to
// Config.OnSkip. When nothing may be deleted, Append returns
// eventlog.ErrFull and Ready reports it until room is made: once an append
// was refused, Ready reports the log full (and retention frees toward the
// mark) until usage is below nine tenths of MaxBytes, even while smaller
// appends that fit are taken, so that readiness does not flap. The full
// state is logged once when it begins and once when it ends.
//
// # Recovery
//
// Open reads every segment header (an unknown format version is an error
// naming the file) and verifies every frame of the last segment, truncating
// a torn tail: damage that reaches the end of the last segment can only
// hold records whose Append had not returned, because a batch is
// acknowledged after its fsync and a segment is sealed before the next one
// is created.
//
// # Damage
//
// A frame that fails its checks anywhere else (in a sealed segment, or in
// the last one with valid frames after it) is a damaged region: Open, or
// the first reader that meets it (sealed segments are verified whole when
// a reader first needs them), scans forward byte by byte to the next
// position where a frame's length, offset (in version 2) and CRC-32C
// validate (see resync), and readers go on there, under the offsets the
// frames carry (in version 1, as below). A
// damaged region at the end of a sealed segment holds the records up to
// the next segment's base. Each region is reported once: its bytes are
// copied to SEGMENT.corrupt-POSITION next to the segment, it is logged,
// counted in vigil_filelog_corrupt_frames_total, _bytes_total and
// _records_total, kept for Damaged and passed to Config.OnCorrupt. A
// region whose copy an earlier run made is only logged.
//
// What a damaged region costs depends on the segment's version. In
// version 2 it costs the records it held and nothing else. A version 1
// frame carries no offset, so the offsets of the frames after a region are
// known only by counting back from the segment's end (see region); where
// they cannot be, the log takes the choice that never makes a group skip
// a record. No segment's base ever moves, so later segments are never
// affected:
//
//   - In a sealed version 1 segment, whose record count the next segment's
//     base gives, a region that only valid frames follow costs its own
//     records, as in version 2. With a second region the records between
//     them cannot be counted: the rest of the segment from the first is one
//     region, and lost.
//   - In a version 1 last segment, whose count Open does not know, a region
//     that only valid frames (and a torn tail) follow is counted as holding
//     as many records as its bytes could (one per 18 bytes, the smallest
//     frame). The frames after it are kept under offsets no lower than
//     their own: a group that had committed past the region resumes there
//     or before and may read some records again, but skips none, and no new
//     record takes an offset a group has seen. Lag counts the offsets left
//     unused. With a second region the rest of the segment is lost, counted
//     the same way. The segment is sealed as it is and reads the same on
//     every later Open.
//
// Commit writes the group's offset to a temporary file, fsyncs it, renames
// it over the group's file and fsyncs the directory.
package filelog
