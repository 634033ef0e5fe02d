package storetest

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

// Build normalizes an event given as a map of its fields (topic and event
// included), as ingest would with meta. It fails t on error.
func Build(t testing.TB, fields map[string]any, meta schema.Meta) *schema.Event {
	t.Helper()
	e, err := build(fields, meta)
	if err != nil {
		t.Fatalf("build event %v: %v", fields, err)
	}
	return e
}

func build(fields map[string]any, meta schema.Meta) (*schema.Event, error) {
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	return schema.Normalize(raw, meta)
}

// Hex returns a 32-hex id made from a name, so tests can spell ids.
func Hex(name string) string { return sample.Hex(name) }

// Sample returns the fields of an event of the given catalog entry with
// every field set, optional ones included. n varies the values.
func Sample(spec *schema.EventSpec, n int) map[string]any {
	m := map[string]any{"topic": string(spec.Topic), "event": spec.Name}
	for _, f := range spec.Fields {
		if v := sampleValue(f, n); v != nil {
			m[f.Name] = v
		}
	}
	return m
}

func sampleValue(f schema.Field, n int) any {
	user := fmt.Sprintf("%s%d@example.com", f.Name, n)
	switch f.Type {
	case schema.TypeSubmitter:
		return nil
	case schema.TypeSOID:
		return map[string]any{"sid": Hex(fmt.Sprint("store", n)), "oid": Hex(fmt.Sprint("object", n))}
	case schema.TypeSID, schema.TypeOID, schema.TypeDID:
		return Hex(fmt.Sprint(f.Name, n))
	case schema.TypeTime:
		return time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC).Add(time.Duration(n) * time.Second).Format(time.RFC3339)
	case schema.TypeOperations:
		return []string{"CREATE", "CONTENT_REQUEST"}
	case schema.TypeUserID, schema.TypeEmail:
		return user
	case schema.TypeOrgID:
		return fmt.Sprint(n + 1)
	case schema.TypePath:
		return map[string]any{"sid": Hex(fmt.Sprint("store", n)), "relative_path": fmt.Sprintf("Team/%s/report-%d.pdf", f.Name, n)}
	case schema.TypeCaller:
		return map[string]any{"email": "caller" + user, "device": Hex(fmt.Sprint("caller", n)), "acting_as": "acting" + user}
	case schema.TypeSharedFolder:
		return map[string]any{"id": Hex(fmt.Sprint("folder", n)), "name": fmt.Sprintf("Finance %d", n)}
	case schema.TypeRole:
		return []string{"MANAGE", "WRITE"}
	case schema.TypeIP:
		return fmt.Sprintf("10.0.%d.%d", n/250%250, n%250+1)
	case schema.TypeString:
		return fmt.Sprintf("%s %d", f.Name, n)
	case schema.TypeInteger:
		return n + 3
	case schema.TypeBoolean:
		return n%2 == 0
	case schema.TypeDeviceType:
		return "Desktop Client"
	case schema.TypeAuthority:
		return "LDAP"
	case schema.TypeOrgLevel:
		return "ADMIN"
	case schema.Type2FALevel:
		return "OPT_IN"
	case schema.TypeJoinAs:
		return "external"
	case schema.TypeLinkKey:
		return fmt.Sprintf("k%dxYz", n)
	case schema.TypeLinkExpiry:
		return 3600 + n
	}
	return "unknown type " + string(f.Type)
}

// Samples returns one event of every catalog entry, with every field set
// and a submitter, a receive time and an extra field.
func Samples(t testing.TB) []*schema.Event {
	t.Helper()
	var out []*schema.Event
	for i, spec := range schema.Catalog() {
		m := Sample(spec, i)
		m["timestamp"] = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC).Add(time.Duration(i) * time.Minute).Format(time.RFC3339)
		m["x_client"] = map[string]any{"version": "1.2.3", "tags": []any{"a", 1.5, nil, true}}
		out = append(out, Build(t, m, meta(fmt.Sprintf("sub%d@example.com", i), Hex(fmt.Sprint("sub", i)), time.Date(2025, 3, 4, 6, 0, 0, 0, time.UTC))))
	}
	return out
}

func meta(user, device string, received time.Time) schema.Meta {
	return schema.Meta{Submitter: schema.Submitter{UserID: user, DeviceID: device}, ReceivedAt: received}
}
