package query

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/zeebo/xxh3"

	"github.com/vigilaudit/vigil/schema"
)

// Cursor is a position in the results of a search: the time and event_id
// of the last event returned. A page after it holds the events strictly
// after (time, event_id) in the search's order. Since and Until are the
// search's window as the page that made the cursor read it (from a
// cursor's text; Encode writes the filter's).
type Cursor struct {
	Time    int64 // Unix milliseconds
	EventID string

	Since, Until time.Time
}

// Versions of the cursor's text: 1 holds the hash, time and id; 2 adds
// the window's bounds.
const (
	cursorV1 = 1
	cursorV2 = 2
)

// Encode returns the opaque text of c for the search of f in order o.
// The text carries a hash of the search, so that it cannot continue
// another one, and f's window, so that relative times resolve once.
func (c Cursor) Encode(f Filter, o Order) string {
	b := make([]byte, 0, 33+len(c.EventID))
	b = append(b, cursorV2)
	b = binary.BigEndian.AppendUint64(b, searchHash(f, o))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time))
	b = binary.BigEndian.AppendUint64(b, uint64(unixMilli(f.Since)))
	b = binary.BigEndian.AppendUint64(b, uint64(unixMilli(f.Until)))
	b = append(b, c.EventID...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// unixMilli is t in Unix milliseconds, 0 for the zero time.
func unixMilli(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMilli(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// ParseCursor reads a cursor that Encode made for the search of f in
// order o. Any other text is ErrBadCursor.
func ParseCursor(s string, f Filter, o Order) (Cursor, error) {
	if len(s) > 160 { // 33 bytes and an id of up to 64, in base64
		return Cursor{}, ErrBadCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 18 || (b[0] != cursorV1 && b[0] != cursorV2) {
		return Cursor{}, ErrBadCursor
	}
	if binary.BigEndian.Uint64(b[1:9]) != searchHash(f, o) {
		return Cursor{}, ErrBadCursor
	}
	c := Cursor{Time: int64(binary.BigEndian.Uint64(b[9:17])), Since: f.Since, Until: f.Until}
	rest := b[17:]
	if b[0] == cursorV2 {
		if len(rest) < 17 {
			return Cursor{}, ErrBadCursor
		}
		c.Since = fromMilli(int64(binary.BigEndian.Uint64(rest[0:8])))
		c.Until = fromMilli(int64(binary.BigEndian.Uint64(rest[8:16])))
		rest = rest[16:]
	}
	c.EventID = string(rest)
	if !validID(c.EventID) {
		return Cursor{}, ErrBadCursor
	}
	return c, nil
}

// CursorAfter returns the cursor of page p that continues after the event
// whose wire form is given.
func CursorAfter(p Page, wire []byte) (string, error) {
	ms, id, err := wireKey(wire)
	if err != nil {
		return "", err
	}
	return Cursor{Time: ms, EventID: id}.Encode(p.Filter, p.Order), nil
}

// wireKey reads the timestamp and event_id of a wire form.
func wireKey(wire []byte) (int64, string, error) {
	ms, err := schema.SplitObject(wire)
	if err != nil {
		return 0, "", fmt.Errorf("read event key: %w", err)
	}
	var ts time.Time
	var id string
	for _, m := range ms {
		switch string(m.Key) {
		case "timestamp":
			s, err := jsonString(m.Value)
			if err == nil {
				ts, err = time.Parse(time.RFC3339Nano, s)
			}
			if err != nil {
				return 0, "", fmt.Errorf("read event key: timestamp: %w", err)
			}
		case "event_id":
			if id, err = jsonString(m.Value); err != nil {
				return 0, "", fmt.Errorf("read event key: event_id: %w", err)
			}
		}
		if id != "" && !ts.IsZero() {
			return ts.UnixMilli(), id, nil
		}
	}
	return 0, "", fmt.Errorf("read event key: no timestamp or event_id")
}

// validID reports whether s could be an event_id.
func validID(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.' || c == ':') {
			return false
		}
	}
	return true
}

// searchHash hashes what decides a search's results and their order: the
// filter, in the form Validate gives it, and the order.
func searchHash(f Filter, o Order) uint64 {
	f.Topics = append([]schema.Topic(nil), f.Topics...)
	f.Events = append([]string(nil), f.Events...)
	_ = f.Validate() // an invalid filter is refused before any cursor is read
	h := xxh3.New()
	var b []byte
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.BigEndian.AppendUint64(b, uint64(t.UnixMilli()))
	}
	ago := func(d time.Duration) {
		b = append(b, 2)
		b = binary.AppendVarint(b, int64(d))
	}
	b = append(b, byte(o))
	// A relative bound is hashed as written ("30d"), not as the time it
	// resolved to, which moves on every request.
	if f.SinceAgo != 0 {
		ago(f.SinceAgo)
	} else {
		tm(f.Since)
	}
	if f.UntilAgo != 0 {
		ago(f.UntilAgo)
	} else {
		tm(f.Until)
	}
	b = binary.AppendUvarint(b, uint64(len(f.Topics)))
	for _, t := range f.Topics {
		str(string(t))
	}
	b = binary.AppendUvarint(b, uint64(len(f.Events)))
	for _, e := range f.Events {
		str(e)
	}
	for _, s := range []string{f.User, f.Device, f.SOID, f.Path, f.IP, f.Key, f.Folder} {
		str(s)
	}
	_, _ = h.Write(b)
	return h.Sum64()
}
