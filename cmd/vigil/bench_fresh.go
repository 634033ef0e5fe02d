package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/config"
	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/schema"
)

func newBenchFreshCmd(a *app) *cobra.Command {
	var rate, batch int
	var duration time.Duration
	var clickhouse, database string
	cmd := &cobra.Command{
		Use:   "fresh",
		Short: "Measure how soon an accepted event is queryable",
		Long: `Run the write path (embedded event log, the store consumer group, and
DuckDB in a temporary directory, or ClickHouse with --clickhouse) and
ingest --rate events a second, in batches of --batch, for --duration.
Each batch carries its own user; a poller searches for it and records
the time from the batch's acceptance (its durable append, when ingest
answers 202) to the moment a search finds it. Reports p50, p95, p99 and
the maximum.`,
		Example: "  vigil bench fresh --rate 5000 --duration 30s",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rate < 1 || batch < 1 || batch > rate || duration <= 0 {
				return errors.New("--rate and --batch must be positive, --batch at most --rate, --duration positive")
			}
			cfg := Config{Listen: "127.0.0.1:0"}
			if clickhouse != "" {
				cfg.Store.ClickHouse = &chstore.Config{Addr: []string{clickhouse}, Database: database}
			}
			return benchFresh(cmd.Context(), a, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr(), rate, batch, duration)
		},
	}
	f := cmd.Flags()
	f.IntVar(&rate, "rate", 5000, "`events` per second to ingest")
	f.IntVar(&batch, "batch", 100, "`events` per accepted batch")
	f.DurationVar(&duration, "duration", 20*time.Second, "how long to ingest")
	f.StringVar(&clickhouse, "clickhouse", "", "ClickHouse native-protocol `address` (host:9000) instead of DuckDB")
	f.StringVar(&database, "database", "vigil_bench_fresh", "ClickHouse `database` (dropped data is not cleaned up)")
	return cmd
}

type freshBatch struct {
	user     string
	accepted time.Time
}

func benchFresh(ctx context.Context, a *app, cfg Config, stdout, stderr io.Writer, rate, batch int, duration time.Duration) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg.DataDir = dir
	cfg.setDefaults()
	p, err := openPipeline(ctx, cfg, prometheus.NewRegistry(), a.log())
	if err != nil {
		return err
	}
	defer p.close()

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, run := range p.runners {
		wg.Go(func() { _ = run(runCtx) })
	}
	defer wg.Wait()
	defer cancel()

	pending := make(chan freshBatch, 1<<16)
	var delays []time.Duration
	var found atomic.Int64
	pollErr := make(chan error, 1)
	go func() { pollErr <- pollFresh(runCtx, p.store, pending, batch, &delays, &found) }()

	stop := progress(stderr, "queryable:", &found, int64(duration.Seconds()*float64(rate)))
	interval := time.Duration(float64(time.Second) * float64(batch) / float64(rate))
	tick := time.NewTicker(interval)
	end := time.Now().Add(duration)
	sent := 0
	for n := 0; time.Now().Before(end); n++ {
		user := fmt.Sprintf("fresh-%06d@example.com", n)
		events := make([][]byte, batch)
		for i := range events {
			events[i] = fmt.Appendf(nil, `{"topic":"USER","event":"user.signin","timestamp":%d,"user":%q,"authority":"LDAP","attempt":%d}`,
				time.Now().UnixMilli(), user, i)
		}
		if _, err := p.ingester.Ingest(ctx, schema.Submitter{}, events); err != nil {
			stop()
			return err
		}
		pending <- freshBatch{user: user, accepted: time.Now()}
		sent++
		select {
		case <-tick.C:
		case <-ctx.Done():
			stop()
			return ctx.Err()
		}
	}
	tick.Stop()
	close(pending)
	err = <-pollErr
	stop()
	if err != nil {
		return err
	}
	slices.Sort(delays)
	q := func(p float64) time.Duration {
		return delays[min(len(delays)-1, int(p*float64(len(delays))))].Round(time.Millisecond)
	}
	_, err = fmt.Fprintf(stdout, "fresh (%s, %d events/s in batches of %d, %v): %d batches; accepted to queryable p50 %v, p95 %v, p99 %v, max %v\n",
		config.Kind(cfg.Store), rate, batch, duration, sent, q(0.50), q(0.95), q(0.99), delays[len(delays)-1].Round(time.Millisecond))
	return err
}

// pollFresh searches, in order, for each accepted batch's user until it
// is found, and records how long after acceptance that was.
func pollFresh(ctx context.Context, r query.Reader, pending <-chan freshBatch, batch int, delays *[]time.Duration, found *atomic.Int64) error {
	for b := range pending {
		for {
			res, err := r.Search(ctx, query.Page{Filter: query.Filter{User: b.user, Events: []string{"user.signin"}, Topics: []schema.Topic{"USER"}}, Limit: 1})
			if err != nil {
				return fmt.Errorf("search: %w", err)
			}
			if len(res.Events) > 0 {
				*delays = append(*delays, time.Since(b.accepted))
				found.Add(int64(batch))
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	if len(*delays) == 0 {
		return errors.New("no batch was found")
	}
	return nil
}
