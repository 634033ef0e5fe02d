package query

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// Row is one event as the stores keep it: the columns that queries filter
// and group on, derived from the catalog, and Rest for everything else.
// The event's wire form is rebuilt from a Row byte for byte (see Wire), so
// stores keep no copy of it.
//
// String columns are "" and list columns empty when the event does not
// carry the field. A field whose value the columns cannot spell exactly
// (a role of null or [], a shared folder whose name is "") is also kept
// whole in Rest; the columns then still hold what they can, for filters.
type Row struct {
	Time       int64 // timestamp, Unix milliseconds
	ReceivedAt int64 // received_at, Unix milliseconds; 0 when absent
	Topic      string
	Event      string
	EventID    string

	// SubmitterUser and SubmitterDevice are verified_submitter, as the
	// server set them.
	SubmitterUser, SubmitterDevice string

	// Users is every user the event names in any role, lower-cased,
	// without repeats, in the order of the wire form: the submitter, then
	// every user id or email field and a caller's email and acting_as.
	// It is what Filter.User and Stats by "user" use; the fields
	// themselves are in Rest.
	Users []string
	// Devices is every device the event names in any role, lower-cased,
	// without repeats: the submitter's device, then every device field
	// and a caller's device. Filter.Device and Stats by "device" use it.
	Devices []string

	// SID and OID are the soid of a file or folder; link.download carries
	// only an oid.
	SID, OID string
	// PathSID and Path are path: the store id and the relative path.
	PathSID, Path string
	// PathToSID and PathTo are path_to, the destination of a move.
	PathToSID, PathTo string
	IP                string
	LinkKey           string // key
	// FolderID and FolderName are a shared folder (folder).
	FolderID, FolderName string
	// Role, OldRole and NewRole are the role sets of sharing events.
	Role, OldRole, NewRole []string
	Operations             []string

	// Rest is a compact JSON object of the event's other fields: catalog
	// fields in catalog order, then the extra fields sorted by name, each
	// as its canonical wire bytes. It is "{}" when there are none.
	Rest string
}

// column names the Row column(s) that hold a catalog field.
type column int

const (
	colNone column = iota
	colSOID
	colOID
	colPath
	colPathTo
	colIP
	colKey
	colFolder
	colRole
	colOldRole
	colNewRole
	colOperations
)

// columnOf returns the column of a catalog field; colNone sends it to
// Rest.
func columnOf(f *schema.Field) column {
	type key struct {
		name string
		t    schema.Type
	}
	switch (key{f.Name, f.Type}) {
	case key{"soid", schema.TypeSOID}:
		return colSOID
	case key{"oid", schema.TypeOID}:
		return colOID
	case key{"path", schema.TypePath}:
		return colPath
	case key{"path_to", schema.TypePath}:
		return colPathTo
	case key{"ip", schema.TypeIP}:
		return colIP
	case key{"key", schema.TypeLinkKey}:
		return colKey
	case key{"folder", schema.TypeSharedFolder}:
		return colFolder
	case key{"role", schema.TypeRole}:
		return colRole
	case key{"old_role", schema.TypeRole}:
		return colOldRole
	case key{"new_role", schema.TypeRole}:
		return colNewRole
	case key{"operations", schema.TypeOperations}:
		return colOperations
	}
	return colNone
}

// envelope reports whether a wire member is part of the envelope.
func envelope(name string) bool {
	switch name {
	case "topic", "event", "timestamp", "event_id", "received_at", "verified_submitter":
		return true
	}
	return false
}

// RowOf takes an event apart into its stored columns.
func RowOf(e *schema.Event) (Row, error) {
	spec := e.Spec()
	r := Row{
		Time:    e.Timestamp().UnixMilli(),
		Topic:   string(spec.Topic),
		Event:   spec.Name,
		EventID: e.ID(),
	}
	if t := e.ReceivedAt(); !t.IsZero() {
		r.ReceivedAt = t.UnixMilli()
		if r.ReceivedAt == 0 {
			return Row{}, errors.New("row of event: received_at at the Unix epoch cannot be stored")
		}
	}
	sub := e.Submitter()
	r.SubmitterUser, r.SubmitterDevice = sub.UserID, sub.DeviceID
	if sub.UserID != "" {
		r.Users = addLower(r.Users, sub.UserID)
	}
	if sub.DeviceID != "" {
		r.Devices = addLower(r.Devices, sub.DeviceID)
	}

	members, err := schema.SplitObject(e.Wire())
	if err != nil {
		return Row{}, fmt.Errorf("row of event %s: %w", e.ID(), err)
	}
	var p fastjson.Parser
	rest := make([]byte, 0, 64)
	rest = append(rest, '{')
	var buf []byte
	for _, m := range members {
		name := string(m.Key)
		if envelope(name) {
			continue
		}
		i := spec.Field(name)
		if i < 0 {
			rest = appendMember(rest, m)
			continue
		}
		f := &spec.Fields[i]
		if err := r.identities(&p, f, m.Value); err != nil {
			return Row{}, fmt.Errorf("row of event %s: %s: %w", e.ID(), name, err)
		}
		c := columnOf(f)
		if c == colNone {
			rest = appendMember(rest, m)
			continue
		}
		if err := r.set(&p, c, m.Value); err != nil {
			return Row{}, fmt.Errorf("row of event %s: %s: %w", e.ID(), name, err)
		}
		buf = r.appendColumn(buf[:0], c)
		if string(buf) != string(m.Value) {
			// The columns cannot spell this value exactly: keep it whole.
			rest = appendMember(rest, m)
		}
	}
	rest = append(rest, '}')
	r.Rest = string(rest)
	return r, nil
}

