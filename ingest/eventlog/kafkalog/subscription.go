package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// subscription is one member of a consumer group: a kafka-go group reader
// whose offsets move only by Commit.
type subscription struct {
	log    *Log
	group  string
	reader *kafka.Reader

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// Fetch implements eventlog.Subscription. It waits for one message as
// long as ctx allows, then gathers more until it has max or linger has
// passed.
func (s *subscription) Fetch(ctx context.Context, max int, linger time.Duration) ([]eventlog.Record, error) {
	if s.closed.Load() {
		return nil, eventlog.ErrClosed
	}
	m, err := s.reader.FetchMessage(ctx)
	if err != nil {
		return nil, s.fetchErr(err)
	}
	s.log.answered()
	out := make([]eventlog.Record, 0, min(max, 256))
	out = append(out, recordOfMessage(m))
	if len(out) >= max {
		return out, nil
	}
	lctx, cancel := context.WithTimeout(ctx, linger)
	defer cancel()
	for len(out) < max {
		m, err := s.reader.FetchMessage(lctx)
		if err != nil {
			// The linger is over, or ctx is done, or the reader failed:
			// what was fetched is good; a lasting error comes back from
			// the next Fetch.
			break
		}
		out = append(out, recordOfMessage(m))
	}
	return out, nil
}

func (s *subscription) fetchErr(err error) error {
	if s.closed.Load() || errors.Is(err, io.EOF) {
		return eventlog.ErrClosed
	}
	return fmt.Errorf("fetch %s: %w", s.group, err)
}

func recordOfMessage(m kafka.Message) eventlog.Record {
	return eventlog.Record{
		Key:       m.Key,
		ID:        headerID(m.Headers),
		Value:     m.Value,
		Partition: m.Partition,
		Offset:    m.Offset,
		Time:      m.Time,
	}
}

// Commit implements eventlog.Subscription: it commits, for each partition
// in recs, the offset after the last of them, and returns once the group
// coordinator stored it.
func (s *subscription) Commit(ctx context.Context, recs []eventlog.Record) error {
	if s.closed.Load() {
		return eventlog.ErrClosed
	}
	if len(recs) == 0 {
		return nil
	}
	last := map[int]int64{}
	for _, r := range recs {
		if off, ok := last[r.Partition]; !ok || r.Offset > off {
			last[r.Partition] = r.Offset
		}
	}
	msgs := make([]kafka.Message, 0, len(last))
	for p, off := range last {
		msgs = append(msgs, kafka.Message{Topic: s.log.cfg.Topic, Partition: p, Offset: off})
	}
	if err := s.reader.CommitMessages(ctx, msgs...); err != nil {
		if s.closed.Load() || errors.Is(err, io.ErrClosedPipe) {
			return eventlog.ErrClosed
		}
		return fmt.Errorf("commit %s: %w", s.group, err)
	}
	s.log.answered()
	return nil
}

// Close implements eventlog.Subscription: the reader leaves the group,
// and whatever it fetched but was not committed is read again by the
// group's next member.
func (s *subscription) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		if err := s.reader.Close(); err != nil {
			s.closeErr = fmt.Errorf("close %s reader: %w", s.group, err)
		}
		s.log.forget(s)
	})
	return s.closeErr
}
