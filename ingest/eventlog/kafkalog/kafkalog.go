package kafkalog

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// idHeader is the message header that carries the record's event_id.
const idHeader = "event_id"

// Timeouts of the log's own requests.
const (
	dialTimeout  = 10 * time.Second
	readyTimeout = 2 * time.Second // how long Ready waits for a fresh one
	replayWait   = 500 * time.Millisecond
	replayBytes  = 4 << 20
)

// Log is an eventlog.Log on a Kafka topic. It is safe for concurrent use.
type Log struct {
	cfg       Config
	logger    *slog.Logger
	transport *kafka.Transport
	client    *kafka.Client
	writer    *kafka.Writer
	dialer    *kafka.Dialer // for the consumer groups' readers
	stop      context.CancelFunc

	closed atomic.Bool
	// appends is held for reading by each Append while it writes, so
	// that Close can wait for them.
	appends sync.RWMutex
	mu      sync.Mutex // guards subs
	subs    map[*subscription]struct{}

	lastAnswer  atomic.Int64  // unix nanoseconds of the cluster's last answer
	readyWindow time.Duration // how recent an answer Ready trusts
}

var _ eventlog.Log = (*Log)(nil)

// Open validates cfg, checks that the topic exists (creating it when
// cfg.CreateTopic allows) and returns the log. Closing ctx after Open
// returned does not affect the log.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	cfg = cfg.withDefaults()
	transport := &kafka.Transport{
		Dial:           (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		DialTimeout:    dialTimeout,
		ClientID:       "vigil",
		MetadataTopics: []string{cfg.Topic},
	}
	dialer := &kafka.Dialer{ClientID: "vigil", Timeout: dialTimeout, DualStack: true, KeepAlive: 30 * time.Second}
	if cfg.TLS != nil {
		tc, err := cfg.TLS.ClientConfig("")
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		if cfg.TLS.InsecureSkipVerify {
			cfg.Logger.Warn("kafka TLS certificates are not verified (tls.insecure_skip_verify)")
		}
		transport.TLS, dialer.TLS = tc, tc
	}
	if cfg.SASL != nil {
		mech := cfg.SASL.mechanism()
		transport.SASL, dialer.SASLMechanism = mech, mech
	}
	bg, stop := context.WithCancel(context.Background())
	transport.Context = bg

	addr := kafka.TCP(cfg.Brokers...)
	l := &Log{
		cfg:         cfg,
		logger:      cfg.Logger,
		transport:   transport,
		client:      &kafka.Client{Addr: addr, Transport: transport},
		dialer:      dialer,
		stop:        stop,
		subs:        map[*subscription]struct{}{},
		readyWindow: 15 * time.Second,
	}
	l.writer = &kafka.Writer{
		Addr:  addr,
		Topic: cfg.Topic,
		// The same key always goes to the same partition, the one Kafka's
		// Java client would choose.
		Balancer:     kafka.Murmur2Balancer{Consistent: true},
		RequiredAcks: kafka.RequireAll,
		BatchTimeout: cfg.BatchTimeout,
		Transport:    transport,
		Logger:       kafkaLogger(cfg.Logger, slog.LevelDebug),
		ErrorLogger:  kafkaLogger(cfg.Logger, slog.LevelWarn),
	}
	if err := l.ensureTopic(ctx); err != nil {
		l.release()
		return nil, err
	}
	return l, nil
}

// ensureTopic checks that the topic exists, and creates it if allowed.
func (l *Log) ensureTopic(ctx context.Context) error {
	topic := l.cfg.Topic
	md, err := l.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("check topic %s: %w", topic, err)
	}
	t, err := findTopic(md, topic)
	if err == nil {
		l.answered()
		if len(t.Partitions) != l.cfg.Partitions && l.cfg.CreateTopic {
			l.logger.Info("kafka topic exists with another partition count than configured; using it as it is",
				"topic", topic, "partitions", len(t.Partitions), "configured", l.cfg.Partitions)
		}
		return nil
	}
	if !errors.Is(err, kafka.UnknownTopicOrPartition) {
		return fmt.Errorf("check topic %s: %w", topic, err)
	}
	if !l.cfg.CreateTopic {
		return fmt.Errorf("topic %s does not exist and create_topic is false", topic)
	}

	rf := l.cfg.ReplicationFactor
	if rf == 0 {
		rf = min(DefaultReplication, len(md.Brokers))
		if rf < DefaultReplication {
			l.logger.Warn("kafka cluster has fewer brokers than the default replication factor; creating the topic with fewer replicas",
				"topic", topic, "brokers", len(md.Brokers), "replication_factor", rf)
		}
	}
	tc := kafka.TopicConfig{Topic: topic, NumPartitions: l.cfg.Partitions, ReplicationFactor: rf}
	if rf >= 3 {
		tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: "2"}}
	}
	res, err := l.client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: []kafka.TopicConfig{tc}})
	if err != nil {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	if err := res.Errors[topic]; err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	l.answered()
	l.logger.Info("created kafka topic", "topic", topic, "partitions", l.cfg.Partitions, "replication_factor", rf)
	return nil
}

