package sinks

import (
	"maps"
	"slices"
	"strings"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/schema"
)

// IsZero reports whether the filter keeps every event.
func (f Filter) IsZero() bool {
	return len(f.Topics) == 0 && len(f.Events) == 0 && len(f.Match) == 0
}

// matcher applies a Filter; it is not safe for concurrent use.
type matcher struct {
	f      Filter
	topics map[string]bool
	events map[string]bool
	paths  [][]string
	values []string
	p      fastjson.Parser
}

func newMatcher(f Filter) *matcher {
	m := &matcher{f: f}
	if len(f.Topics) > 0 {
		m.topics = make(map[string]bool, len(f.Topics))
		for _, t := range f.Topics {
			if topic, ok := schema.ParseTopic(t); ok {
				t = string(topic) // the wire form's spelling
			}
			m.topics[t] = true
		}
	}
	if len(f.Events) > 0 {
		m.events = make(map[string]bool, len(f.Events))
		for _, e := range f.Events {
			m.events[e] = true
		}
	}
	for _, path := range slices.Sorted(maps.Keys(f.Match)) {
		m.paths = append(m.paths, strings.Split(path, "."))
		m.values = append(m.values, f.Match[path])
	}
	return m
}

// keep reports whether the event passes the filter. An event whose
// envelope cannot be read passes, so that the sink (not the filter)
// decides what to do with it.
func (m *matcher) keep(value []byte) bool {
	if m.topics == nil && m.events == nil && m.paths == nil {
		return true
	}
	if m.topics != nil || m.events != nil {
		env, err := ParseEnvelope(value)
		if err != nil {
			return true
		}
		if m.topics != nil && !m.topics[env.Topic] {
			return false
		}
		if m.events != nil && !m.events[env.Event] {
			return false
		}
	}
	if m.paths == nil {
		return true
	}
	v, err := m.p.ParseBytes(value)
	if err != nil {
		return true
	}
	for i, path := range m.paths {
		f := v.Get(path...)
		if f == nil {
			return false
		}
		var got string
		if f.Type() == fastjson.TypeString {
			got = string(f.GetStringBytes())
		} else {
			got = string(f.MarshalTo(nil))
		}
		if got != m.values[i] {
			return false
		}
	}
	return true
}
