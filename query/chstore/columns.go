package chstore

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// columns is the events table's column list, in the order of values and
// scan: 18.16 needs it spelled out in batch inserts.
const columns = "time, topic, event, event_id, flags, received, sub_user, sub_device, u0, users, d0, devices, " +
	"sid, oid, path_sid, path, path_to_sid, path_to, ip, link_key, folder_id, folder_name, " +
	"role, old_role, new_role, operations, t0, times, rest"

// selectColumns reads columns. Arrays of LowCardinality are cast to
// plain arrays: 18.16 sends a block whose such arrays are all empty in a
// form the driver cannot read.
var selectColumns = func() string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		switch c {
		case "role", "old_role", "new_role", "operations":
			cols[i] = "CAST(" + c + ", 'Array(String)') AS " + c
		}
	}
	return strings.Join(cols, ", ")
}()

// Bits of flags.
const (
	// flagReceived: received holds received_at minus time.
	flagReceived = 1 << iota
	// flagSubUser: the submitter's user is Row.Users[0] (u0), exactly;
	// otherwise sub_user holds it.
	flagSubUser
	// flagSubDevice: the submitter's device is Row.Devices[0] (d0).
	flagSubDevice
)

// Codes of the dictionary-coded columns (u0, users, d0, devices, sid,
// oid, path_sid, path_to_sid, folder_id) below firstCode: codeNone is the
// empty string, codeSameSID (in path_sid and path_to_sid) is "the same as
// sid". The dictionary assigns firstCode and up.
const (
	codeNone    = 0
	codeSameSID = 1
	firstCode   = 16
)

// record is a query.Row in the events table's terms, before its strings
// are coded.
//
// Users and devices are stored once, as the codes of Row.Users and
// Row.Devices (lower-cased, which is what filters and rankings use): the
// first in u0 and d0 (a sort key, and most events have one), the others
// in users and devices. The verified submitter and the user and device
// fields that Rest holds point into those lists where their value is
// exactly the list's entry (the usual case); Rest keeps them as
// placeholders U<i> and D<i>, and canonical times as T<i>, offsets from
// time in t0 and times. What is left of Rest is mostly the same for every
// event of a kind, which compresses to almost nothing.
type record struct {
	row       query.Row
	flags     uint16
	received  int64
	subUser   string
	subDevice string
	t0        int64
	times     []int64
	rest      string
}

// recordOf takes e apart into its columns.
func recordOf(e *schema.Event) (record, error) {
	r, err := query.RowOf(e)
	if err != nil {
		return record{}, err
	}
	rec := record{row: r}
	if r.ReceivedAt != 0 {
		rec.flags |= flagReceived
		rec.received = r.ReceivedAt - r.Time
	}
	if r.SubmitterUser != "" && len(r.Users) > 0 && r.Users[0] == r.SubmitterUser {
		rec.flags |= flagSubUser
	} else {
		rec.subUser = r.SubmitterUser
	}
	if r.SubmitterDevice != "" && len(r.Devices) > 0 && r.Devices[0] == r.SubmitterDevice {
		rec.flags |= flagSubDevice
	} else {
		rec.subDevice = r.SubmitterDevice
	}
	var times []int64
	tmpl, err := template(r, &times)
	if err != nil {
		return record{}, fmt.Errorf("event %s: %w", r.EventID, err)
	}
	rec.rest = tmpl
	if len(times) > 0 {
		rec.t0, rec.times = times[0], times[1:]
	}
	return rec, nil
}

// strings appends the strings that the record's coded columns hold.
func (rec *record) strings(dst []string) []string {
	r := &rec.row
	dst = append(dst, r.Users...)
	dst = append(dst, r.Devices...)
	for _, s := range []string{r.SID, r.OID, r.PathSID, r.PathToSID, r.FolderID} {
		if s != "" {
			dst = append(dst, s)
		}
	}
	return dst
}

