package schema

import (
	"encoding/binary"

	"github.com/oklog/ulid/v2"
	"github.com/zeebo/xxh3"
)

// deriveID returns the event_id of an event that came without one: a ULID
// whose time is the event's timestamp and whose other 80 bits hash the
// submitter and the event's canonical content. A retried upload of the
// same event gets the same id, and ids sort by event time.
// ulidLen is the length of a ULID's text.
const ulidLen = ulid.EncodedSize

// deriveID writes the id into dst, which is ulidLen bytes.
func (n *Normalizer) deriveID(body, dst []byte) {
	h := n.hash[:0]
	h = append(h, n.spec.Topic...)
	h = append(h, 0)
	h = append(h, n.spec.Name...)
	h = append(h, 0)
	h = binary.BigEndian.AppendUint64(h, uint64(n.ts.UnixMilli()))
	h = append(h, n.submitter.UserID...)
	h = append(h, 0)
	h = append(h, n.submitter.DeviceID...)
	h = append(h, 0)
	h = append(h, body...)
	n.hash = h
	sum := xxh3.Hash128(h).Bytes()

	var u ulid.ULID
	_ = u.SetTime(uint64(n.ts.UnixMilli())) // the timestamp is bounded to year 9999, well inside 48 bits
	copy(u[6:], sum[:10])
	_ = u.MarshalTextTo(dst)
}
