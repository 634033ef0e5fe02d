package duckstore

import (
	"context"
	"fmt"

	"github.com/vigilaudit/vigil/query"
)

// readColumns are the columns a Row is rebuilt from, in scan order.
const readColumns = `time, received_at, topic, event, event_id, submitter_user, submitter_device, ` +
	`sid, oid, path_sid, path, path_to_sid, path_to, ip, link_key, folder_id, folder_name, role, old_role, new_role, operations, rest`

// list gives the appender a non-nil slice: nil would be NULL.
func list(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// scan runs q and calls fn with each row and its wire form.
func (s *Store) scan(ctx context.Context, q string, args []any, fn func(r *query.Row, wire []byte) error) error {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var r query.Row
	var role, oldRole, newRole, ops any
	for rows.Next() {
		if err := rows.Scan(&r.Time, &r.ReceivedAt, &r.Topic, &r.Event, &r.EventID, &r.SubmitterUser, &r.SubmitterDevice,
			&r.SID, &r.OID, &r.PathSID, &r.Path, &r.PathToSID, &r.PathTo, &r.IP, &r.LinkKey, &r.FolderID, &r.FolderName,
			&role, &oldRole, &newRole, &ops, &r.Rest); err != nil {
			return err
		}
		if r.Role, err = strings_(role); err == nil {
			if r.OldRole, err = strings_(oldRole); err == nil {
				if r.NewRole, err = strings_(newRole); err == nil {
					r.Operations, err = strings_(ops)
				}
			}
		}
		if err != nil {
			return fmt.Errorf("event %s: %w", r.EventID, err)
		}
		wire, err := r.Wire()
		if err != nil {
			return err
		}
		if err := fn(&r, wire); err != nil {
			if err == errStop {
				return nil
			}
			return err
		}
	}
	return rows.Err()
}

// strings_ converts a scanned VARCHAR[].
func strings_(v any) ([]string, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(v) == 0 {
			return nil, nil
		}
		out := make([]string, len(v))
		for i, x := range v {
			s, ok := x.(string)
			if !ok {
				return nil, fmt.Errorf("list holds %T", x)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("unexpected list %T", v)
}
