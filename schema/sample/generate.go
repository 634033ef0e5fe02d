package sample

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/vigilaudit/vigil/schema"
)

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
		e, err := nz.Normalize(buf, schema.Meta{Submitter: schema.Submitter{UserID: user, DeviceID: dev}, ReceivedAt: ts.Add(time.Second)})
		if err != nil {
			return nil, fmt.Errorf("generate event %d: %w", i, err)
		}
		out = append(out, e)
	}
	return out, nil
}
