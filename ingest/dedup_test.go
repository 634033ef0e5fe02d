package ingest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestWindow_ReserveKeepRelease(t *testing.T) {
	w := newWindow(time.Hour, 100)
	now := time.Now()
	if got := w.reserve([]string{"a", "b", "a"}, now); !cmp.Equal(got, []bool{true, true, false}) {
		t.Errorf("reserve = %v; an id repeated in a batch is new once", got)
	}
	// Reserved ids are taken while the first append runs.
	if got := w.reserve([]string{"a", "c"}, now); !cmp.Equal(got, []bool{false, true}) {
		t.Errorf("reserve while pending = %v", got)
	}
	w.keep([]string{"a", "b"}, now)
	w.release([]string{"c"})
	if got := w.reserve([]string{"a", "b", "c"}, now); !cmp.Equal(got, []bool{false, false, true}) {
		t.Errorf("after keep/release = %v", got)
	}
}

func TestWindow_ExpiresByAge(t *testing.T) {
	w := newWindow(time.Hour, 100)
	t0 := time.Now()
	w.reserve([]string{"old"}, t0)
	w.keep([]string{"old"}, t0)
	if got := w.reserve([]string{"old"}, t0.Add(59*time.Minute)); got[0] {
		t.Error("forgotten within the window")
	}
	if got := w.reserve([]string{"old"}, t0.Add(61*time.Minute)); !got[0] {
		t.Error("remembered past the window")
	}
}

func TestWindow_BoundedByCount(t *testing.T) {
	w := newWindow(time.Hour, 1000)
	now := time.Now()
	for i := range 5000 {
		id := fmt.Sprint(i)
		w.reserve([]string{id}, now)
		w.keep([]string{id}, now)
	}
	if n := w.len(); n != 1000 {
		t.Errorf("%d ids kept, want 1000", n)
	}
	if got := w.reserve([]string{"4999", "0"}, now); !cmp.Equal(got, []bool{false, true}) {
		t.Errorf("newest remembered, oldest forgotten: %v", got)
	}
}

func TestWindow_Add(t *testing.T) {
	w := newWindow(time.Hour, 10)
	now := time.Now()
	w.add("x", now.Add(-30*time.Minute))
	w.add("x", now.Add(-30*time.Minute))
	if w.len() != 1 {
		t.Errorf("len %d", w.len())
	}
	if got := w.reserve([]string{"x"}, now); got[0] {
		t.Error("rebuilt id not seen")
	}
}
