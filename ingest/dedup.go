package ingest

import (
	"sync"
	"time"

	"github.com/zeebo/xxh3"
)

// dedupKey is a 128-bit hash of an event_id: fixed-size keys keep ten
// million ids in a few hundred megabytes.
type dedupKey [16]byte

func keyOfID(id string) dedupKey { return xxh3.HashString128(id).Bytes() }

// window remembers the event_ids accepted recently (by age and count), so
// that a batch re-sent after a timeout is answered as duplicates instead
// of appended twice. Ids are reserved before the append and either kept
// (the append succeeded) or released (it failed), so two concurrent
// requests carrying the same event cannot both append it.
type window struct {
	maxAge time.Duration
	maxIDs int

	mu    sync.Mutex
	seen  map[dedupKey]int64 // id -> unix ms when accepted; 0 while reserved
	order []entry            // accepted ids, oldest first (a ring)
	head  int                // index of the oldest entry in order
	n     int                // entries in order
}

type entry struct {
	key dedupKey
	at  int64
}

func newWindow(maxAge time.Duration, maxIDs int) *window {
	return &window{maxAge: maxAge, maxIDs: maxIDs, seen: make(map[dedupKey]int64)}
}

// reserve returns, for each id, whether it is new; new ids are reserved
// until keep or release. An id given twice in ids is new only once.
func (w *window) reserve(ids []string, now time.Time) []bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.expire(now)
	fresh := make([]bool, len(ids))
	for i, id := range ids {
		k := keyOfID(id)
		if _, dup := w.seen[k]; dup {
			continue
		}
		w.seen[k] = 0
		fresh[i] = true
	}
	return fresh
}

// keep marks reserved ids accepted at now.
func (w *window) keep(ids []string, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ms := now.UnixMilli()
	for _, id := range ids {
		k := keyOfID(id)
		w.seen[k] = ms
		w.push(entry{k, ms})
	}
}

// release forgets reserved ids whose append failed.
func (w *window) release(ids []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		k := keyOfID(id)
		if w.seen[k] == 0 {
			delete(w.seen, k)
		}
	}
}

// add records an id accepted at a past time (rebuilding from the log).
func (w *window) add(id string, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := keyOfID(id)
	if _, ok := w.seen[k]; ok {
		return
	}
	w.seen[k] = at.UnixMilli()
	w.push(entry{k, at.UnixMilli()})
}

func (w *window) len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.seen)
}

// push appends to the ring, dropping the oldest id when full.
func (w *window) push(e entry) {
	if w.n == w.maxIDs {
		w.drop()
	}
	if w.n == len(w.order) {
		// Grow the ring, unrolling it so that head is 0.
		size := min(max(2*len(w.order), 1024), w.maxIDs)
		grown := make([]entry, size)
		for i := range w.n {
			grown[i] = w.order[(w.head+i)%len(w.order)]
		}
		w.order, w.head = grown, 0
	}
	w.order[(w.head+w.n)%len(w.order)] = e
	w.n++
}

func (w *window) drop() {
	old := w.order[w.head]
	if at, ok := w.seen[old.key]; ok && at == old.at {
		delete(w.seen, old.key)
	}
	w.head = (w.head + 1) % len(w.order)
	w.n--
}

// expire drops ids older than maxAge.
func (w *window) expire(now time.Time) {
	limit := now.Add(-w.maxAge).UnixMilli()
	for w.n > 0 && w.order[w.head].at < limit {
		w.drop()
	}
}