// findTopic returns the topic's metadata, or its error.
func findTopic(md *kafka.MetadataResponse, topic string) (kafka.Topic, error) {
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return t, t.Error
		}
		if len(t.Partitions) == 0 {
			return t, kafka.UnknownTopicOrPartition
		}
		return t, nil
	}
	return kafka.Topic{}, kafka.UnknownTopicOrPartition
}

// Append implements eventlog.Appender. It returns once every in-sync
// replica of each record's partition has the record.
func (l *Log) Append(ctx context.Context, recs []eventlog.Record) error {
	l.appends.RLock()
	defer l.appends.RUnlock()
	if l.closed.Load() {
		return eventlog.ErrClosed
	}
	if len(recs) == 0 {
		return nil
	}
	now := time.Now()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		key := r.Key
		if key == nil {
			key = []byte{} // hashed like any key: nil would be spread at random
		}
		msgs[i] = kafka.Message{
			Key:     key,
			Value:   r.Value,
			Headers: []kafka.Header{{Key: idHeader, Value: []byte(r.ID)}},
			Time:    now,
		}
	}
	if err := l.writer.WriteMessages(ctx, msgs...); err != nil {
		if errors.Is(err, io.ErrClosedPipe) {
			return eventlog.ErrClosed
		}
		return fmt.Errorf("append %d records: %w", len(recs), err)
	}
	l.answered()
	return nil
}

// Subscribe implements eventlog.Log: it joins the consumer group in the
// background, so the first Fetch may wait for the group to settle.
func (l *Log) Subscribe(_ context.Context, group string) (eventlog.Subscription, error) {
	if group == "" {
		return nil, errors.New("subscribe: empty group name")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() {
		return nil, eventlog.ErrClosed
	}
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers:           l.cfg.Brokers,
		GroupID:           group,
		Topic:             l.cfg.Topic,
		Dialer:            l.dialer,
		MaxBytes:          10 << 20,
		MaxWait:           time.Second,
		HeartbeatInterval: l.cfg.HeartbeatInterval,
		SessionTimeout:    l.cfg.SessionTimeout,
		RebalanceTimeout:  l.cfg.RebalanceTimeout,
		JoinGroupBackoff:  joinBackoff(l.cfg),
		// Partitions added to the topic later are read too.
		WatchPartitionChanges: true,
		StartOffset:           kafka.FirstOffset,
		// CommitInterval 0: Commit returns after the broker stored the offsets.
		CommitInterval: 0,
		Logger:         kafkaLogger(l.logger, slog.LevelDebug),
		ErrorLogger:    kafkaLogger(l.logger, slog.LevelWarn),
	})
	s := &subscription{log: l, group: group, reader: r}
	l.subs[s] = struct{}{}
	return s, nil
}

// joinBackoff is the wait before a consumer group retries a failed join:
// kafka-go's 5s default, shortened along with short group timings.
func joinBackoff(cfg Config) time.Duration {
	if cfg.HeartbeatInterval > 0 && cfg.HeartbeatInterval < 5*time.Second {
		return cfg.HeartbeatInterval
	}
	return 0
}

func (l *Log) forget(s *subscription) {
	l.mu.Lock()
	delete(l.subs, s)
	l.mu.Unlock()
}

