package ingest

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

// memLog is an in-memory Appender and Replayer for ingest's own tests;
// the log implementations have their own suite (logtest).
type memLog struct {
	mu      sync.Mutex
	recs    []eventlog.Record
	err     error // returned by Append when set
	appends int   // Append calls that stored records
}

func (m *memLog) Append(_ context.Context, recs []eventlog.Record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	m.appends++
	for _, r := range recs {
		r.Offset = int64(len(m.recs))
		r.Time = time.Now()
		m.recs = append(m.recs, r)
	}
	return nil
}

func (m *memLog) Replay(_ context.Context, since time.Time, fn func(eventlog.Record) error) error {
	m.mu.Lock()
	recs := append([]eventlog.Record(nil), m.recs...)
	m.mu.Unlock()
	for _, r := range recs {
		if !r.Time.Before(since) {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memLog) ids() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.recs {
		out = append(out, r.ID)
	}
	return out
}

func openQuarantine(t *testing.T) *Quarantine {
	t.Helper()
	q, err := OpenQuarantine(filepath.Join(t.TempDir(), "quarantine.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q
}

var alice = schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}

func signin(i int) []byte {
	return fmt.Appendf(nil, `{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:%02d.000Z","user":"u%d@example.com","authority":"LDAP"}`, i%60, i)
}

func raws(evs ...[]byte) [][]byte { return evs }

func TestIngest_AcceptsRejectsAndQuarantines(t *testing.T) {
	log := &memLog{}
	q := openQuarantine(t)
	in := New(log, q, Config{}, nil, nil, nil)
	bad := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"nobody","authority":"LDAP","event_id":"bad-1"}`)
	forged := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"a@example.com","authority":"LDAP","verified_submitter":{"user_id":"x@example.com","device_id":"40f9cddab98a432b9c60d734f5f63e7e"}}`)
	res, err := in.Ingest(context.Background(), alice, raws(signin(1), bad, signin(2), forged))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 2 || res.Duplicates != 0 || len(res.Rejected) != 2 {
		t.Fatalf("result %+v", res)
	}
	if r := res.Rejected[0]; r.Index != 1 || r.EventID != "bad-1" || !strings.Contains(r.Error, "user: not an email address") {
		t.Errorf("rejection %+v", r)
	}
	if r := res.Rejected[1]; r.Index != 3 || !strings.Contains(r.Error, "verified_submitter") {
		t.Errorf("rejection %+v", r)
	}
	if n := len(log.ids()); n != 2 {
		t.Errorf("%d records in the log, want 2", n)
	}
	entries, err := q.List(context.Background(), ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 || entries[0].Raw != string(bad) || entries[0].Submitter != alice || entries[0].Reason != res.Rejected[0].Error {
		t.Errorf("quarantine %+v", entries)
	}
}

func TestIngest_ResentBatchIsDuplicates(t *testing.T) {
	log := &memLog{}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	batch := raws(signin(1), signin(2), signin(3))
	first, err := in.Ingest(context.Background(), alice, batch)
	if err != nil || first.Accepted != 3 {
		t.Fatalf("%+v %v", first, err)
	}
	again, err := in.Ingest(context.Background(), alice, batch)
	if err != nil || again.Accepted != 0 || again.Duplicates != 3 {
		t.Fatalf("re-sent: %+v %v", again, err)
	}
	// Another device sending the same content is another event.
	bob := schema.Submitter{UserID: "bob@example.com", DeviceID: "b88a707bd70586f7a9f2dfc8fee2def5"}
	other, err := in.Ingest(context.Background(), bob, batch)
	if err != nil || other.Accepted != 3 {
		t.Fatalf("other device: %+v %v", other, err)
	}
	if n := len(log.ids()); n != 6 {
		t.Errorf("%d records, want 6", n)
	}
}

func TestIngest_DedupSurvivesRestart(t *testing.T) {
	log := &memLog{}
	q := openQuarantine(t)
	batch := raws(signin(1), signin(2))
	if _, err := New(log, q, Config{}, nil, nil, nil).Ingest(context.Background(), alice, batch); err != nil {
		t.Fatal(err)
	}
	restarted := New(log, q, Config{}, nil, nil, nil)
	if n, err := restarted.Rebuild(context.Background(), log); err != nil || n != 2 {
		t.Fatalf("Rebuild = %d, %v", n, err)
	}
	res, err := restarted.Ingest(context.Background(), alice, batch)
	if err != nil || res.Duplicates != 2 || res.Accepted != 0 {
		t.Fatalf("after restart: %+v %v", res, err)
	}
}

func TestIngest_FailedAppendAcceptsNothing(t *testing.T) {
	log := &memLog{err: fmt.Errorf("disk: %w", eventlog.ErrFull)}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	batch := raws(signin(1))
	if _, err := in.Ingest(context.Background(), alice, batch); !errors.Is(err, eventlog.ErrFull) {
		t.Fatalf("err = %v, want ErrFull", err)
	}
	// The ids were released: once the log has room, the retry is new.
	log.err = nil
	res, err := in.Ingest(context.Background(), alice, batch)
	if err != nil || res.Accepted != 1 {
		t.Fatalf("retry: %+v %v", res, err)
	}
}

func TestIngest_ConcurrentSameBatchAppendsOnce(t *testing.T) {
	log := &memLog{}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	batch := raws(signin(1), signin(2), signin(3), signin(4))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := in.Ingest(context.Background(), alice, batch); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := len(log.ids()); n != 4 {
		t.Errorf("%d records, want 4", n)
	}
}

func TestIngest_EventTooLarge(t *testing.T) {
	in := New(&memLog{}, openQuarantine(t), Config{MaxEventBytes: 100}, nil, nil, nil)
	big := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"a@example.com","authority":"LDAP","pad":"` + strings.Repeat("x", 100) + `"}`)
	res, err := in.Ingest(context.Background(), alice, raws(big))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "max_event_bytes") {
		t.Errorf("%+v", res)
	}
}

// seqRecorder is a SeqObserver that keeps every number it is given.
type seqRecorder struct {
	mu   sync.Mutex
	seqs []int64
}

func (s *seqRecorder) ObserveSeq(_ context.Context, device string, seqs []int64) ([]auth.Gap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seqs = append(s.seqs, seqs...)
	return nil, nil
}

// TestIngest_ObservesSeqs checks that every sequence number of a device's
// batch reaches the store, a rejected event's included (it used its
// number: without it the device would seem to have withheld one), and
// that a batch from a user token has none to record.
func TestIngest_ObservesSeqs(t *testing.T) {
	log := &memLog{}
	seqs := &seqRecorder{}
	in := New(log, openQuarantine(t), Config{}, seqs, nil, nil)
	withSeq := func(i, seq int) []byte {
		return fmt.Appendf(nil, `{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:%02d.000Z","user":"u%d@example.com","authority":"LDAP","seq":%d}`, i, i, seq)
	}
	bad := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"nobody","authority":"LDAP","seq":6}`)
	res, err := in.Ingest(context.Background(), alice, raws(withSeq(1, 1), withSeq(2, 2), withSeq(3, 5), bad, withSeq(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted != 4 || len(res.Rejected) != 1 {
		t.Fatalf("result %+v", res)
	}
	slices.Sort(seqs.seqs)
	if want := []int64{1, 2, 5, 6, 7}; !slices.Equal(seqs.seqs, want) {
		t.Errorf("observed %v, want %v", seqs.seqs, want)
	}
	for _, r := range log.recs {
		if strings.Contains(string(r.Value), `"seq_gap"`) {
			t.Errorf("ingest appended an alert itself: %s", r.Value)
		}
	}
}

func TestReplayQuarantine(t *testing.T) {
	log := &memLog{}
	q := openQuarantine(t)
	in := New(log, q, Config{Limits: schema.Limits{MaxStringLen: 20}}, nil, nil, nil)
	long := []byte(`{"topic":"USER","event":"user.signin","timestamp":"2026-11-23T10:00:00Z","user":"someone.with.a.long.name@example.com","authority":"LDAP"}`)
	if _, err := in.Ingest(context.Background(), alice, raws(long)); err != nil {
		t.Fatal(err)
	}
	if entries, _ := q.List(context.Background(), ListOptions{}); len(entries) != 1 || !strings.HasSuffix(entries[0].Reason, "longer than 20 bytes (limit max_string_len)") {
		t.Errorf("reason does not name the limit: %+v", entries)
	}
	// Still too long: stays quarantined.
	if rep, rej, err := in.ReplayQuarantine(context.Background(), nil); err != nil || rep != 0 || rej != 1 {
		t.Fatalf("replay = %d, %d, %v", rep, rej, err)
	}
	// The fix: a larger limit.
	fixed := New(log, q, Config{}, nil, nil, nil)
	if rep, rej, err := fixed.ReplayQuarantine(context.Background(), nil); err != nil || rep != 1 || rej != 0 {
		t.Fatalf("replay after the fix = %d, %d, %v", rep, rej, err)
	}
	if n := len(log.ids()); n != 1 {
		t.Errorf("%d records", n)
	}
	left, _ := q.List(context.Background(), ListOptions{})
	all, _ := q.List(context.Background(), ListOptions{Replayed: true})
	if len(left) != 0 || len(all) != 1 || all[0].ReplayedAt == nil || all[0].EventID != log.ids()[0] {
		t.Errorf("quarantine after replay: %+v / %+v", left, all)
	}
	// Its submitter is kept.
	if !strings.Contains(string(log.recs[0].Value), `"verified_submitter":{"user_id":"alice@example.com"`) {
		t.Errorf("replayed without its submitter: %s", log.recs[0].Value)
	}
}

// cancelLog stores the records, then reports the caller's cancellation,
// as a log may when the context ends during a group commit.
type cancelLog struct{ memLog }

func (c *cancelLog) Append(ctx context.Context, recs []eventlog.Record) error {
	if err := c.memLog.Append(ctx, recs); err != nil {
		return err
	}
	return ctx.Err()
}

func TestIngest_ClientGoneDoesNotDoubleAppend(t *testing.T) {
	log := &cancelLog{}
	in := New(log, openQuarantine(t), Config{}, nil, nil, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client went away while its batch was appended
	batch := raws(signin(1), signin(2))
	if _, err := in.Ingest(ctx, alice, batch); err != nil {
		t.Fatalf("append was abandoned with the client: %v", err)
	}
	res, err := in.Ingest(context.Background(), alice, batch)
	if err != nil || res.Duplicates != 2 {
		t.Fatalf("retry after the client went away: %+v %v; want 2 duplicates", res, err)
	}
	if n := len(log.ids()); n != 2 {
		t.Errorf("%d records, want 2", n)
	}
}
