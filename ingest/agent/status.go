package agent

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/dustin/go-humanize"
)

// StatusLine is a terminal writer that keeps one status line under what
// is written through it: each Write erases the line, writes, and draws
// it again. Use it as the log's writer, and Set the line.
type StatusLine struct {
	mu   sync.Mutex
	w    io.Writer
	line string
}

// NewStatusLine returns a StatusLine writing to w, a terminal.
func NewStatusLine(w io.Writer) *StatusLine {
	return &StatusLine{w: w}
}

const eraseLine = "\r\x1b[K"

// Write writes p above the status line.
func (s *StatusLine) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.line != "" {
		io.WriteString(s.w, eraseLine)
	}
	n, err := s.w.Write(p)
	if s.line != "" {
		io.WriteString(s.w, s.line)
	}
	return n, err
}

// Set replaces the status line; "" removes it.
func (s *StatusLine) Set(line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if line == s.line {
		return
	}
	io.WriteString(s.w, eraseLine+line)
	s.line = line
}

// progress shows progress until done is closed: a live status line every
// quarter second when Config.Status is set, and a log line every
// Config.ProgressEvery while there is something to tell.
func (a *Agent) progress(ctx context.Context, done <-chan struct{}) {
	every := a.cfg.ProgressEvery
	if a.cfg.Status != nil {
		every = 250 * time.Millisecond
		defer a.cfg.Status.Set("")
	}
	if every <= 0 {
		select {
		case <-ctx.Done():
		case <-done:
		}
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	last, lastAt := a.Stats(), time.Now()
	var rate float64
	for {
		select {
		case <-ctx.Done():
			return
		case <-done:
			return
		case now := <-t.C:
			st := a.Stats()
			inst := float64(st.Uploaded-last.Uploaded) / now.Sub(lastAt).Seconds()
			until, reason := a.up.Waiting()
			if a.cfg.Status != nil {
				rate = 0.7*rate + 0.3*inst
				a.cfg.Status.Set(statusText(st, rate, until, reason, now))
			} else if st != last || !until.IsZero() {
				args := []any{"spooled", st.Spooled, "uploaded", st.Uploaded, "events_per_s", int64(inst + 0.5), "pending", st.Pending}
				if !until.IsZero() {
					args = append(args, "retry_in", until.Sub(now).Round(time.Second), "error", reason)
				}
				a.log.Info("progress", args...)
			}
			last, lastAt = st, now
		}
	}
}

// statusText is the live status line.
func statusText(st Stats, rate float64, until time.Time, reason string, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "uploaded %s (%s/s), %s in spool",
		humanize.Comma(st.Uploaded), humanize.Comma(int64(rate+0.5)), humanize.Comma(int64(st.Pending)))
	if st.Rejected > 0 {
		fmt.Fprintf(&b, ", %s rejected", humanize.Comma(st.Rejected))
	}
	if !until.IsZero() {
		if len(reason) > 60 {
			reason = reason[:57] + "..."
		}
		fmt.Fprintf(&b, "; retry in %s: %s", max(until.Sub(now), 0).Round(time.Second), reason)
	}
	return b.String()
}

// Summary is the one-line account of a run.
func (s Stats) Summary() string {
	return fmt.Sprintf("uploaded %d events in %d batches: %d accepted, %d duplicates, %d rejected",
		s.Uploaded, s.Batches, s.Accepted, s.Duplicates, s.Rejected)
}