// block is records in columns, in the order of columns, for the driver's
// columnar append: a row at a time costs it about 6 us per event.
type block struct {
	time, received, t0                                               []int64
	topic, event, eventID, subUser, subDevice, path, pathTo, ip, key []string
	folderName, rest                                                 []string
	flags                                                            []uint16
	u0, d0, sid, oid, pathSID, pathToSID, folderID                   []uint32
	users, devices                                                   [][]uint32
	role, oldRole, newRole, operations                               [][]string
	times                                                            [][]int64
}

// add appends a record, with code giving each string's code.
func (bl *block) add(rec *record, code func(string) uint32) {
	r := &rec.row
	u0, users := splitCodes(r.Users, code)
	d0, devices := splitCodes(r.Devices, code)
	hexCode := func(s string) uint32 {
		if s == "" {
			return codeNone
		}
		return code(s)
	}
	sameSID := func(s string) uint32 {
		if s != "" && s == r.SID {
			return codeSameSID
		}
		return hexCode(s)
	}
	times := rec.times
	if times == nil {
		times = []int64{}
	}
	bl.time = append(bl.time, r.Time)
	bl.topic = append(bl.topic, r.Topic)
	bl.event = append(bl.event, r.Event)
	bl.eventID = append(bl.eventID, r.EventID)
	bl.flags = append(bl.flags, rec.flags)
	bl.received = append(bl.received, rec.received)
	bl.subUser = append(bl.subUser, rec.subUser)
	bl.subDevice = append(bl.subDevice, rec.subDevice)
	bl.u0 = append(bl.u0, u0)
	bl.users = append(bl.users, users)
	bl.d0 = append(bl.d0, d0)
	bl.devices = append(bl.devices, devices)
	bl.sid = append(bl.sid, hexCode(r.SID))
	bl.oid = append(bl.oid, hexCode(r.OID))
	bl.pathSID = append(bl.pathSID, sameSID(r.PathSID))
	bl.path = append(bl.path, r.Path)
	bl.pathToSID = append(bl.pathToSID, sameSID(r.PathToSID))
	bl.pathTo = append(bl.pathTo, r.PathTo)
	bl.ip = append(bl.ip, r.IP)
	bl.key = append(bl.key, r.LinkKey)
	bl.folderID = append(bl.folderID, hexCode(r.FolderID))
	bl.folderName = append(bl.folderName, r.FolderName)
	bl.role = append(bl.role, list(r.Role))
	bl.oldRole = append(bl.oldRole, list(r.OldRole))
	bl.newRole = append(bl.newRole, list(r.NewRole))
	bl.operations = append(bl.operations, list(r.Operations))
	bl.t0 = append(bl.t0, rec.t0)
	bl.times = append(bl.times, times)
	bl.rest = append(bl.rest, rec.rest)
}

// columns returns the block's columns in the order of columns.
func (bl *block) columns() []any {
	return []any{bl.time, bl.topic, bl.event, bl.eventID, bl.flags, bl.received, bl.subUser, bl.subDevice,
		bl.u0, bl.users, bl.d0, bl.devices, bl.sid, bl.oid, bl.pathSID, bl.path, bl.pathToSID, bl.pathTo,
		bl.ip, bl.key, bl.folderID, bl.folderName, bl.role, bl.oldRole, bl.newRole, bl.operations,
		bl.t0, bl.times, bl.rest}
}

func splitCodes(ss []string, code func(string) uint32) (uint32, []uint32) {
	if len(ss) == 0 {
		return codeNone, []uint32{}
	}
	rest := make([]uint32, len(ss)-1)
	for i, s := range ss[1:] {
		rest[i] = code(s)
	}
	return code(ss[0]), rest
}

// stored is an events row as read, its strings still coded.
type stored struct {
	row                                  query.Row
	flags                                uint16
	received, t0                         int64
	times                                []int64
	u0, d0, sid, oid, pathSID, pathToSID uint32
	folderID                             uint32
	users, devices                       []uint32
	subUser, subDevice, tmpl             string
}