// Lag implements eventlog.Log: the sum over partitions of the high
// watermark minus the group's committed offset, counting a partition the
// group never committed from its first retained offset.
func (l *Log) Lag(ctx context.Context, group string) (int64, error) {
	if l.isClosed() {
		return 0, eventlog.ErrClosed
	}
	parts, err := l.partitions(ctx)
	if err != nil {
		return 0, fmt.Errorf("lag of %s: %w", group, err)
	}
	bounds, err := l.offsets(ctx, parts, time.Time{})
	if err != nil {
		return 0, fmt.Errorf("lag of %s: %w", group, err)
	}
	res, err := l.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{
		GroupID: group,
		Topics:  map[string][]int{l.cfg.Topic: parts},
	})
	if err == nil {
		err = res.Error
	}
	if errors.Is(err, kafka.GroupIdNotFound) {
		// A group that never committed: newer brokers (and kfake) say
		// so instead of answering -1 for every partition.
		res, err = &kafka.OffsetFetchResponse{}, nil
	}
	if err != nil {
		return 0, fmt.Errorf("lag of %s: committed offsets: %w", group, err)
	}
	committed := map[int]int64{}
	for _, p := range res.Topics[l.cfg.Topic] {
		if p.Error != nil {
			return 0, fmt.Errorf("lag of %s: committed offset of partition %d: %w", group, p.Partition, p.Error)
		}
		committed[p.Partition] = p.CommittedOffset
	}
	var lag int64
	for _, p := range parts {
		b := bounds[p]
		from := b.first
		if c, ok := committed[p]; ok && c >= 0 {
			from = max(c, b.first)
		}
		lag += max(b.end-from, 0)
	}
	l.answered()
	return lag, nil
}

// Replay implements eventlog.Log. It reads each partition, one after the
// other, from the first record whose timestamp is at or after since to the
// high watermark it found when it started; records appended meanwhile may
// be left out.
func (l *Log) Replay(ctx context.Context, since time.Time, fn func(eventlog.Record) error) error {
	if l.isClosed() {
		return eventlog.ErrClosed
	}
	parts, err := l.partitions(ctx)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	bounds, err := l.offsets(ctx, parts, since)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	for _, p := range parts {
		if err := l.replayPartition(ctx, p, bounds[p], fn); err != nil {
			return err
		}
	}
	return nil
}

// replayPartition reads one partition from b.start to b.end; fn's error
// comes back as it is.
func (l *Log) replayPartition(ctx context.Context, p int, b bounds, fn func(eventlog.Record) error) error {
	for off := b.start; off < b.end; {
		if l.isClosed() {
			return eventlog.ErrClosed
		}
		res, err := l.client.Fetch(ctx, &kafka.FetchRequest{
			Topic: l.cfg.Topic, Partition: p, Offset: off,
			MinBytes: 1, MaxBytes: replayBytes, MaxWait: replayWait,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("replay partition %d from offset %d: %w", p, off, err)
		}
		next, err := readRecords(res.Records, p, off, b.end, fn)
		if err != nil {
			return err
		}
		if next == off {
			// Nothing at or after off below end: the rest are gaps
			// (compacted records or transaction markers).
			return nil
		}
		off = next
	}
	return nil
}

// readRecords hands fn the records of one fetch response from offset off
// up to end, and returns the offset after the last one.
func readRecords(rr kafka.RecordReader, p int, off, end int64, fn func(eventlog.Record) error) (int64, error) {
	if c, ok := rr.(io.Closer); ok {
		defer c.Close()
	}
	for {
		r, err := rr.ReadRecord()
		if errors.Is(err, io.EOF) {
			return off, nil
		}
		if err != nil {
			return off, fmt.Errorf("replay partition %d at offset %d: %w", p, off, err)
		}
		if r.Offset < off {
			continue // a batch may start before the offset asked for
		}
		if r.Offset >= end {
			return off, nil
		}
		rec, err := recordOf(r, p)
		if err != nil {
			return off, fmt.Errorf("replay partition %d at offset %d: %w", p, r.Offset, err)
		}
		off = r.Offset + 1
		if err := fn(rec); err != nil {
			return off, err
		}
	}
}

// recordOf copies a fetched record out of the response's buffers.
func recordOf(r *kafka.Record, partition int) (eventlog.Record, error) {
	key, err := protocol.ReadAll(r.Key)
	if err != nil {
		return eventlog.Record{}, fmt.Errorf("read key: %w", err)
	}
	value, err := protocol.ReadAll(r.Value)
	if err != nil {
		return eventlog.Record{}, fmt.Errorf("read value: %w", err)
	}
	return eventlog.Record{
		Key:       key,
		ID:        headerID(r.Headers),
		Value:     value,
		Partition: partition,
		Offset:    r.Offset,
		Time:      r.Time,
	}, nil
}

func headerID(hs []kafka.Header) string {
	for _, h := range hs {
		if h.Key == idHeader {
			return string(h.Value)
		}
	}
	return ""
}

// partitions returns the topic's partition ids, sorted.
func (l *Log) partitions(ctx context.Context) ([]int, error) {
	md, err := l.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{l.cfg.Topic}})
	if err != nil {
		return nil, fmt.Errorf("topic metadata: %w", err)
	}
	t, err := findTopic(md, l.cfg.Topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: %w", l.cfg.Topic, err)
	}
	parts := make([]int, len(t.Partitions))
	for i, p := range t.Partitions {
		parts[i] = p.ID
	}
	slices.Sort(parts)
	return parts, nil
}

