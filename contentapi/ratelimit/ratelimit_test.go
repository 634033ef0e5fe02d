package ratelimit

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigilaudit/vigil/internal/config"
)

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func limiter(t *testing.T, cfg Config) (*Limiter, *clock) {
	t.Helper()
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c := newClock()
	return New(cfg, c.now), c
}

func TestLimiter_DefaultsDenyTheEleventhInFiveMinutes(t *testing.T) {
	l, c := limiter(t, Config{})
	key := Key("192.0.2.1", "alice@example.com")
	for i := range 10 {
		d := l.Check(key)
		if !d.Allowed || d.Remaining != 10-i {
			t.Fatalf("failure %d: Check = %+v, want allowed with %d remaining", i+1, d, 10-i)
		}
		l.Record(key)
		c.advance(10 * time.Second)
	}
	// The first failure was at 0s, the clock is at 100s: it leaves the
	// window at 300s.
	want := Decision{RetryAfter: 200 * time.Second}
	if diff := cmp.Diff(want, l.Check(key)); diff != "" {
		t.Fatalf("11th (-want +got):\n%s", diff)
	}
	if d := l.Check(Key("192.0.2.1", "bob@example.com")); !d.Allowed {
		t.Error("another key is limited too")
	}
	c.advance(200*time.Second - time.Nanosecond)
	if d := l.Check(key); d.Allowed || d.RetryAfter != time.Nanosecond {
		t.Fatalf("just before the first leaves: %+v", d)
	}
	c.advance(time.Nanosecond)
	if d := l.Check(key); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("after the first left the window: %+v, want one allowed", d)
	}
	l.Record(key)
	// The second failure (at 10s) leaves at 310s: 10s from now.
	if d := l.Check(key); d.Allowed || d.RetryAfter != 10*time.Second {
		t.Fatalf("sliding: %+v, want 10s", d)
	}
}

func TestLimiter_AllowRecordsOnlyAllowed(t *testing.T) {
	l, c := limiter(t, Config{Limit: 3, Window: time.Minute})
	var got []Decision
	for range 5 {
		got = append(got, l.Allow("code:alice"))
		c.advance(time.Second)
	}
	want := []Decision{
		{Allowed: true, Remaining: 2}, {Allowed: true, Remaining: 1}, {Allowed: true, Remaining: 0},
		{RetryAfter: 57 * time.Second}, {RetryAfter: 56 * time.Second},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	// Denied attempts were not recorded: a minute after the first, one
	// fits again.
	c.advance(55 * time.Second)
	if d := l.Allow("code:alice"); !d.Allowed {
		t.Fatalf("after the window: %+v", d)
	}
}

func TestLimiter_Reset(t *testing.T) {
	l, _ := limiter(t, Config{Limit: 1})
	l.Record("k")
	if l.Check("k").Allowed {
		t.Fatal("limit 1 after one event: allowed")
	}
	l.Reset("k")
	if !l.Check("k").Allowed || l.Len() != 0 {
		t.Fatal("after Reset: still limited")
	}
	l.Reset("never seen")
}

func TestLimiter_ExpiredKeysAreDropped(t *testing.T) {
	l, c := limiter(t, Config{Window: time.Minute})
	for i := range 100 {
		l.Record(fmt.Sprint("old", i))
	}
	c.advance(time.Minute)
	l.Record("new")
	if l.Len() != 1 {
		t.Fatalf("Len = %d after the window passed, want 1", l.Len())
	}
}

func TestLimiter_MaxKeysEvictsLeastRecent(t *testing.T) {
	l, c := limiter(t, Config{Limit: 1, MaxKeys: 3})
	for _, k := range []string{"a", "b", "c"} {
		l.Record(k)
		c.advance(time.Second)
	}
	l.Record("a") // a is now the most recent; b the least
	l.Record("d")
	if l.Len() != 3 {
		t.Fatalf("Len = %d, want the cap 3", l.Len())
	}
	for k, limited := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if got := !l.Check(k).Allowed; got != limited {
			t.Errorf("%s limited = %v, want %v", k, got, limited)
		}
	}
}

func TestLimiter_ConcurrentUse(t *testing.T) {
	l, _ := limiter(t, Config{Limit: 50, MaxKeys: 1000})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for g := range 8 {
		wg.Go(func() {
			for i := range 100 {
				if l.Allow("shared").Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				l.Record(fmt.Sprint(g, i))
			}
		})
	}
	wg.Wait()
	if allowed != 50 {
		t.Errorf("%d allowed of 800 concurrent attempts, want exactly the limit 50", allowed)
	}
	if l.Len() != 801 {
		t.Errorf("Len = %d, want 801 keys", l.Len())
	}
}

func TestKey_Unambiguous(t *testing.T) {
	keys := []string{Key("a", "b"), Key("ab"), Key("a\x00b"), Key("a", "", "b"), Key("a:b"), Key("1:a", "b"), Key()}
	seen := map[string]int{}
	for i, k := range keys {
		if j, ok := seen[k]; ok {
			t.Errorf("keys %d and %d are both %q", j, i, k)
		}
		seen[k] = i
	}
}

func TestConfig(t *testing.T) {
	var c Config
	if err := config.Decode([]byte("limit: 5\nwindow: 1d\n"), &c); err != nil {
		t.Fatal(err)
	}
	c.SetDefaults()
	if diff := cmp.Diff(Config{Limit: 5, Window: 24 * time.Hour, MaxKeys: DefaultMaxKeys}, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	err := Config{Limit: -1, Window: -time.Second, MaxKeys: -1}.Validate()
	for _, key := range []string{"limit: ", "window: ", "max_keys: "} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate() = %v, want a problem at %s", err, key)
		}
	}
}

func BenchmarkLimiter_CheckRecord(b *testing.B) {
	cfg := Config{}
	cfg.SetDefaults()
	l := New(cfg, nil)
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = Key(fmt.Sprintf("198.51.100.%d", i%256), fmt.Sprintf("user%d@example.com", i))
	}
	i := 0
	for b.Loop() {
		k := keys[i%len(keys)]
		l.Check(k)
		l.Record(k)
		i++
	}
}
