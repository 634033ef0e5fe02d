package sinks

import (
	"fmt"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

// Defaults of a sink's consume loop.
const (
	DefaultBatchSize = 1000
	DefaultLinger    = 100 * time.Millisecond
	maxBatchSize     = 100000
)

// Config is what every sink has whatever its kind: its name, the events it
// takes and how its consume loop batches them. The kind's own settings
// sit beside it in the sink's section of the config file.
type Config struct {
	// Name identifies the sink in metrics and its log consumer group
	// ("sink.NAME"); renaming a sink restarts it from the oldest event.
	Name string `yaml:"name"`
	// Filter limits the sink to some events.
	Filter Filter `yaml:"filter"`
	// Required sinks keep the event log from deleting what they have not
	// delivered (when the log is full, ingest answers 503 until they
	// catch up). A sink that is not required is skipped ahead instead,
	// and the skipped records raise an alert.log.skipped event.
	// Defaults to true.
	Required *bool `yaml:"required"`
	// Loop is the sink's consume loop: batch_size is the most events
	// written at once (default 1000), linger how long a batch waits to
	// fill once one event is ready (default 100ms), min_backoff and
	// max_backoff bound the wait between retries.
	Loop eventlog.ConsumerConfig `yaml:",inline"`
	// MaxFrameBytes is the largest frame the receiver takes, counting
	// the whole frame on the wire (syslog header, octet count, newline);
	// 0 means the kind's default (DefaultMaxFrameBytes: 65536 for tcp
	// and tls, 8096 for syslog and relp). Kinds without frames
	// (splunkhec) take none.
	MaxFrameBytes config.ByteSize `yaml:"max_frame_bytes"`
	// Oversize is what happens to an event whose frame is larger:
	// dead_letter (the default), truncate or send.
	Oversize string `yaml:"oversize"`
}

var sinkName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

// SetDefaults fills in what the file left out.
func (c *Config) SetDefaults() {
	if c.Required == nil {
		required := true
		c.Required = &required
	}
	if c.Loop.BatchSize == 0 {
		c.Loop.BatchSize = DefaultBatchSize
	}
	if c.Loop.Linger == 0 {
		c.Loop.Linger = DefaultLinger
	}
	if c.Oversize == "" {
		c.Oversize = OversizeDeadLetter
	}
}

// IsRequired reports whether the log must keep what the sink has not
// delivered.
func (c Config) IsRequired() bool { return c.Required == nil || *c.Required }

// Group is the sink's consumer group in the event log.
func (c Config) Group() string { return "sink." + c.Name }

// Validate checks the name, the filter and the batching.
func (c Config) Validate() error {
	var p config.Problems
	switch {
	case c.Name == "":
		p.Add("name", "required")
	case !sinkName.MatchString(c.Name):
		p.Add("name", "%q must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", c.Name)
	}
	p.Nest("filter", c.Filter.CheckCatalog())
	if c.Loop.BatchSize < 0 || c.Loop.BatchSize > maxBatchSize {
		p.Add("batch_size", "%d is out of range (1 to %d; 0 for the default)", c.Loop.BatchSize, maxBatchSize)
	}
	loop := c.Loop
	loop.BatchSize = 0 // checked above, with the sink's bound
	p.Nest("", loop.Validate())
	c.validateOversize(p.Add)
	return p.Err()
}

// Forwarder returns the settings of the sink's forwarder.
func (c Config) Forwarder(kind string, dl *DeadLetter, m *Metrics, logger *slog.Logger) ForwarderConfig {
	return ForwarderConfig{
		Name: c.Name, Kind: kind, Required: c.IsRequired(), Filter: c.Filter,
		DeadLetter: dl, Metrics: m, Logger: logger,
		MaxFrameBytes: c.frameLimit(kind), Oversize: c.Oversize,
	}
}

// Filter chooses the events a sink receives. Empty lists mean all; every
// condition given must hold.
type Filter struct {
	// Topics and Events list the topics and event names to keep.
	Topics []string `yaml:"topics"`
	Events []string `yaml:"events"`
	// Match keeps events whose field at each path ("user",
	// "caller.email") equals the value: a string field by its text,
	// another JSON value by its JSON text (true, 42).
	Match map[string]string `yaml:"match"`
}

// envelopeFields are the fields every event has, for match paths.
var envelopeFields = []string{"topic", "event", "timestamp", "event_id", "received_at", "verified_submitter"}

// Validate checks that no entry is empty and match keys are field paths.
func (f Filter) Validate() error {
	var p config.Problems
	for i, t := range f.Topics {
		if strings.TrimSpace(t) == "" {
			p.Add(fmt.Sprintf("topics[%d]", i), "must not be empty")
		}
	}
	for i, e := range f.Events {
		if strings.TrimSpace(e) == "" {
			p.Add(fmt.Sprintf("events[%d]", i), "must not be empty")
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Match)) {
		if k == "" || slices.Contains(strings.Split(k, "."), "") {
			p.Add("match", "%q is not a field path (names joined by '.')", k)
		}
	}
	return p.Err()
}

// CheckCatalog checks the filter against the event catalog, as the config
// file is loaded: every topic and event exists, and every match path
// starts with a field that the events the filter keeps can carry. A
// misspelling is named with a suggestion. (The Forwarder itself accepts
// match paths on fields outside the catalog, which events may carry as
// extras.)
func (f Filter) CheckCatalog() error {
	var p config.Problems
	topicNames := make([]string, 0, len(schema.Topics()))
	for _, t := range schema.Topics() {
		topicNames = append(topicNames, string(t))
	}
	inTopics := map[schema.Topic]bool{}
	for i, t := range f.Topics {
		key := fmt.Sprintf("topics[%d]", i)
		switch topic, ok := schema.ParseTopic(strings.TrimSpace(t)); {
		case strings.TrimSpace(t) == "":
			p.Add(key, "must not be empty")
		case !ok:
			p.Add(key, "unknown topic %q%s", t, suggest(strings.ToUpper(t), topicNames))
		default:
			inTopics[topic] = true
		}
	}
	var eventNames []string
	for _, s := range schema.Catalog() {
		eventNames = append(eventNames, s.Name)
	}
	var chosen []*schema.EventSpec
	for i, e := range f.Events {
		key := fmt.Sprintf("events[%d]", i)
		spec, ok := schema.Lookup(strings.TrimSpace(e))
		switch {
		case strings.TrimSpace(e) == "":
			p.Add(key, "must not be empty")
		case !ok:
			p.Add(key, "unknown event %q%s", e, suggest(e, eventNames))
		default:
			chosen = append(chosen, spec)
		}
	}
	if len(f.Events) == 0 {
		for _, s := range schema.Catalog() {
			if len(inTopics) == 0 || inTopics[s.Topic] {
				chosen = append(chosen, s)
			}
		}
	}
	fields := map[string]bool{}
	for _, name := range envelopeFields {
		fields[name] = true
	}
	for _, s := range chosen {
		for _, fd := range s.Fields {
			fields[fd.Name] = true
		}
	}
	for _, k := range slices.Sorted(maps.Keys(f.Match)) {
		parts := strings.Split(k, ".")
		switch {
		case k == "" || slices.Contains(parts, ""):
			p.Add("match", "%q is not a field path (names joined by '.')", k)
		case !fields[parts[0]] && len(f.Events)+len(f.Topics) > 0:
			p.Add("match", "%q: no event the filter keeps has a field %q%s", k, parts[0], suggest(parts[0], slices.Sorted(maps.Keys(fields))))
		case !fields[parts[0]]:
			p.Add("match", "%q: no event has a field %q%s", k, parts[0], suggest(parts[0], slices.Sorted(maps.Keys(fields))))
		}
	}
	return p.Err()
}

// suggest returns ` (did you mean "x"?)` for the name closest to s, or "".
func suggest(s string, names []string) string {
	if c := config.Closest(s, names); c != "" {
		return fmt.Sprintf(" (did you mean %q?)", c)
	}
	return ""
}
