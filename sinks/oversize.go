package sinks

import (
	"context"
	"fmt"
	"time"

	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

// The oversize policies: what a sink does with an event whose frame is
// larger than its max_frame_bytes.
const (
	// OversizeDeadLetter parks the event in the sink's dead letter with
	// the reason OversizeReason (the default).
	OversizeDeadLetter = "dead_letter"
	// OversizeTruncate sends, instead, a valid JSON object that fits:
	// the envelope fields and as many of the event's fields as fit, in
	// order, then "truncated": true. An event whose envelope alone does
	// not fit is parked.
	OversizeTruncate = "truncate"
	// OversizeSend sends the event as it is, for receivers configured
	// with a larger limit than the sink's.
	OversizeSend = "send"
)

// OversizeReason is the dead-letter reason of the events parked for
// being larger than the sink's max_frame_bytes.
const OversizeReason = "oversize"

// DefaultMaxFrameBytes is the max_frame_bytes of each kind whose
// receivers limit the size of one frame: the default limit of the
// receivers that kind usually meets (the README has a table). A kind that
// implements Framer adds its line here; the kinds not listed have no
// frame limit (Splunk HEC's requests are bounded by its max_batch_bytes).
var DefaultMaxFrameBytes = map[string]int{
	"tcp":    65536, // syslog-ng network() and syslog() sources: log_msg_size
	"tls":    65536,
	"syslog": 8096, // rsyslog imtcp: maxMessageSize
	"relp":   8096, // rsyslog imrelp: maxMessageSize
}

// Bounds of max_frame_bytes: the least leaves room for a truncated
// event's envelope; the most is far above any event ingest accepts.
const (
	minFrameBytes = 512
	maxFrameBytes = 64 << 20
)

// oversizeAlertEvery is how often, at most, a sink raises
// alert.sink.oversize.
const oversizeAlertEvery = time.Hour

// OversizeAlert is what an alert.sink.oversize event says: an event of
// sink Sink did not fit its frame limit.
type OversizeAlert struct {
	Sink string
	// EventID, Size and Limit are the event's event_id, its frame's size
	// and the sink's max_frame_bytes.
	EventID     string
	Size, Limit int
	// Count is how many events were over the limit since the sink's
	// previous alert (this one included): a sink alerts at most once an
	// hour.
	Count uint64
	// Policy is the sink's oversize policy (dead_letter or truncate).
	Policy string
}

// frameLimit returns the sink's frame limit: max_frame_bytes, or its
// kind's default (0 for a kind without a limit).
func (c Config) frameLimit(kind string) int {
	if c.MaxFrameBytes > 0 {
		return int(c.MaxFrameBytes)
	}
	return DefaultMaxFrameBytes[kind]
}

// validateOversize checks max_frame_bytes and oversize.
func (c Config) validateOversize(add func(key, format string, args ...any)) {
	if c.MaxFrameBytes != 0 && (c.MaxFrameBytes < minFrameBytes || c.MaxFrameBytes > maxFrameBytes) {
		add("max_frame_bytes", "%d is out of range (%d to %d; 0 for the kind's default)", c.MaxFrameBytes, minFrameBytes, maxFrameBytes)
	}
	switch c.Oversize {
	case "", OversizeDeadLetter, OversizeTruncate, OversizeSend:
	default:
		add("oversize", "unknown policy %q (want dead_letter, truncate or send)", c.Oversize)
	}
}

// CheckKind checks what depends on the sink's kind: max_frame_bytes and
// oversize apply only to the kinds whose receivers limit a frame.
func (c Config) CheckKind(kind string) error {
	var p config.Problems
	if _, ok := DefaultMaxFrameBytes[kind]; ok || kind == "" {
		return nil
	}
	why := "the " + kind + " kind has no frame limit"
	if kind == "splunkhec" {
		why = "splunkhec sends batches, bounded by splunkhec.max_batch_bytes"
	}
	if c.MaxFrameBytes != 0 {
		p.Add("max_frame_bytes", "%s", why)
	}
	if c.Oversize != "" && c.Oversize != OversizeDeadLetter {
		p.Add("oversize", "%s", why)
	}
	return p.Err()
}

// oversize is a forwarder's frame limit and what it did about it.
type oversize struct {
	framer Framer // nil: no limit
	limit  int
	policy string
	// out is the records that go on after the policy, reused.
	out []eventlog.Record
}

// oversizeState is the forwarder's count of oversize events, under
// stateMu.
type oversizeState struct {
	count      uint64
	sinceAlert uint64
	alertAt    time.Time
}

// newOversize returns the forwarder's frame limit for sink.
func newOversize(sink Sink, cfg ForwarderConfig) oversize {
	fr, ok := sink.(Framer)
	if !ok || cfg.MaxFrameBytes <= 0 {
		return oversize{}
	}
	policy := cfg.Oversize
	if policy == "" {
		policy = OversizeDeadLetter
	}
	return oversize{framer: fr, limit: cfg.MaxFrameBytes, policy: policy}
}

// limitFrames applies the sink's oversize policy to recs and returns the
// records to write: recs itself when all fit, which is the usual case.
// It parks the records the policy parks; an error there is retryable.
// f.mu is held.
func (f *Forwarder) limitFrames(ctx context.Context, recs []eventlog.Record) ([]eventlog.Record, error) {
	o := &f.oversize
	if o.framer == nil {
		return recs, nil
	}
	first := -1
	for i, r := range recs {
		if o.framer.FrameSize(r) > o.limit {
			first = i
			break
		}
	}
	if first < 0 {
		return recs, nil
	}
	out := append(o.out[:0], recs[:first]...)
	var parked []eventlog.Record
	for _, r := range recs[first:] {
		size := o.framer.FrameSize(r)
		if size <= o.limit {
			out = append(out, r)
			continue
		}
		f.overLimit(r, size)
		switch o.policy {
		case OversizeSend:
			out = append(out, r)
			continue
		case OversizeTruncate:
			if t, ok := truncateRecord(r, o.limit-(size-len(r.Value))); ok && o.framer.FrameSize(t) <= o.limit {
				out = append(out, t)
				continue
			}
		}
		parked = append(parked, r)
	}
	o.out = out[:0]
	if len(parked) > 0 {
		if err := f.parkOversize(ctx, parked, o.framer.FrameSize(parked[0]), o.limit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// overLimit counts one event over the frame limit and raises the alert
// when the sink raised none for an hour.
func (f *Forwarder) overLimit(r eventlog.Record, size int) {
	now := f.cfg.Now()
	f.stateMu.Lock()
	st := &f.state.oversize
	st.count++
	st.sinceAlert++
	var alert *OversizeAlert
	if f.oversize.policy != OversizeSend && (st.alertAt.IsZero() || now.Sub(st.alertAt) >= oversizeAlertEvery) {
		alert = &OversizeAlert{Sink: f.cfg.Name, EventID: r.ID, Size: size, Limit: f.oversize.limit, Count: st.sinceAlert, Policy: f.oversize.policy}
		st.alertAt, st.sinceAlert = now, 0
	}
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.oversize.WithLabelValues(f.cfg.Name).Inc()
	}
	if alert != nil {
		f.logger.Warn("event larger than the sink's max_frame_bytes", "event_id", r.ID, "size", size, "limit", alert.Limit, "oversize", alert.Policy)
		if f.cfg.OnOversize != nil {
			f.cfg.OnOversize(*alert)
		}
	}
}

// parkOversize parks recs, over the frame limit, with the reason
// OversizeReason; an error there is retryable.
func (f *Forwarder) parkOversize(ctx context.Context, recs []eventlog.Record, size, limit int) error {
	now := f.cfg.Now()
	if err := f.cfg.DeadLetter.Park(ctx, f.cfg.Name, recs, OversizeReason, now); err != nil {
		f.failed(err, len(recs))
		return fmt.Errorf("sink %s: %w", f.cfg.Name, err)
	}
	msg := fmt.Sprintf("event %s: frame of %d bytes is over max_frame_bytes %d; parked in the dead letter", recs[0].ID, size, limit)
	f.stateMu.Lock()
	f.state.dead += uint64(len(recs))
	f.state.lastError, f.state.lastErrorAt = msg, now
	f.stateMu.Unlock()
	if m := f.cfg.Metrics; m != nil {
		m.dead.WithLabelValues(f.cfg.Name).Add(float64(len(recs)))
		m.lastError.WithLabelValues(f.cfg.Name).Set(float64(now.UnixMilli()) / 1e3)
	}
	return nil
}

// stillOversize reports whether a parked record is still over the frame
// limit under the parking policy, so that a dead-letter replay leaves it
// parked; with truncate, it returns the record to send instead.
func (f *Forwarder) stillOversize(r eventlog.Record) (eventlog.Record, bool) {
	o := &f.oversize
	if o.framer == nil || o.policy == OversizeSend {
		return r, false
	}
	size := o.framer.FrameSize(r)
	if size <= o.limit {
		return r, false
	}
	if o.policy == OversizeTruncate {
		if t, ok := truncateRecord(r, o.limit-(size-len(r.Value))); ok && o.framer.FrameSize(t) <= o.limit {
			return t, false
		}
	}
	return r, true
}

// envelopeKeys are the fields a truncated event always keeps.
var envelopeKeys = map[string]bool{
	"topic": true, "event": true, "timestamp": true, "event_id": true,
	"received_at": true, "verified_submitter": true,
}

// truncatedMarker ends every truncated event.
const truncatedMarker = `"truncated":true}`

// truncateRecord returns r with its value cut to a JSON object of at most
// budget bytes: the envelope fields, then the other fields in their
// order for as long as they fit, then "truncated": true. Members are
// copied as written, not encoded again, so the result is valid JSON
// when the value is. It fails when the value is no valid, compact JSON
// object or its envelope alone does not fit.
func truncateRecord(r eventlog.Record, budget int) (eventlog.Record, bool) {
	if budget < len(`{`+truncatedMarker) || fastjson.ValidateBytes(r.Value) != nil {
		return r, false
	}
	members, err := schema.SplitObject(r.Value)
	if err != nil {
		return r, false
	}
	out := make([]byte, 0, min(budget, len(r.Value)))
	out = append(out, '{')
	member := func(dst []byte, m schema.Member) []byte {
		dst = append(dst, '"')
		dst = append(dst, m.Key...)
		dst = append(dst, '"', ':')
		dst = append(dst, m.Value...)
		return append(dst, ',')
	}
	// The envelope first, whatever its size.
	for _, m := range members {
		if envelopeKeys[string(m.Key)] {
			out = member(out, m)
		}
	}
	if len(out)+len(truncatedMarker) > budget {
		return r, false
	}
	// Then the event's fields, in order, while they fit.
	for _, m := range members {
		if envelopeKeys[string(m.Key)] || string(m.Key) == "truncated" {
			continue
		}
		if len(out)+len(m.Key)+len(m.Value)+4+len(truncatedMarker) > budget {
			break
		}
		out = member(out, m)
	}
	r.Value = append(out, truncatedMarker...)
	return r, true
}
