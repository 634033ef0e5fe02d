package query

import "github.com/vigilaudit/vigil/schema"

// Unique returns events without repeats of an event_id, keeping the first
// of each in order. A store's Write takes a batch's own repeats out (a
// redelivered batch may hold an event twice) before it looks up the ids
// it stores already.
func Unique(events []*schema.Event) []*schema.Event {
	out := make([]*schema.Event, 0, len(events))
	seen := make(map[string]struct{}, len(events))
	for _, e := range events {
		if _, dup := seen[e.ID()]; dup {
			continue
		}
		seen[e.ID()] = struct{}{}
		out = append(out, e)
	}
	return out
}
