package kafkalog_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/ingest/eventlog/kafkalog"
	"github.com/vigilaudit/vigil/ingest/eventlog/logtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newCluster starts an in-process Kafka cluster of three brokers that
// accepts the short group session timeouts the tests use.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{
		kfake.NumBrokers(3),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// testConfig is a log on c with timings short enough for -race.
func testConfig(c *kfake.Cluster) kafkalog.Config {
	return kafkalog.Config{
		Brokers:           c.ListenAddrs(),
		CreateTopic:       true,
		Partitions:        4,
		BatchTimeout:      time.Millisecond,
		SessionTimeout:    time.Second,
		RebalanceTimeout:  time.Second,
		HeartbeatInterval: 100 * time.Millisecond,
	}
}

func open(t *testing.T, cfg kafkalog.Config) *kafkalog.Log {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := kafkalog.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

func TestLog(t *testing.T) {
	logtest.Run(t, func(t *testing.T) logtest.Harness {
		cfg := testConfig(newCluster(t))
		return logtest.Harness{Open: func(t *testing.T) eventlog.Log {
			return open(t, cfg)
		}}
	})
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// adminClient is a plain kafka-go client of c, to look at what the log
// did from outside it.
func adminClient(t *testing.T, c *kfake.Cluster) *kafka.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &kafka.Transport{Context: ctx}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		cancel()
	})
	return &kafka.Client{Addr: kafka.TCP(c.ListenAddrs()...), Transport: tr}
}

func records(prefix string, n int, keys ...string) []eventlog.Record {
	out := make([]eventlog.Record, n)
	for i := range out {
		id := fmt.Sprintf("%s-%04d", prefix, i)
		out[i] = eventlog.Record{
			Key:   []byte(keys[i%len(keys)]),
			ID:    id,
			Value: []byte(`{"topic":"USER","event":"user.signin","event_id":"` + id + `"}`),
		}
	}
	return out
}

// fetchAll fetches n records from a new subscription of group.
func fetchAll(t *testing.T, l eventlog.Log, group string, n int) []eventlog.Record {
	t.Helper()
	s, err := l.Subscribe(ctxT(t), group)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer s.Close()
	var out []eventlog.Record
	for len(out) < n {
		batch, err := s.Fetch(ctxT(t), n-len(out), 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch after %d of %d: %v", len(out), n, err)
		}
		out = append(out, batch...)
	}
	return out
}

func TestOpen_TopicMissingWithoutCreate(t *testing.T) {
	cfg := testConfig(newCluster(t))
	cfg.CreateTopic = false
	cfg.Topic = "audit"
	l, err := kafkalog.Open(ctxT(t), cfg)
	if err == nil {
		l.Close()
		t.Fatal("Open of a missing topic without create_topic succeeded")
	}
	if got, want := err.Error(), "topic audit does not exist and create_topic is false"; got != want {
		t.Errorf("Open error = %q, want %q", got, want)
	}
}

func TestOpen_ExistingTopicWithoutCreate(t *testing.T) {
	c := newCluster(t, kfake.SeedTopics(2, "audit"))
	cfg := testConfig(c)
	cfg.CreateTopic = false
	cfg.Topic = "audit"
	l := open(t, cfg)
	recs := records("r", 6, "a", "b", "c")
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatalf("Append: %v", err)
	}
	for _, r := range fetchAll(t, l, "g", 6) {
		if r.Partition > 1 {
			t.Errorf("record %s in partition %d of a 2-partition topic", r.ID, r.Partition)
		}
	}
}

func TestOpen_Unreachable(t *testing.T) {
	// A port nothing listens on: take one and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = kafkalog.Open(ctxT(t), kafkalog.Config{Brokers: []string{addr}})
	t.Logf("Open: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "check topic vigil-events: ") {
		t.Errorf("Open against nothing = %v; want a check topic error", err)
	}
}

func TestOpen_InvalidConfig(t *testing.T) {
	_, err := kafkalog.Open(ctxT(t), kafkalog.Config{})
	if err == nil || !strings.Contains(err.Error(), "brokers: at least one broker is required") {
		t.Errorf("Open with no brokers = %v; want the config error", err)
	}
}

