// Package ratelimit limits events per key in a sliding window: at most
// Limit events in any Window, per key.
//
// The accounts work uses it for sign-in and for 2FA codes: one Limiter
// keyed by Key(ip, email) and one keyed by Key(ip) (the content.signin
// section's limits, 10 per 5 minutes by default), and one keyed by the
// user for code attempts. Before checking a password, ask Check of both
// keys; a denied one is answered 429 TOO_MANY_REQUESTS with its
// RetryAfter (contentapi.TooManyRequests) and audited as a
// user.password.error with rate_limited true. After a failed attempt,
// Record both keys; after a success, Reset the (ip, email) key. Allow
// checks and records at once, for limits that count every attempt.
//
// A Limiter holds at most MaxKeys keys (a key forgets its events once
// they are older than Window, and when a new key finds the Limiter full
// the least recently used key is dropped), and at most Limit times per
// key, so its memory is bounded. It starts no goroutine: expired keys
// are dropped as new ones come. Keys are kept as keyed 64-bit hashes,
// so a long key costs no memory.
package ratelimit

import (
	"container/list"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vigilaudit/vigil/internal/config"
)

// Defaults of Config.
const (
	DefaultLimit   = 10
	DefaultWindow  = 5 * time.Minute
	DefaultMaxKeys = 100_000
)

// Config is one limit.
type Config struct {
	// Limit is the most events per key in any Window (default 10).
	Limit int `yaml:"limit"`
	// Window is the sliding window (default 5m).
	Window time.Duration `yaml:"window"`
	// MaxKeys bounds the keys remembered (default 100000).
	MaxKeys int `yaml:"max_keys"`
}

// SetDefaults fills in the zero values.
func (c *Config) SetDefaults() {
	if c.Limit == 0 {
		c.Limit = DefaultLimit
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxKeys == 0 {
		c.MaxKeys = DefaultMaxKeys
	}
}

// Validate checks a configuration after SetDefaults.
func (c Config) Validate() error {
	var p config.Problems
	if c.Limit < 1 || c.Limit > 10_000 {
		p.Add("limit", "%d is out of range (1 to 10000)", c.Limit)
	}
	if c.Window <= 0 {
		p.Add("window", "must be positive")
	}
	if c.MaxKeys < 1 {
		p.Add("max_keys", "must be at least 1")
	}
	return p.Err()
}

// Key joins the parts of a key unambiguously: Key("a", "b") is not
// Key("a\x00b") nor Key("a", "", "b").
func Key(parts ...string) string {
	var b strings.Builder
	for _, s := range parts {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}

// Decision is a Limiter's answer.
type Decision struct {
	// Allowed says whether another event fits in the window.
	Allowed bool
	// RetryAfter, when not Allowed, is how long until one does.
	RetryAfter time.Duration
	// Remaining is how many more events fit now.
	Remaining int
}

// Limiter counts events per key. It is safe for concurrent use.
type Limiter struct {
	limit   int
	window  time.Duration
	maxKeys int
	now     func() time.Time
	seed    maphash.Seed

	mu   sync.Mutex
	keys map[uint64]*list.Element
	// lru holds *entry, most recently recorded first.
	lru list.List
}

// entry is one key's events: a ring of at most limit times.
type entry struct {
	key   uint64
	times []time.Time // oldest first once full: times[next] is the oldest
	next  int
	// newest is the time of the last event.
	newest time.Time
}

// New returns a Limiter of cfg (defaults set, valid); now is the clock,
// nil for time.Now.
func New(cfg Config, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{limit: cfg.Limit, window: cfg.Window, maxKeys: cfg.MaxKeys, now: now,
		seed: maphash.MakeSeed(), keys: map[uint64]*list.Element{}}
}

// Check says whether key may have another event now, without recording
// one.
func (l *Limiter) Check(key string) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.decide(l.hash(key), l.now())
}

// Record records an event of key now, whatever Check would say.
func (l *Limiter) Record(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.record(l.hash(key), l.now())
}

// Allow checks, and when the event is allowed records it: for a limit
// on every attempt.
func (l *Limiter) Allow(key string) Decision {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, now := l.hash(key), l.now()
	d := l.decide(h, now)
	if d.Allowed {
		l.record(h, now)
		d.Remaining--
	}
	return d
}

// Reset forgets key's events.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, ok := l.keys[l.hash(key)]; ok {
		l.drop(el)
	}
}

// Len is the number of keys remembered.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.keys)
}

func (l *Limiter) hash(key string) uint64 { return maphash.String(l.seed, key) }

// decide counts h's events in (now-window, now].
func (l *Limiter) decide(h uint64, now time.Time) Decision {
	el, ok := l.keys[h]
	if !ok {
		return Decision{Allowed: true, Remaining: l.limit}
	}
	e := el.Value.(*entry)
	start := now.Add(-l.window)
	n := 0
	oldest := time.Time{}
	for _, t := range e.times {
		if t.After(start) {
			n++
			if oldest.IsZero() || t.Before(oldest) {
				oldest = t
			}
		}
	}
	if n < l.limit {
		return Decision{Allowed: true, Remaining: l.limit - n}
	}
	// n == limit: all of the ring is in the window; the oldest leaves it
	// at oldest+window.
	return Decision{RetryAfter: oldest.Add(l.window).Sub(now)}
}

func (l *Limiter) record(h uint64, now time.Time) {
	l.expire(now)
	el, ok := l.keys[h]
	if !ok {
		if len(l.keys) >= l.maxKeys {
			l.drop(l.lru.Back())
		}
		el = l.lru.PushFront(&entry{key: h, times: make([]time.Time, 0, min(l.limit, 16))})
		l.keys[h] = el
	}
	e := el.Value.(*entry)
	if len(e.times) < l.limit {
		e.times = append(e.times, now)
	} else {
		e.times[e.next] = now
		e.next = (e.next + 1) % l.limit
	}
	e.newest = now
	l.lru.MoveToFront(el)
}

// expire drops, from the least recently recorded end, keys whose events
// have all left the window: amortized O(1) per record.
func (l *Limiter) expire(now time.Time) {
	start := now.Add(-l.window)
	for el := l.lru.Back(); el != nil; el = l.lru.Back() {
		if el.Value.(*entry).newest.After(start) {
			return
		}
		l.drop(el)
	}
}

func (l *Limiter) drop(el *list.Element) {
	delete(l.keys, el.Value.(*entry).key)
	l.lru.Remove(el)
}
