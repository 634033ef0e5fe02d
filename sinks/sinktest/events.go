package sinktest

import (
	"encoding/binary"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// eventSeq numbers generated events so that every event of a test binary
// has its own event_id, increasing in the order generated.
var eventSeq atomic.Uint64

// eventEpoch is the time of the first generated event; each next one is a
// millisecond later.
var eventEpoch = time.Date(2026, 3, 30, 21, 18, 19, 123e6, time.UTC)

var (
	eventUsers = []string{
		"alice@example.com", "bob.jones@example.com", "carol@example.org",
		"dmitri.ivanov@example.net", "eve@example.com", "frank.o@example.org",
		"grace.hopper@example.com",
	}
	eventOperations = []string{
		`["META_REQUEST","CONTENT_REQUEST","CONTENT_COMPLETED"]`,
		`["META_REQUEST"]`,
		`["CONTENT_REQUEST","CONTENT_COMPLETED"]`,
	}
	// eventFolders include non-ASCII text and a JSON escape, as real paths
	// do, so that framers are seen to pass such bytes through untouched.
	eventFolders = []string{
		"Engineering/Roadmaps/2026/Q2 planning",
		"Finance/Budgets/FY26",
		"Legal/Contrats/Résumés signés",
		`Sales/Deals/\"Blue Harbor\" renewal`,
		"HR/Onboarding",
	}
)

// Events returns n canonical events, as the log holds them (envelope
// first, documented fields in catalog order, no whitespace): two
// file.transfer events (about 680 bytes) for each user.signin (about 230),
// so about 530 bytes on average. Their event_ids are unique within the
// test binary and sort in the order returned; their keys (the submitting
// user) cycle through a few users.
func Events(n int) []eventlog.Record {
	out := make([]eventlog.Record, n)
	for i := range out {
		out[i] = event(eventSeq.Add(1))
	}
	return out
}

func event(seq uint64) eventlog.Record {
	ts := eventEpoch.Add(time.Duration(seq) * time.Millisecond)
	// A ULID: 48 bits of milliseconds, then the sequence number where the
	// random part would be.
	var id ulid.ULID
	binary.BigEndian.PutUint64(id[:8], uint64(ts.UnixMilli())<<16)
	binary.BigEndian.PutUint64(id[8:], seq)
	user := eventUsers[seq%uint64(len(eventUsers))]
	h := seq * 0x9e3779b97f4a7c15

	b := make([]byte, 0, 768)
	if seq%3 == 0 {
		b = append(b, `{"topic":"USER","event":"user.signin","timestamp":"`...)
	} else {
		b = append(b, `{"topic":"FILE","event":"file.transfer","timestamp":"`...)
	}
	b = appendTime(b, ts)
	b = append(b, `","event_id":"`...)
	b = append(b, id.String()...)
	b = append(b, `","received_at":"`...)
	b = appendTime(b, ts.Add(87*time.Millisecond))
	if seq%3 == 0 {
		b = append(b, `","user":"`...)
		b = append(b, user...)
		b = append(b, `","authority":"OpenID"}`...)
		return eventlog.Record{ID: id.String(), Key: []byte(user), Value: b, Time: ts}
	}
	b = append(b, `","verified_submitter":{"user_id":"`...)
	b = append(b, user...)
	b = append(b, `","device_id":"`...)
	b = appendHex128(b, h, ^h)
	b = append(b, `"},"soid":{"sid":"`...)
	b = appendHex128(b, h>>7, h<<3)
	b = append(b, `","oid":"`...)
	b = appendHex128(b, h^0x5bd1e995, seq)
	b = append(b, `"},"event_time":"`...)
	b = appendTime(b, ts.Add(-79*time.Millisecond))
	b = append(b, `","operations":`...)
	b = append(b, eventOperations[seq%uint64(len(eventOperations))]...)
	b = append(b, `,"device":"`...)
	b = appendHex128(b, h, ^h)
	b = append(b, `","path":{"sid":"`...)
	b = appendHex128(b, h>>11, h<<5)
	b = append(b, `","relative_path":"`...)
	b = append(b, eventFolders[seq%uint64(len(eventFolders))]...)
	b = append(b, `/report-`...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `.pdf"},"destination_device":"`...)
	b = appendHex128(b, ^h>>3, h>>9)
	b = append(b, `","destination_user":"`...)
	b = append(b, eventUsers[(seq+3)%uint64(len(eventUsers))]...)
	b = append(b, `"}`...)
	return eventlog.Record{ID: id.String(), Key: []byte(user), Value: b, Time: ts}
}

// appendTime appends t in the wire form: RFC 3339, UTC, milliseconds.
func appendTime(b []byte, t time.Time) []byte {
	return t.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z07:00")
}

// appendHex128 appends hi and lo as 32 lowercase hex digits, the form of
// the catalog's identifiers.
func appendHex128(b []byte, hi, lo uint64) []byte {
	const digits = "0123456789abcdef"
	for _, v := range [2]uint64{hi, lo} {
		for shift := 60; shift >= 0; shift -= 4 {
			b = append(b, digits[(v>>uint(shift))&0xf])
		}
	}
	return b
}
