package chstore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/schema"
)

// Write stores events that are not stored yet. It inserts them in one
// batch (the caller chooses the batch size: the consume loop sends 10k to
// 100k events, or what came in a second). Repeats within events and ids
// already stored are left out, so that a redelivered batch inserts nothing
// and no rollup counts it twice.
func (s *Store) Write(ctx context.Context, events []*schema.Event) error {
	if len(events) == 0 {
		return nil
	}
	if err := s.ready(ctx); err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	uniq := query.Unique(events)
	stored, err := s.stored(ctx, uniq)
	if err != nil {
		return fmt.Errorf("write %d events: %w", len(events), err)
	}
	uniq = slices.DeleteFunc(uniq, func(e *schema.Event) bool {
		_, ok := stored[e.ID()]
		return ok
	})
	if len(uniq) == 0 {
		return nil
	}
	if err := s.insert(ctx, uniq); err != nil {
		return fmt.Errorf("write %d events: %w", len(uniq), err)
	}
	return nil
}

// insertChunk is how many events insert takes apart at a time, which
// bounds the memory of the records beside the driver's columns.
const insertChunk = 16384

// insert takes events apart, codes their strings and inserts them.
func (s *Store) insert(ctx context.Context, events []*schema.Event) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.db+".events ("+columns+")")
	if err != nil {
		return fmt.Errorf("prepare insert: %w", err)
	}
	sent := false
	defer func() {
		if !sent {
			_ = b.Abort()
		}
	}()
	for len(events) > 0 {
		chunk := events[:min(insertChunk, len(events))]
		events = events[len(chunk):]
		recs, err := query.Convert(chunk, recordOf)
		if err != nil {
			return err
		}
		var strs []string
		for i := range recs {
			strs = recs[i].strings(strs)
		}
		codes, err := s.dict.encode(ctx, strs)
		if err != nil {
			return err
		}
		code := func(v string) uint32 { return codes[v] }
		var bl block
		for i := range recs {
			bl.add(&recs[i], code)
		}
		for i, col := range bl.columns() {
			if err := b.Column(i).Append(col); err != nil {
				return fmt.Errorf("append column %d: %w", i, err)
			}
		}
	}
	sent = true
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	return nil
}

// stored returns which of the records' ids are in the events table. It
// looks within the records' time range (days, for the sort key), topics
// and events, which the sort key turns into a few granules per partition.
func (s *Store) stored(ctx context.Context, evs []*schema.Event) (map[string]struct{}, error) {
	out := map[string]struct{}{}
	for len(evs) > 0 {
		chunk := evs[:min(lookupChunk, len(evs))]
		evs = evs[len(chunk):]
		lo := chunk[0].Timestamp().UnixMilli()
		hi := lo
		var ids, topics, events []string
		for _, e := range chunk {
			t := e.Timestamp().UnixMilli()
			lo, hi = min(lo, t), max(hi, t)
			spec := e.Spec()
			ids = append(ids, e.ID())
			topics = append(topics, string(spec.Topic))
			events = append(events, spec.Name)
		}
		slices.Sort(topics)
		slices.Sort(events)
		tctx, err := withList(ctx, "String", ids)
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
		rows, err := s.conn.Query(tctx, "SELECT event_id FROM "+s.db+".events"+
			" WHERE topic IN ? AND event IN ? AND "+dayExpr+" >= ? AND "+dayExpr+" <= ? AND time >= ? AND time <= ? AND event_id IN "+listTable,
			set(slices.Compact(topics)), set(slices.Compact(events)), dayOf(lo), dayOf(hi), lo, hi)
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up stored ids: %w", err)
			}
			out[id] = struct{}{}
		}
		err = errors.Join(rows.Err(), rows.Close())
		if err != nil {
			return nil, fmt.Errorf("look up stored ids: %w", err)
		}
	}
	return out, nil
}