func TestOpen_ReplicationFactor(t *testing.T) {
	tests := []struct {
		name    string
		brokers int
		rf      int
		wantRF  int
		wantISR bool // min.insync.replicas=2 on the topic
		wantErr string
	}{
		{name: "DefaultIsThree", brokers: 3, wantRF: 3, wantISR: true},
		{name: "DefaultOnOneBroker", brokers: 1, wantRF: 1},
		{name: "Explicit", brokers: 3, rf: 2, wantRF: 2},
		{name: "MoreThanBrokers", brokers: 1, rf: 3, wantErr: "create topic vigil-events: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCluster(t, kfake.NumBrokers(tt.brokers))
			cfg := testConfig(c)
			cfg.ReplicationFactor = tt.rf
			l, err := kafkalog.Open(ctxT(t), cfg)
			if tt.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
					t.Fatalf("Open = %v; want an error starting %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer l.Close()
			admin := adminClient(t, c)
			md, err := admin.Metadata(ctxT(t), &kafka.MetadataRequest{Topics: []string{kafkalog.DefaultTopic}})
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Topics) != 1 || len(md.Topics[0].Partitions) != cfg.Partitions {
				t.Fatalf("metadata %+v; want one topic of %d partitions", md.Topics, cfg.Partitions)
			}
			for _, p := range md.Topics[0].Partitions {
				if len(p.Replicas) != tt.wantRF {
					t.Errorf("partition %d has %d replicas, want %d", p.ID, len(p.Replicas), tt.wantRF)
				}
			}
			dc, err := admin.DescribeConfigs(ctxT(t), &kafka.DescribeConfigsRequest{Resources: []kafka.DescribeConfigRequestResource{{
				ResourceType: kafka.ResourceTypeTopic, ResourceName: kafkalog.DefaultTopic, ConfigNames: []string{"min.insync.replicas"},
			}}})
			if err != nil {
				t.Fatal(err)
			}
			isr := ""
			for _, r := range dc.Resources {
				for _, e := range r.ConfigEntries {
					if e.ConfigName == "min.insync.replicas" {
						isr = e.ConfigValue
					}
				}
			}
			if (isr == "2") != tt.wantISR {
				t.Errorf("min.insync.replicas = %q; want 2: %v", isr, tt.wantISR)
			}
		})
	}
}

// TestAppend_WireFormat reads what Append wrote with another client
// (franz-go): the key is the record's key, the value its bytes, the
// event_id header its ID, and the partition the one Kafka's own clients
// pick for the key.
func TestAppend_WireFormat(t *testing.T) {
	c := newCluster(t)
	cfg := testConfig(c)
	l := open(t, cfg)
	recs := records("wire", 12, "alice@example.com", "bob@example.com", "dev-42", "")
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatalf("Append: %v", err)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ConsumeTopics(kafkalog.DefaultTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	type wire struct {
		Key, Value, ID string
		Partition      int32
	}
	var got []wire
	for len(got) < len(recs) {
		fs := cl.PollFetches(ctxT(t))
		if errs := fs.Errors(); len(errs) > 0 {
			t.Fatalf("poll: %v", errs)
		}
		fs.EachRecord(func(r *kgo.Record) {
			w := wire{Key: string(r.Key), Value: string(r.Value), Partition: r.Partition}
			for _, h := range r.Headers {
				if h.Key == "event_id" {
					w.ID = string(h.Value)
				}
			}
			got = append(got, w)
		})
	}
	javaLike := kgo.StickyKeyPartitioner(nil).ForTopic(kafkalog.DefaultTopic)
	var want []wire
	for _, r := range recs {
		p := javaLike.Partition(&kgo.Record{Key: r.Key}, cfg.Partitions)
		want = append(want, wire{Key: string(r.Key), Value: string(r.Value), ID: r.ID, Partition: int32(p)})
	}
	byID := func(a, b wire) int { return strings.Compare(a.ID, b.ID) }
	slices.SortFunc(got, byID)
	slices.SortFunc(want, byID)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records on the wire (-want +got):\n%s", diff)
	}

	// And the log reads the ID back from the header.
	back := fetchAll(t, l, "g", len(recs))
	gotIDs, wantIDs := make([]string, 0, len(back)), make([]string, 0, len(recs))
	for i := range back {
		gotIDs = append(gotIDs, back[i].ID)
		wantIDs = append(wantIDs, recs[i].ID)
	}
	slices.Sort(gotIDs)
	if diff := cmp.Diff(wantIDs, gotIDs); diff != "" {
		t.Errorf("IDs read back (-want +got):\n%s", diff)
	}
}