// identities adds the users and devices that a field names.
func (r *Row) identities(p *fastjson.Parser, f *schema.Field, val []byte) error {
	switch f.Type {
	case schema.TypeUserID, schema.TypeEmail:
		s, err := jsonString(val)
		if err != nil {
			return err
		}
		r.Users = addLower(r.Users, s)
	case schema.TypeDID:
		s, err := jsonString(val)
		if err != nil {
			return err
		}
		r.Devices = addLower(r.Devices, s)
	case schema.TypeCaller:
		v, err := p.ParseBytes(val)
		if err != nil {
			return err
		}
		if b := v.GetStringBytes("email"); len(b) > 0 {
			r.Users = addLower(r.Users, string(b))
		}
		if b := v.GetStringBytes("acting_as"); len(b) > 0 {
			r.Users = addLower(r.Users, string(b))
		}
		if b := v.GetStringBytes("device"); len(b) > 0 {
			r.Devices = addLower(r.Devices, string(b))
		}
	}
	return nil
}

// set fills column c from a field's canonical value.
func (r *Row) set(p *fastjson.Parser, c column, val []byte) error {
	switch c {
	case colOID, colIP, colKey:
		s, err := jsonString(val)
		if err != nil {
			return err
		}
		switch c {
		case colOID:
			r.OID = s
		case colIP:
			r.IP = s
		default:
			r.LinkKey = s
		}
		return nil
	case colRole, colOldRole, colNewRole, colOperations:
		var list []string
		if string(val) != "null" {
			v, err := p.ParseBytes(val)
			if err != nil {
				return err
			}
			a, err := v.Array()
			if err != nil {
				return err
			}
			for _, el := range a {
				b, err := el.StringBytes()
				if err != nil {
					return err
				}
				list = append(list, string(b))
			}
		}
		switch c {
		case colRole:
			r.Role = list
		case colOldRole:
			r.OldRole = list
		case colNewRole:
			r.NewRole = list
		default:
			r.Operations = list
		}
		return nil
	}
	v, err := p.ParseBytes(val)
	if err != nil {
		return err
	}
	switch c {
	case colSOID:
		r.SID, r.OID = string(v.GetStringBytes("sid")), string(v.GetStringBytes("oid"))
	case colPath:
		r.PathSID, r.Path = string(v.GetStringBytes("sid")), string(v.GetStringBytes("relative_path"))
	case colPathTo:
		r.PathToSID, r.PathTo = string(v.GetStringBytes("sid")), string(v.GetStringBytes("relative_path"))
	case colFolder:
		r.FolderID, r.FolderName = string(v.GetStringBytes("id")), string(v.GetStringBytes("name"))
	}
	return nil
}

// appendColumn appends the canonical value that column c spells, or
// nothing when the column is empty.
func (r *Row) appendColumn(dst []byte, c column) []byte {
	switch c {
	case colSOID:
		if r.SID == "" {
			return dst
		}
		dst = append(dst, `{"sid":`...)
		dst = schema.AppendString(dst, r.SID)
		dst = append(dst, `,"oid":`...)
		dst = schema.AppendString(dst, r.OID)
		return append(dst, '}')
	case colOID:
		if r.OID == "" || r.SID != "" {
			return dst
		}
		return schema.AppendString(dst, r.OID)
	case colPath, colPathTo:
		sid, path := r.PathSID, r.Path
		if c == colPathTo {
			sid, path = r.PathToSID, r.PathTo
		}
		if sid == "" {
			return dst
		}
		dst = append(dst, `{"sid":`...)
		dst = schema.AppendString(dst, sid)
		dst = append(dst, `,"relative_path":`...)
		dst = schema.AppendString(dst, path)
		return append(dst, '}')
	case colIP:
		if r.IP == "" {
			return dst
		}
		return schema.AppendString(dst, r.IP)
	case colKey:
		if r.LinkKey == "" {
			return dst
		}
		return schema.AppendString(dst, r.LinkKey)
	case colFolder:
		if r.FolderID == "" {
			return dst
		}
		dst = append(dst, `{"id":`...)
		dst = schema.AppendString(dst, r.FolderID)
		if r.FolderName != "" {
			dst = append(dst, `,"name":`...)
			dst = schema.AppendString(dst, r.FolderName)
		}
		return append(dst, '}')
	case colRole:
		return appendList(dst, r.Role)
	case colOldRole:
		return appendList(dst, r.OldRole)
	case colNewRole:
		return appendList(dst, r.NewRole)
	case colOperations:
		return appendList(dst, r.Operations)
	}
	return dst
}