// scan reads a row selected with selectColumns.
func scan(s interface{ Scan(dest ...any) error }) (stored, error) {
	var st stored
	r := &st.row
	if err := s.Scan(&r.Time, &r.Topic, &r.Event, &r.EventID, &st.flags, &st.received, &st.subUser, &st.subDevice,
		&st.u0, &st.users, &st.d0, &st.devices, &st.sid, &st.oid, &st.pathSID, &r.Path, &st.pathToSID, &r.PathTo,
		&r.IP, &r.LinkKey, &st.folderID, &r.FolderName, &r.Role, &r.OldRole, &r.NewRole, &r.Operations,
		&st.t0, &st.times, &st.tmpl); err != nil {
		return stored{}, err
	}
	return st, nil
}

// codes appends the codes the row holds.
func (st *stored) codes(dst []uint32) []uint32 {
	dst = append(dst, st.u0, st.d0, st.sid, st.oid, st.pathSID, st.pathToSID, st.folderID)
	dst = append(dst, st.users...)
	return append(dst, st.devices...)
}

// decode rebuilds the query.Row, value giving each code's string.
func (st *stored) decode(value func(uint32) (string, error)) (query.Row, error) {
	r := st.row
	str := func(c uint32) (string, error) {
		if c == codeNone {
			return "", nil
		}
		return value(c)
	}
	list := func(c0 uint32, cs []uint32) ([]string, error) {
		if c0 == codeNone {
			return nil, nil
		}
		out := make([]string, 0, 1+len(cs))
		for _, c := range append([]uint32{c0}, cs...) {
			s, err := value(c)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	var err error
	if r.Users, err = list(st.u0, st.users); err != nil {
		return query.Row{}, err
	}
	if r.Devices, err = list(st.d0, st.devices); err != nil {
		return query.Row{}, err
	}
	if r.SID, err = str(st.sid); err != nil {
		return query.Row{}, err
	}
	if r.OID, err = str(st.oid); err != nil {
		return query.Row{}, err
	}
	if r.FolderID, err = str(st.folderID); err != nil {
		return query.Row{}, err
	}
	for _, c := range []struct {
		code uint32
		dst  *string
	}{{st.pathSID, &r.PathSID}, {st.pathToSID, &r.PathToSID}} {
		if c.code == codeSameSID {
			*c.dst = r.SID
		} else if *c.dst, err = str(c.code); err != nil {
			return query.Row{}, err
		}
	}
	if st.flags&flagReceived != 0 {
		r.ReceivedAt = r.Time + st.received
	}
	r.SubmitterUser, r.SubmitterDevice = st.subUser, st.subDevice
	if st.flags&flagSubUser != 0 && len(r.Users) > 0 {
		r.SubmitterUser = r.Users[0]
	}
	if st.flags&flagSubDevice != 0 && len(r.Devices) > 0 {
		r.SubmitterDevice = r.Devices[0]
	}
	times := append([]int64{st.t0}, st.times...)
	if r.Rest, err = untemplate(st.tmpl, r.Users, r.Devices, times, r.Time); err != nil {
		return query.Row{}, fmt.Errorf("event %s: %w", r.EventID, err)
	}
	return r, nil
}

// list turns nil into an empty slice, which the driver wants for arrays.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// template returns r.Rest with its user, device and time values replaced
// by placeholders: U<i> for a string that is exactly r.Users[i] (at the
// top level or one object down, as in a caller), D<i> for r.Devices[i],
// and T<i> for a top-level canonical time, whose offset from r.Time it
// appends to times. Outside strings, JSON never holds U, D or T, so
// untemplate finds them again; everything else is copied as it is.
func template(r query.Row, times *[]int64) (string, error) {
	src := []byte(r.Rest)
	if len(src) <= 2 {
		return r.Rest, nil
	}
	out := make([]byte, 0, len(src))
	var walk func(b []byte, depth int) error
	walk = func(b []byte, depth int) error {
		i := 0
		for i < len(b) {
			c := b[i]
			if c != '"' {
				out = append(out, c)
				i++
				continue
			}
			end, ok := schema.SkipString(b, i)
			if !ok {
				return errBadRest
			}
			tok := b[i:end]
			if end < len(b) && b[end] == ':' {
				out = append(out, tok...) // a member name
				i = end
				continue
			}
			out = appendValue(out, tok, r, times, depth)
			i = end
		}
		return nil
	}
	// Only the top level and objects one level down are looked into;
	// deeper values and arrays are copied.
	members, err := schema.SplitObject(src)
	if err != nil {
		return "", errBadRest
	}
	out = append(out, '{')
	for i, m := range members {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.Key...)
		out = append(out, '"', ':')
		switch m.Value[0] {
		case '"':
			out = appendValue(out, m.Value, r, times, 0)
		case '{':
			if bytes.Contains(m.Value[1:len(m.Value)-1], []byte{'{'}) || bytes.Contains(m.Value, []byte{'['}) {
				out = append(out, m.Value...)
				continue
			}
			if err := walk(m.Value, 1); err != nil {
				return "", err
			}
		default:
			out = append(out, m.Value...)
		}
	}
	out = append(out, '}')
	return string(out), nil
}

// appendValue appends a string token, or its placeholder.
func appendValue(out, tok []byte, r query.Row, times *[]int64, depth int) []byte {
	inner := tok[1 : len(tok)-1]
	if bytes.IndexByte(inner, '\\') >= 0 {
		return append(out, tok...) // escapes: keep as written
	}
	s := string(inner)
	var buf [128]byte
	if !bytes.Equal(schema.AppendString(buf[:0], s), tok) {
		return append(out, tok...) // not as untemplate would spell it
	}
	if i := slices.Index(r.Users, s); i >= 0 {
		return strconv.AppendInt(append(out, 'U'), int64(i), 10)
	}
	if i := slices.Index(r.Devices, s); i >= 0 {
		return strconv.AppendInt(append(out, 'D'), int64(i), 10)
	}
	if depth == 0 && len(inner) == len("2006-01-02T15:04:05.000Z") && inner[len(inner)-1] == 'Z' {
		if t, err := time.Parse("2006-01-02T15:04:05.000Z", s); err == nil && string(schema.AppendTime(nil, t)) == s {
			i := len(*times)
			*times = append(*times, t.UnixMilli()-r.Time)
			return strconv.AppendInt(append(out, 'T'), int64(i), 10)
		}
	}
	return append(out, tok...)
}

var errBadRest = fmt.Errorf("rest is not a compact JSON object")

// untemplate reverses template.
func untemplate(tmpl string, users, devices []string, times []int64, at int64) (string, error) {
	b := []byte(tmpl)
	if bytes.IndexAny(b, "UDT") < 0 {
		return tmpl, nil
	}
	out := make([]byte, 0, len(b)+64)
	for i := 0; i < len(b); {
		c := b[i]
		switch c {
		case '"':
			end, ok := schema.SkipString(b, i)
			if !ok {
				return "", errBadRest
			}
			out = append(out, b[i:end]...)
			i = end
			continue
		case 'U', 'D', 'T':
			j := i + 1
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			k, err := strconv.Atoi(string(b[i+1 : j]))
			if err != nil {
				return "", errBadRest
			}
			switch {
			case c == 'U' && k < len(users):
				out = schema.AppendString(out, users[k])
			case c == 'D' && k < len(devices):
				out = schema.AppendString(out, devices[k])
			case c == 'T' && k < len(times):
				out = append(out, '"')
				out = schema.AppendTime(out, time.UnixMilli(at+times[k]).UTC())
				out = append(out, '"')
			default:
				return "", fmt.Errorf("placeholder %s out of range", b[i:j])
			}
			i = j
			continue
		}
		out = append(out, c)
		i++
	}
	return string(out), nil
}