// TestAppend_KeysSpreadOrderHolds appends many keys over several
// partitions: each key stays in one partition, in append order, and the
// keys use every partition.
func TestAppend_KeysSpreadOrderHolds(t *testing.T) {
	cfg := testConfig(newCluster(t))
	cfg.Partitions = 6
	l := open(t, cfg)
	var keys []string
	for i := range 40 {
		keys = append(keys, fmt.Sprintf("user%02d@example.com", i))
	}
	var want []eventlog.Record
	for b := range 5 {
		recs := records(fmt.Sprintf("b%d", b), 80, keys...)
		if err := l.Append(ctxT(t), recs); err != nil {
			t.Fatalf("Append: %v", err)
		}
		want = append(want, recs...)
	}
	got := fetchAll(t, l, "g", len(want))

	partitionOf := map[string]int{}
	used := map[int]bool{}
	gotOrder, wantOrder := map[string][]string{}, map[string][]string{}
	lastOffset := map[int]int64{}
	for _, r := range got {
		k := string(r.Key)
		if p, ok := partitionOf[k]; ok && p != r.Partition {
			t.Errorf("key %s in partitions %d and %d", k, p, r.Partition)
		}
		partitionOf[k] = r.Partition
		used[r.Partition] = true
		if off, ok := lastOffset[r.Partition]; ok && r.Offset <= off {
			t.Errorf("partition %d: offset %d after %d", r.Partition, r.Offset, off)
		}
		lastOffset[r.Partition] = r.Offset
		gotOrder[k] = append(gotOrder[k], r.ID)
	}
	for _, r := range want {
		wantOrder[string(r.Key)] = append(wantOrder[string(r.Key)], r.ID)
	}
	if diff := cmp.Diff(wantOrder, gotOrder); diff != "" {
		t.Errorf("order per key (-want +got):\n%s", diff)
	}
	if len(used) != cfg.Partitions {
		t.Errorf("40 keys used %d of %d partitions", len(used), cfg.Partitions)
	}
}

// TestClose_KafkaSpecifics covers what logtest's FetchEndsWhenClosed does
// not: commits and readiness after Close.
func TestClose_KafkaSpecifics(t *testing.T) {
	l := open(t, testConfig(newCluster(t)))
	s, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Commit(ctxT(t), records("r", 1, "a")); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Commit after Close = %v, want ErrClosed", err)
	}
	if err := l.Ready(); !errors.Is(err, eventlog.ErrClosed) {
		t.Errorf("Ready after Close = %v, want ErrClosed", err)
	}
}

func TestReady(t *testing.T) {
	c := newCluster(t)
	l := open(t, testConfig(c))
	if err := l.Ready(); err != nil {
		t.Errorf("Ready after Open = %v", err)
	}
	kafkalog.SetReadyWindow(l, 0) // ask the cluster every time
	if err := l.Ready(); err != nil {
		t.Errorf("Ready asking the cluster = %v", err)
	}
	c.Close()
	if err := l.Ready(); err == nil {
		t.Error("Ready with the cluster gone = nil, want an error")
	} else {
		t.Logf("Ready: %v", err)
	}
}

