package main

import (
	"io"
	"os"
	"sync/atomic"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// exportProgress shows how many rows an export wrote and how fast: a
// live bar when w is a terminal, else a line a second (for logs). stop
// ends it with the final count.
func exportProgress(w io.Writer, rows *atomic.Int64) (stop func()) {
	f, ok := w.(*os.File)
	if !ok || !isatty.IsTerminal(f.Fd()) {
		return progress(w, "exported", rows, 0)
	}
	p := mpb.New(mpb.WithOutput(w), mpb.WithRefreshRate(200*time.Millisecond))
	bar := p.New(0, mpb.SpinnerStyle(),
		mpb.PrependDecorators(decor.Name("exported "), decor.CurrentNoUnit("%d events")),
		mpb.AppendDecorators(decor.AverageSpeed(nil, " %.0f events/s"), decor.Name(" "), decor.Elapsed(decor.ET_STYLE_GO)),
	)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				bar.SetCurrent(rows.Load())
			}
		}
	}()
	return func() {
		close(quit)
		<-done
		bar.SetCurrent(rows.Load())
		bar.SetTotal(-1, true)
		p.Wait()
	}
}