func appendList(dst []byte, list []string) []byte {
	if len(list) == 0 {
		return dst
	}
	dst = append(dst, '[')
	for i, s := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = schema.AppendString(dst, s)
	}
	return append(dst, ']')
}

// Wire rebuilds the event's canonical wire form.
func (r Row) Wire() ([]byte, error) { return r.AppendWire(make([]byte, 0, 256+len(r.Rest))) }

// AppendWire appends the event's canonical wire form to dst.
func (r Row) AppendWire(dst []byte) ([]byte, error) {
	spec, ok := schema.Lookup(r.Event)
	if !ok {
		return dst, fmt.Errorf("wire of row %s: unknown event %q", r.EventID, r.Event)
	}
	if string(spec.Topic) != r.Topic {
		return dst, fmt.Errorf("wire of row %s: event %s is not in topic %q", r.EventID, r.Event, r.Topic)
	}
	rest, err := schema.SplitObject([]byte(r.Rest))
	if err != nil {
		return dst, fmt.Errorf("wire of row %s: rest: %w", r.EventID, err)
	}
	dst = append(dst, `{"topic":"`...)
	dst = append(dst, spec.Topic...)
	dst = append(dst, `","event":"`...)
	dst = append(dst, spec.Name...)
	dst = append(dst, `","timestamp":"`...)
	dst = schema.AppendTime(dst, time.UnixMilli(r.Time).UTC())
	dst = append(dst, `","event_id":`...)
	dst = schema.AppendString(dst, r.EventID)
	if r.ReceivedAt != 0 {
		dst = append(dst, `,"received_at":"`...)
		dst = schema.AppendTime(dst, time.UnixMilli(r.ReceivedAt).UTC())
		dst = append(dst, '"')
	}
	if r.SubmitterUser != "" || r.SubmitterDevice != "" {
		dst = append(dst, `,"verified_submitter":{"user_id":`...)
		dst = schema.AppendString(dst, r.SubmitterUser)
		dst = append(dst, `,"device_id":`...)
		dst = schema.AppendString(dst, r.SubmitterDevice)
		dst = append(dst, '}')
	}
	used := 0
	for i := range spec.Fields {
		f := &spec.Fields[i]
		if f.Type == schema.TypeSubmitter {
			continue
		}
		if j := findMember(rest, f.Name); j >= 0 {
			dst = appendMember(append(dst, ','), rest[j])
			used++
			continue
		}
		c := columnOf(f)
		if c == colNone {
			continue
		}
		n := len(dst)
		dst = append(dst, ',', '"')
		dst = append(dst, f.Name...)
		dst = append(dst, '"', ':')
		m := len(dst)
		if dst = r.appendColumn(dst, c); len(dst) == m {
			dst = dst[:n] // the event does not carry the field
		}
	}
	if used < len(rest) {
		for _, m := range rest {
			if spec.Field(string(m.Key)) >= 0 {
				continue
			}
			dst = appendMember(append(dst, ','), m)
		}
	}
	return append(dst, '}'), nil
}

func appendMember(dst []byte, m schema.Member) []byte {
	if len(dst) > 0 && dst[len(dst)-1] != '{' && dst[len(dst)-1] != ',' {
		dst = append(dst, ',')
	}
	dst = append(dst, '"')
	dst = append(dst, m.Key...)
	dst = append(dst, '"', ':')
	return append(dst, m.Value...)
}

func findMember(ms []schema.Member, name string) int {
	for i := range ms {
		if string(ms[i].Key) == name {
			return i
		}
	}
	return -1
}

// jsonString decodes a JSON string value.
func jsonString(val []byte) (string, error) {
	if len(val) < 2 || val[0] != '"' || val[len(val)-1] != '"' {
		return "", errors.New("not a string")
	}
	inner := val[1 : len(val)-1]
	if !slices.Contains(inner, '\\') {
		return string(inner), nil
	}
	s, err := strconv.Unquote(string(val))
	if err != nil {
		return "", fmt.Errorf("bad string: %w", err)
	}
	return s, nil
}

// addLower adds s, lower-cased, to a list without repeats.
func addLower(list []string, s string) []string {
	s = strings.ToLower(s)
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}