// TestReplay_StartsAtTime checks that Replay finds the first record at or
// after since in each partition: Kafka's time index answers exactly, so
// nothing older comes back.
func TestReplay_StartsAtTime(t *testing.T) {
	l := open(t, testConfig(newCluster(t)))
	before := time.Now().Add(-time.Minute)
	old := records("old", 8, "a", "b", "c", "d")
	if err := l.Append(ctxT(t), old); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // timestamps are in milliseconds
	since := time.Now()
	time.Sleep(20 * time.Millisecond)
	recent := records("new", 8, "a", "b", "c", "d")
	if err := l.Append(ctxT(t), recent); err != nil {
		t.Fatal(err)
	}
	ids := func(recs []eventlog.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name  string
		since time.Time
		want  []eventlog.Record
	}{
		{name: "Zero", since: time.Time{}, want: append(slices.Clone(old), recent...)},
		{name: "BeforeAll", since: before, want: append(slices.Clone(old), recent...)},
		{name: "Between", since: since, want: recent},
		{name: "Future", since: time.Now().Add(time.Hour), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []eventlog.Record
			err := l.Replay(ctxT(t), tt.since, func(r eventlog.Record) error {
				if r.Time.IsZero() || r.ID == "" {
					t.Errorf("replayed record %+v lacks its time or ID", r)
				}
				got = append(got, r)
				return nil
			})
			if err != nil {
				t.Fatalf("Replay: %v", err)
			}
			if diff := cmp.Diff(ids(tt.want), ids(got)); diff != "" {
				t.Errorf("replayed ids (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGroup_MembersShareAndTakeOver runs two members of one group: they
// split the partitions, and when one leaves, the other reads what it had
// not committed.
func TestGroup_MembersShareAndTakeOver(t *testing.T) {
	c := newCluster(t)
	l := open(t, testConfig(c))
	s1, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	s2, err := l.Subscribe(ctxT(t), "g")
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	waitStable(t, adminClient(t, c), "g", 2)

	var keys []string
	for i := range 20 {
		keys = append(keys, fmt.Sprintf("user%02d", i))
	}
	recs := records("r", 40, keys...)
	if err := l.Append(ctxT(t), recs); err != nil {
		t.Fatal(err)
	}
	// Fetch from both until every record came once.
	got := map[eventlog.Subscription][]eventlog.Record{}
	for n := 0; n < len(recs); {
		for _, s := range []eventlog.Subscription{s1, s2} {
			ctx, cancel := context.WithTimeout(ctxT(t), 200*time.Millisecond)
			batch, err := s.Fetch(ctx, 100, 10*time.Millisecond)
			cancel()
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Fetch: %v", err)
			}
			got[s] = append(got[s], batch...)
			n += len(batch)
		}
	}
	parts := func(recs []eventlog.Record) map[int]bool {
		m := map[int]bool{}
		for _, r := range recs {
			m[r.Partition] = true
		}
		return m
	}
	p1, p2 := parts(got[s1]), parts(got[s2])
	if len(p1) == 0 || len(p2) == 0 {
		t.Fatalf("members read partitions %v and %v; want both to get some", p1, p2)
	}
	for p := range p1 {
		if p2[p] {
			t.Errorf("partition %d read by both members", p)
		}
	}
	if err := s1.Commit(ctxT(t), got[s1]); err != nil {
		t.Fatal(err)
	}

	// s2 leaves without committing: s1 takes its partitions over.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	var again []eventlog.Record
	for len(again) < len(got[s2]) {
		batch, err := s1.Fetch(ctxT(t), 100, 10*time.Millisecond)
		if err != nil {
			t.Fatalf("Fetch after the other member left: %v", err)
		}
		again = append(again, batch...)
	}
	ids := func(recs []eventlog.Record) []string {
		var out []string
		for _, r := range recs {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	if diff := cmp.Diff(ids(got[s2]), ids(again)); diff != "" {
		t.Errorf("records taken over (-want +got):\n%s", diff)
	}
	if err := s1.Commit(ctxT(t), again); err != nil {
		t.Fatal(err)
	}
	if lag, err := l.Lag(ctxT(t), "g"); err != nil || lag != 0 {
		t.Errorf("Lag = %d, %v; want 0", lag, err)
	}
}

// waitStable waits until group is stable with n members that all have
// partitions.
func waitStable(t *testing.T, admin *kafka.Client, group string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		res, err := admin.DescribeGroups(ctxT(t), &kafka.DescribeGroupsRequest{GroupIDs: []string{group}})
		if err == nil && len(res.Groups) == 1 && res.Groups[0].GroupState == "Stable" && len(res.Groups[0].Members) == n {
			assigned := 0
			for _, m := range res.Groups[0].Members {
				for _, tp := range m.MemberAssignments.Topics {
					if len(tp.Partitions) > 0 {
						assigned++
						break
					}
				}
			}
			if assigned == n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s not stable with %d members: %+v, %v", group, n, res, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