// bounds are a partition's offsets: the first retained, the high
// watermark (end), and where a replay from some time starts.
type bounds struct {
	first, end, start int64
}

// offsets lists each partition's bounds; with a non-zero since, start is
// the first offset whose timestamp is at or after since (end if none).
func (l *Log) offsets(ctx context.Context, parts []int, since time.Time) (map[int]bounds, error) {
	byTime := !since.IsZero() && since.UnixMilli() > 0
	reqs := make([]kafka.OffsetRequest, 0, 3*len(parts))
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
		if byTime {
			reqs = append(reqs, kafka.TimeOffsetOf(p, since))
		}
	}
	res, err := l.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{l.cfg.Topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("list offsets: %w", err)
	}
	out := make(map[int]bounds, len(parts))
	for _, po := range res.Topics[l.cfg.Topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("list offsets of partition %d: %w", po.Partition, po.Error)
		}
		b := bounds{first: po.FirstOffset, end: po.LastOffset, start: po.FirstOffset}
		if byTime {
			b.start = b.end
			for off := range po.Offsets { // one entry: the answer for since
				if off >= 0 {
					b.start = max(off, b.first)
				}
			}
		}
		out[po.Partition] = b
	}
	for _, p := range parts {
		if b, ok := out[p]; !ok || b.first < 0 || b.end < 0 {
			return nil, fmt.Errorf("list offsets: no answer for partition %d", p)
		}
	}
	return out, nil
}

// Ready reports whether the cluster answered in the last few seconds,
// asking it (for a moment) when it has not.
func (l *Log) Ready() error {
	if l.isClosed() {
		return eventlog.ErrClosed
	}
	if time.Since(time.Unix(0, l.lastAnswer.Load())) < l.readyWindow {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	// Metadata is served from the client's cache; listing offsets asks
	// the partition's leader.
	parts, err := l.partitions(ctx)
	if err == nil {
		_, err = l.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{
			Topics: map[string][]kafka.OffsetRequest{l.cfg.Topic: {kafka.LastOffsetOf(parts[0])}},
		})
	}
	if err != nil {
		return fmt.Errorf("kafka cluster: %w", err)
	}
	l.answered()
	return nil
}

func (l *Log) answered() { l.lastAnswer.Store(time.Now().UnixNano()) }

func (l *Log) isClosed() bool { return l.closed.Load() }

// Close implements eventlog.Log. It waits for appends under way, closes
// the subscriptions still open (without committing) and the connections.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed.Swap(true) {
		l.mu.Unlock()
		return nil
	}
	subs := make([]*subscription, 0, len(l.subs))
	for s := range l.subs {
		subs = append(subs, s)
	}
	l.mu.Unlock()
	l.appends.Lock() // wait for appends under way
	defer l.appends.Unlock()

	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	errs = append(errs, l.release())
	return errors.Join(errs...)
}

// release closes the writer and the transport's connections.
func (l *Log) release() error {
	err := l.writer.Close()
	l.transport.CloseIdleConnections()
	l.stop()
	if err != nil {
		return fmt.Errorf("close kafka writer: %w", err)
	}
	return nil
}

// kafkaLogger adapts slog to kafka-go's Printf logger. Errors that only
// say a connection was cancelled, which closing a reader causes, go to
// debug.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.LoggerFunc {
	ctx := context.Background()
	return func(format string, args ...any) {
		if !l.Enabled(ctx, level) {
			return
		}
		msg, lvl := fmt.Sprintf(format, args...), level
		if strings.Contains(msg, "operation was canceled") || strings.Contains(msg, "context canceled") {
			lvl = slog.LevelDebug
		}
		l.Log(ctx, lvl, msg, "component", "kafka-go")
	}
}
