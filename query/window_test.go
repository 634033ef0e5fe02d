package query_test

import (
	"testing"
	"time"

	"github.com/vigilaudit/vigil/query"
)

const hourMS = int64(time.Hour / time.Millisecond)

func TestWindow_WidensFromTheStartOfTheOrder(t *testing.T) {
	lo, hi := 100*hourMS, 1000*hourMS
	desc := query.NewWindow(lo, hi, query.Filter{}, query.Desc, nil)
	b, ok := desc.Bound()
	if !ok || b.Since.UnixMilli() != hi-hourMS || !b.Until.IsZero() {
		t.Fatalf("first descending window = %+v, %v; want the last hour", b, ok)
	}
	// No match in the window: sixteen times as wide.
	if !desc.Widen(0, 100) {
		t.Fatal("an empty window was not widened")
	}
	if b, _ := desc.Bound(); b.Since.UnixMilli() != hi-16*hourMS {
		t.Errorf("after no match: since %d h, want %d h", b.Since.UnixMilli()/hourMS, hi/hourMS-16)
	}
	// 10 of a page of 100: wide enough at that rate, twice over (21x).
	desc.Widen(10, 100)
	if b, _ := desc.Bound(); b.Since.UnixMilli() != hi-16*21*hourMS {
		t.Errorf("after 10 matches: since %d h, want %d h", b.Since.UnixMilli()/hourMS, hi/hourMS-16*21)
	}
	// Wider than the range: the search reads it all, and a short page is
	// the last one.
	desc.Widen(10, 100)
	if _, ok := desc.Bound(); ok {
		t.Error("a window wider than the range still bounds the search")
	}
	if desc.Widen(3, 100) {
		t.Error("an unbounded read was widened")
	}

	asc := query.NewWindow(lo, hi, query.Filter{}, query.Asc, nil)
	if b, ok := asc.Bound(); !ok || b.Until.UnixMilli() != lo+hourMS || !b.Since.IsZero() {
		t.Errorf("first ascending window = %+v, %v; want the first hour", b, ok)
	}
	// A full page: no need to widen; at least twice, at most 64 times.
	if asc.Widen(101, 100) {
		t.Error("a window that held a page was widened")
	}
	asc.Widen(100, 100)
	if b, _ := asc.Bound(); b.Until.UnixMilli() != lo+3*hourMS {
		t.Errorf("after 100 matches: until %d h, want %d h", b.Until.UnixMilli()/hourMS, lo/hourMS+3)
	}
	asc = query.NewWindow(lo, hi, query.Filter{}, query.Asc, nil)
	asc.Widen(1, 100)
	if b, _ := asc.Bound(); b.Until.UnixMilli() != lo+64*hourMS {
		t.Errorf("after 1 match: until %d h, want %d h", b.Until.UnixMilli()/hourMS, lo/hourMS+64)
	}
}

func TestWindow_NarrowedByFilterAndCursor(t *testing.T) {
	lo, hi := 100*hourMS, 200*hourMS
	f := query.Filter{Since: time.UnixMilli(120 * hourMS), Until: time.UnixMilli(150 * hourMS)}
	w := query.NewWindow(lo, hi, f, query.Desc, &query.Cursor{Time: 140*hourMS - 1})
	if b, ok := w.Bound(); !ok || b.Since.UnixMilli() != 139*hourMS {
		t.Errorf("descending after a cursor: %+v, %v; want since hour 139", b, ok)
	}
	w = query.NewWindow(lo, hi, f, query.Asc, &query.Cursor{Time: 130 * hourMS})
	if b, ok := w.Bound(); !ok || b.Until.UnixMilli() != 131*hourMS {
		t.Errorf("ascending after a cursor: %+v, %v; want until hour 131", b, ok)
	}
	// Unknown bounds, or a range of less than an hour: no window.
	for _, w := range []query.Window{
		{},
		query.NewWindow(0, 0, query.Filter{}, query.Desc, nil),
		query.NewWindow(lo, lo+hourMS/2, query.Filter{}, query.Desc, nil),
	} {
		if _, ok := w.Bound(); ok {
			t.Errorf("window %+v bounds the search", w)
		}
	}
}
