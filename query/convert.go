package query

import (
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/vigilaudit/vigil/schema"
)

// convertChunk is how many events one goroutine of Convert takes at a
// time.
const convertChunk = 1000

// Convert applies fn to every event, on up to one goroutine per core, and
// returns the results in the events' order: stores take a batch apart
// into rows this way while their database is idle.
func Convert[T any](events []*schema.Event, fn func(*schema.Event) (T, error)) ([]T, error) {
	out := make([]T, len(events))
	workers := min(runtime.GOMAXPROCS(0), (len(events)+convertChunk-1)/convertChunk)
	errs := make([]error, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for {
				lo := int(next.Add(convertChunk)) - convertChunk
				if lo >= len(events) {
					return
				}
				for i := lo; i < min(lo+convertChunk, len(events)); i++ {
					v, err := fn(events[i])
					if err != nil {
						errs[w] = err
						return
					}
					out[i] = v
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
