package query

import "time"

// Window is the time range a search reads first. Databases read (and
// sort) every match of a query before its LIMIT, so the newest events of
// a big table come much faster from a window at the end where the order
// starts, widened until it holds a page. A window bounds only that far
// end, so that it holds every match from the start of the order to it,
// whatever arrived since the store looked at its bounds.
//
// The zero Window bounds nothing: the search reads every match at once.
type Window struct {
	order    Order
	from, to int64 // where the search can find events: [from, to), in ms
	width    int64 // 0 bounds nothing
}

// firstWindow is the width of a search's first window, in ms.
const firstWindow = int64(time.Hour / time.Millisecond)

// NewWindow returns the first window of a search of f in order o, after
// a cursor (nil at the start), over a table whose events lie in [lo, hi)
// (epoch ms, as a store's rollup tells them cheaply). hi <= lo, unknown
// bounds, gives the zero Window.
func NewWindow(lo, hi int64, f Filter, o Order, after *Cursor) Window {
	if hi <= lo {
		return Window{}
	}
	if !f.Since.IsZero() {
		lo = max(lo, f.Since.UnixMilli())
	}
	if !f.Until.IsZero() {
		hi = min(hi, f.Until.UnixMilli())
	}
	if after != nil {
		if o == Asc {
			lo = max(lo, after.Time)
		} else {
			hi = min(hi, after.Time+1)
		}
	}
	return Window{order: o, from: lo, to: hi, width: firstWindow}
}

// Bound returns the window's condition on time, to add to the search's
// filter: an Until in ascending order, a Since in descending order. It
// reports false when the window holds the whole range the search can
// find events in, which it then reads unbounded.
func (w Window) Bound() (Filter, bool) {
	if w.width == 0 || w.width >= w.to-w.from {
		return Filter{}, false
	}
	if w.order == Asc {
		return Filter{Until: time.UnixMilli(w.from + w.width)}, true
	}
	return Filter{Since: time.UnixMilli(w.to - w.width)}, true
}

// Widen is told that a read of the window, with a LIMIT of limit+1, found
// n matches. It reports whether they are too few for a page because of
// the window, and widens it then for the next read: wide enough for the
// page at the rate seen, with room to spare, and at least twice as wide.
func (w *Window) Widen(n, limit int) bool {
	if _, ok := w.Bound(); !ok || n > limit {
		return false
	}
	if n == 0 {
		w.width *= 16
	} else {
		w.width *= min(max(int64(2*(limit+1)/n)+1, 2), 64)
	}
	return true
}
