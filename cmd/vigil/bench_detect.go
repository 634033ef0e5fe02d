package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/schema"
)

func newBenchDetectCmd(a *app) *cobra.Command {
	var rate, batch int
	var duration time.Duration
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Measure how soon an accepted event raises its alert",
		Long: `Run the write path (embedded event log in a temporary directory, the
store, and the detect consumer group with the built-in rules and one
rule that fires once per batch) and ingest --rate events a second, in
batches of --batch, for --duration; --rate 0 ingests as fast as ingest
accepts. Each batch is file transfers and one sign-in of its own user;
the time from the batch's acceptance (its durable append) to its alert's
durable append is the detection lag. Reports p50, p95, p99 and the
maximum, the rate accepted, and the rate the engine kept: whether it
keeps up is whether the lag of the last batches stays near the first's.`,
		Example: "  vigil bench detect --rate 0 --duration 20s\n  vigil bench detect --rate 20000 --duration 20s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rate < 0 || batch < 2 || (rate > 0 && batch > rate) || duration <= 0 {
				return errors.New("--rate must not be negative, --batch at least 2 and at most --rate, --duration positive")
			}
			return benchDetect(cmd.Context(), a, cmd.OutOrStdout(), cmd.ErrOrStderr(), rate, batch, duration)
		},
	}
	f := cmd.Flags()
	f.IntVar(&rate, "rate", 0, "`events` per second to ingest (0: as fast as accepted)")
	f.IntVar(&batch, "batch", 100, "`events` per accepted batch")
	f.DurationVar(&duration, "duration", 20*time.Second, "how long to ingest")
	return cmd
}

// benchLagRule fires once for each batch's sign-in user.
var benchLagRule = detect.Rule{Name: "bench-lag", Severity: detect.Low, Match: `event == "user.signin" && authority == "LDAP"`,
	GroupBy: []string{"user"}, Window: config.Duration(time.Hour), Threshold: &detect.Threshold{Count: 0}}

// lagEmitter emits alerts through the ingester and notes when each
// bench-lag alert's append returned.
type lagEmitter struct {
	next  detect.Emitter
	mu    sync.Mutex
	at    map[string]time.Time // user -> alert durable
	count atomic.Int64
}

func (l *lagEmitter) Emit(ctx context.Context, events ...*schema.Event) error {
	if err := l.next.Emit(ctx, events...); err != nil {
		return err
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range events {
		if rule, _ := e.String("rule"); rule == benchLagRule.Name {
			group, _ := e.String("group")
			l.at[group] = now
			l.count.Add(1)
		}
	}
	return nil
}

type detectBatch struct {
	user     string
	accepted time.Time
}

func benchDetect(ctx context.Context, a *app, stdout, stderr io.Writer, rate, batch int, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir}
	cfg.Detect.Disabled = true // the bench runs its own detector
	cfg.setDefaults()
	p, err := openPipeline(ctx, cfg, prometheus.NewRegistry(), a.log())
	if err != nil {
		return err
	}
	defer p.close()
	dcfg := detect.Config{Rules: []detect.Rule{benchLagRule}}
	em := &lagEmitter{next: p.ingester, at: map[string]time.Time{}}
	d, err := detect.NewDetector(p.log, dcfg, filepath.Join(dir, detectDirName), em, a.log(), nil, nil)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, run := range append(slices.Clone(p.runners), d.Run) {
		wg.Go(func() { _ = run(runCtx) })
	}
	defer wg.Wait()
	defer cancel()

	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(batch) / float64(rate))
	}
	sub := schema.Submitter{UserID: "bench@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}
	var batches []detectBatch
	var accepted atomic.Int64
	stop := progress(stderr, "accepted", &accepted, 0)
	start := time.Now()
	end := start.Add(duration)
	next := start
	seq := int64(0)
	for n := 0; time.Now().Before(end); n++ {
		user := fmt.Sprintf("lag-%07d@example.com", n)
		now := time.Now().UnixMilli()
		events := make([][]byte, batch)
		for i := range batch - 1 {
			seq++
			events[i] = fmt.Appendf(nil, `{"topic":"FILE","event":"file.transfer","timestamp":%d,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"%032x"},"event_time":"2026-01-01T00:00:00.000Z","operations":["CONTENT_REQUEST","CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","relative_path":"f.pdf"},"destination_device":"b88a707bd70586f7a9f2dfc8fee2def5","destination_user":"user-%d@example.com","bytes":1000}`,
				now, seq, seq%1000)
		}
		events[batch-1] = fmt.Appendf(nil, `{"topic":"USER","event":"user.signin","timestamp":%d,"user":%q,"authority":"LDAP","ip":"192.0.2.%d"}`, now, user, n%250)
		if _, err := p.ingester.Ingest(ctx, sub, events); err != nil {
			stop()
			return err
		}
		batches = append(batches, detectBatch{user: user, accepted: time.Now()})
		accepted.Add(int64(batch))
		if interval > 0 {
			next = next.Add(interval)
			select {
			case <-time.After(time.Until(next)):
			case <-ctx.Done():
				stop()
				return ctx.Err()
			}
		}
	}
	ingestEnd := time.Now()
	stop()
	// Wait for the last batch's alert, or give up after a while.
	deadline := time.Now().Add(2*duration + 30*time.Second)
	for em.count.Load() < int64(len(batches)) && time.Now().Before(deadline) {
		select {
		case <-time.After(10 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	em.mu.Lock()
	defer em.mu.Unlock()
	var lags, tail []time.Duration
	var last time.Time
	for i, b := range batches {
		at, ok := em.at[b.user]
		if !ok {
			return fmt.Errorf("batch %d raised no alert", i)
		}
		lag := max(0, at.Sub(b.accepted))
		lags = append(lags, lag)
		if i >= len(batches)*9/10 {
			tail = append(tail, lag)
		}
		last = maxTime(last, at)
	}
	slices.Sort(lags)
	slices.Sort(tail)
	q := func(d []time.Duration, p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(time.Millisecond)
	}
	events := float64(len(batches) * batch)
	acceptedRate := events / ingestEnd.Sub(start).Seconds()
	keptRate := events / last.Sub(start).Seconds()
	mode := fmt.Sprintf("%d events/s", rate)
	if rate == 0 {
		mode = "as fast as accepted"
	}
	_, err = fmt.Fprintf(stdout, "detect (%s, batches of %d, %v, %d rules): %d batches; accepted %.0f events/s, detected through %.0f events/s; "+
		"accepted to alert durable p50 %v, p95 %v, p99 %v, max %v; last tenth p99 %v\n",
		mode, batch, duration, d.Rules(), len(batches), acceptedRate, keptRate, q(lags, 0.50), q(lags, 0.95), q(lags, 0.99), lags[len(lags)-1].Round(time.Millisecond), q(tail, 0.99))
	return err
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
