package chstore

import (
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// columns is the events table's column list, in the order of values and
// scan: 18.16 needs it spelled out in batch inserts.
const columns = "time, received_at, received_delta, topic, event, event_id, submitter_user, submitter_device, users, devices, " +
	"hex_set, sid, oid, path_sid, path, path_to_sid, path_to, ip, link_key, folder_id, folder_name, " +
	"role, old_role, new_role, operations, rest"

// selectColumns reads columns. Arrays of LowCardinality are cast to
// plain arrays: 18.16 sends a block whose such arrays are all empty in a
// form the driver cannot read.
var selectColumns = func() string {
	cols := strings.Split(columns, ", ")
	for i, c := range cols {
		switch c {
		case "users", "devices", "role", "old_role", "new_role", "operations":
			cols[i] = "CAST(" + c + ", 'Array(String)') AS " + c
		}
	}
	return strings.Join(cols, ", ")
}()

// Bits of hex_set: which FixedString(16) id columns hold a value, and
// whether received_delta holds the receive time.
const (
	hasSID = 1 << iota
	hasOID
	hasPathSID
	hasPathToSID
	hasFolderID
	hasReceivedDelta
)

// record is a query.Row in the events table's types.
//
// The receive time is kept as received_delta, milliseconds after time,
// with the hasReceivedDelta bit, and received_at 0; when the offset does
// not fit an Int32 (about 24 days) it is kept absolute in received_at, as
// every row written before migration 4 has it. A row with neither has no
// received_at.
type record struct {
	row           query.Row
	receivedAt    int64
	receivedDelta int32
	hexSet        uint8
	// The FixedString(16) columns: 16 raw bytes, or "".
	sid, oid, pathSID, pathToSID, folderID string
}

// recordOf takes e apart into its columns.
func recordOf(e *schema.Event) (record, error) {
	r, err := query.RowOf(e)
	if err != nil {
		return record{}, err
	}
	rec := record{row: r, receivedAt: r.ReceivedAt}
	if r.ReceivedAt != 0 {
		if d := r.ReceivedAt - r.Time; d >= math.MinInt32 && d <= math.MaxInt32 {
			rec.receivedAt, rec.receivedDelta = 0, int32(d)
			rec.hexSet |= hasReceivedDelta
		}
	}
	for _, c := range []struct {
		hex string
		bit uint8
		dst *string
	}{
		{r.SID, hasSID, &rec.sid},
		{r.OID, hasOID, &rec.oid},
		{r.PathSID, hasPathSID, &rec.pathSID},
		{r.PathToSID, hasPathToSID, &rec.pathToSID},
		{r.FolderID, hasFolderID, &rec.folderID},
	} {
		if c.hex == "" {
			continue
		}
		b, err := unhex16(c.hex)
		if err != nil {
			return record{}, fmt.Errorf("event %s: %w", r.EventID, err)
		}
		*c.dst = b
		rec.hexSet |= c.bit
	}
	return rec, nil
}

// values returns the record's columns in the order of columns.
func (rec *record) values() []any {
	r := &rec.row
	return []any{r.Time, rec.receivedAt, rec.receivedDelta, r.Topic, r.Event, r.EventID, r.SubmitterUser, r.SubmitterDevice,
		list(r.Users), list(r.Devices), rec.hexSet, rec.sid, rec.oid, rec.pathSID, r.Path, rec.pathToSID, r.PathTo,
		r.IP, r.LinkKey, rec.folderID, r.FolderName, list(r.Role), list(r.OldRole), list(r.NewRole), list(r.Operations), r.Rest}
}

// scan reads a row selected with columns.
func scan(s interface{ Scan(dest ...any) error }) (query.Row, error) {
	var (
		r                                      query.Row
		hexSet                                 uint8
		receivedDelta                          int32
		sid, oid, pathSID, pathToSID, folderID string
	)
	if err := s.Scan(&r.Time, &r.ReceivedAt, &receivedDelta, &r.Topic, &r.Event, &r.EventID, &r.SubmitterUser, &r.SubmitterDevice,
		&r.Users, &r.Devices, &hexSet, &sid, &oid, &pathSID, &r.Path, &pathToSID, &r.PathTo,
		&r.IP, &r.LinkKey, &folderID, &r.FolderName, &r.Role, &r.OldRole, &r.NewRole, &r.Operations, &r.Rest); err != nil {
		return query.Row{}, err
	}
	if hexSet&hasReceivedDelta != 0 {
		r.ReceivedAt = r.Time + int64(receivedDelta)
	}
	for _, c := range []struct {
		raw string
		bit uint8
		dst *string
	}{
		{sid, hasSID, &r.SID},
		{oid, hasOID, &r.OID},
		{pathSID, hasPathSID, &r.PathSID},
		{pathToSID, hasPathToSID, &r.PathToSID},
		{folderID, hasFolderID, &r.FolderID},
	} {
		if hexSet&c.bit != 0 {
			*c.dst = hex.EncodeToString([]byte(c.raw))
		}
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

// unhex16 returns the 16 bytes of a 32-hex id in lower case: only those
// come back as the same text.
func unhex16(s string) (string, error) {
	if len(s) != 32 {
		return "", fmt.Errorf("id %q is not 32 hex digits", s)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("id %q is not 32 lower-case hex digits", s)
		}
	}
	b, _ := hex.DecodeString(s)
	return string(b), nil
}
