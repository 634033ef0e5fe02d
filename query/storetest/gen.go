package storetest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/schema"
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
func Hex(name string) string {
	const digits = "0123456789abcdef"
	var h uint64 = 14695981039346656037
	b := make([]byte, 32)
	for i := range b {
		for j := 0; j < len(name); j++ {
			h ^= uint64(name[j])
			h *= 1099511628211
		}
		h ^= uint64(i)
		h *= 1099511628211
		b[i] = digits[h>>60]
	}
	return string(b)
}

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

// Generate returns n realistic events spread over [start, start+span),
// drawn from users users and their devices, in no particular order. The
// same seed gives the same events.
func Generate(seed uint64, n, users int, start time.Time, span time.Duration) ([]*schema.Event, error) {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	nz := schema.NewNormalizer(schema.Limits{})
	out := make([]*schema.Event, 0, n)
	var buf []byte
	for i := range n {
		u := r.IntN(users)
		user := fmt.Sprintf("user%d@corp.example.com", u)
		dev := Hex(fmt.Sprint("device", u, r.IntN(3)))
		ts := start.Add(time.Duration(r.Int64N(int64(span)/int64(time.Millisecond))) * time.Millisecond)
		var m map[string]any
		switch k := r.IntN(10); {
		case k < 5:
			ev := "file.notification"
			ops := []string{"MODIFY"}
			if k < 2 {
				ev, ops = "file.transfer", []string{"CONTENT_REQUEST"}
			}
			m = map[string]any{
				"topic": "FILE", "event": ev,
				"soid":       map[string]any{"sid": Hex(fmt.Sprint("store", u%50)), "oid": Hex(fmt.Sprint("obj", r.IntN(100000)))},
				"event_time": ts.Add(-time.Second).Format(time.RFC3339Nano), "operations": ops, "device": dev,
				"path": map[string]any{"sid": Hex(fmt.Sprint("store", u%50)), "relative_path": fmt.Sprintf("Projects/p%d/doc-%d.txt", r.IntN(200), r.IntN(5000))},
			}
			if ev == "file.transfer" {
				p := r.IntN(users)
				m["destination_user"] = fmt.Sprintf("user%d@corp.example.com", p)
				m["destination_device"] = Hex(fmt.Sprint("device", p, 0))
			}
		case k < 7:
			m = map[string]any{"topic": "USER", "event": "user.signin", "user": user, "authority": "Credential"}
		case k < 8:
			m = map[string]any{"topic": "DEVICE", "event": "device.signin", "user": user, "device_id": dev, "ip": fmt.Sprintf("192.168.%d.%d", r.IntN(256), r.IntN(254)+1)}
		case k < 9:
			m = map[string]any{"topic": "LINK", "event": "link.download", "ip": fmt.Sprintf("203.0.113.%d", r.IntN(254)+1), "key": fmt.Sprintf("L%07d", r.IntN(20000)), "oid": Hex(fmt.Sprint("obj", r.IntN(100000))), "name": fmt.Sprintf("doc-%d.txt", r.IntN(5000))}
		default:
			m = map[string]any{"topic": "SHARING", "event": "folder.invite", "folder": map[string]any{"id": Hex(fmt.Sprint("folder", r.IntN(500))), "name": "Shared"}, "target": fmt.Sprintf("user%d@corp.example.com", r.IntN(users)), "role": []string{"WRITE"}, "caller": map[string]any{"email": user, "device": dev}}
		}
		m["timestamp"] = ts.UTC().Format("2006-01-02T15:04:05.000Z07:00")
		m["event_id"] = fmt.Sprintf("g%016x%08x", seed, i)
		var err error
		if buf, err = json.Marshal(m); err != nil {
			return nil, err
		}
		e, err := nz.Normalize(buf, meta(user, dev, ts.Add(time.Second)))
		if err != nil {
			return nil, fmt.Errorf("generate event %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}
