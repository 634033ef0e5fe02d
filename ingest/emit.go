package ingest

import (
	"context"
	"fmt"
	"time"

	"github.com/vigilaudit/vigil/schema"
)

// build makes one of Vigil's own events with ingest's limits.
func (in *Ingester) build(event string, at time.Time, fields schema.Fields) (*schema.Event, error) {
	n := in.pool.Get().(*schema.Normalizer)
	defer in.pool.Put(n)
	return n.New(event, at, fields)
}

// Emit appends Vigil's own events (the content API's, admin actions,
// alerts), stamped with the time ingest received them, and returns once
// they are durable. Events the dedup window has seen are skipped, as
// Ingest skips duplicates.
func (in *Ingester) Emit(ctx context.Context, events ...*schema.Event) error {
	now := in.now()
	stamped := make([]*schema.Event, len(events))
	size := 0
	for i, e := range events {
		stamped[i] = e.WithReceivedAt(now)
		size += len(stamped[i].Wire())
	}
	fresh, err := in.commit(ctx, stamped, now)
	if err != nil {
		return err
	}
	accepted := count(fresh)
	in.metrics.batch(len(events), size, accepted, len(events)-accepted)
	return nil
}

// count returns how many of fresh are true.
func count(fresh []bool) int {
	n := 0
	for _, ok := range fresh {
		if ok {
			n++
		}
	}
	return n
}

// RaiseLogSkipped emits alert.log.skipped: retention moved group, a
// consumer group that is not required, past skipped records it had not
// read. It is the embedded log's OnSkip callback; a failure is logged.
func (in *Ingester) RaiseLogSkipped(group string, skipped int64) {
	err := in.emitNew(context.Background(), "alert.log.skipped", schema.Fields{"group": group, "skipped": skipped})
	if err != nil {
		in.logger.Error("raise skipped-records alert", "group", group, "err", err)
	}
}

// RaiseLogCorrupt emits alert.log.corrupt: the event log skipped bytes
// bytes of segment from byte offset on, which held records records from
// offset firstRecord. It is the embedded log's OnCorrupt callback; a
// failure is logged.
func (in *Ingester) RaiseLogCorrupt(segment string, offset, bytes, firstRecord, records int64) {
	err := in.emitNew(context.Background(), "alert.log.corrupt", schema.Fields{
		"segment": segment, "offset": offset, "bytes": bytes, "first_record": firstRecord, "records": records})
	if err != nil {
		in.logger.Error("raise corrupt-log alert", "segment", segment, "offset", offset, "err", err)
	}
}

// RaiseSinkOversize emits alert.sink.oversize: sink met an event
// (eventID) whose frame of size bytes is over its limit, and applied its
// policy (dead_letter or truncate); count is how many such events it met
// since its previous alert. It is the sinks' OnOversize callback, which
// they call at most once an hour; a failure is logged.
func (in *Ingester) RaiseSinkOversize(sink, eventID string, size, limit int, count uint64, policy string) {
	err := in.emitNew(context.Background(), "alert.sink.oversize", schema.Fields{
		"sink": sink, "oversize_event_id": eventID, "size": size, "limit": limit, "count": count, "policy": policy,
	})
	if err != nil {
		in.logger.Error("raise oversize alert", "sink", sink, "err", err)
	}
}

// AuditReplay emits audit.quarantine.replay: caller (a user id) replayed
// quarantined events, with the result.
func (in *Ingester) AuditReplay(ctx context.Context, caller string, res ReplayResult) error {
	return in.emitNew(ctx, "audit.quarantine.replay", schema.Fields{"caller": caller, "replayed": res.Replayed, "rejected": res.Rejected})
}

// emitNew builds one of Vigil's own events, timed now, and emits it.
func (in *Ingester) emitNew(ctx context.Context, event string, fields schema.Fields) error {
	e, err := in.build(event, in.now(), fields)
	if err != nil {
		return fmt.Errorf("build %s event: %w", event, err)
	}
	return in.Emit(ctx, e)
}
