package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/chstore"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/schema"
	"github.com/vigilaudit/vigil/schema/sample"
)

// The generated data set: benchUsers users over benchSpan from benchStart.
const (
	benchUsers   = 5000
	benchSpan    = 30 * 24 * time.Hour
	benchQueries = 20 // runs of each query
)

var benchStart = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func newBenchStoreCmd() *cobra.Command {
	var (
		kind   string
		events int
		batch  int
		addr   string
	)
	cmd := &cobra.Command{
		Use:   "store",
		Short: "Measure a query store: inserts, queries and (ClickHouse) bytes per event",
		Long: `Generate --events realistic events (5000 users over 30 days), write them
to a fresh store in batches of --batch through the store's Write, then run
each dashboard and search query 20 times.

Reports insert events/s (generation not included), p50 and p95 per query,
and for ClickHouse the compressed bytes per event of every column of the
events table after OPTIMIZE FINAL. DuckDB runs in a temporary directory,
ClickHouse in a temporary database; both are removed at the end.`,
		Example: "  vigil bench store --store duckdb --events 1000000\n" +
			"  vigil bench store --store clickhouse --clickhouse 127.0.0.1:9000 --events 2000000",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || events < batch {
				return errors.New("--batch must be positive and --events at least --batch")
			}
			switch kind {
			case "duckdb", "clickhouse":
			default:
				return fmt.Errorf("--store: %q is not duckdb or clickhouse", kind)
			}
			if kind == "clickhouse" && addr == "" {
				return errors.New("--clickhouse: the server's address is required with --store clickhouse")
			}
			return benchStore(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), kind, addr, events, batch)
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "store", "duckdb", "the `store` to measure: duckdb or clickhouse")
	f.IntVar(&events, "events", 1_000_000, "how many `events` to write")
	f.IntVar(&batch, "batch", 10_000, "`events` per Write")
	f.StringVar(&addr, "clickhouse", "", "ClickHouse native-protocol `address` (host:9000)")
	return cmd
}

// benchedStore is a store under measurement and how to dispose of it.
type benchedStore struct {
	query.Store
	ch      *chstore.Store // nil for DuckDB
	cleanup func() error
}

func openBenchStore(ctx context.Context, kind, addr string) (*benchedStore, error) {
	if kind == "clickhouse" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		s, err := chstore.Open(ctx, chstore.Config{Addr: []string{addr}, Database: "vigil_bench_" + hex.EncodeToString(b[:])})
		if err != nil {
			return nil, err
		}
		return &benchedStore{Store: s, ch: s, cleanup: func() error {
			return errors.Join(s.DropDatabase(context.Background()), s.Close())
		}}, nil
	}
	dir, err := os.MkdirTemp("", "vigil-bench-store-")
	if err != nil {
		return nil, fmt.Errorf("create temp dir: %w", err)
	}
	s, err := duckstore.Open(filepath.Join(dir, "events.duckdb"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	return &benchedStore{Store: s, cleanup: func() error {
		return errors.Join(s.Close(), os.RemoveAll(dir))
	}}, nil
}

func benchStore(ctx context.Context, stdout, stderr io.Writer, kind, addr string, events, batch int) (err error) {
	s, err := openBenchStore(ctx, kind, addr)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := s.cleanup(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	// Other processes share the cores: say how busy the machine was.
	if l := loadAverage(); l != "" {
		fmt.Fprintf(stdout, "load average before: %s\n", l)
		defer func() {
			if l := loadAverage(); l != "" {
				fmt.Fprintf(stdout, "load average after: %s\n", l)
			}
		}()
	}

	// Batch i holds the events of the i-th slice of the span, generated
	// before the clock runs for its Write: only Write is timed.
	batches := (events + batch - 1) / batch
	slice := benchSpan / time.Duration(batches)
	var done atomic.Int64
	var writing time.Duration
	stop := progress(stderr, "stored", &done, int64(events))
	for i := range batches {
		n := min(batch, events-i*batch)
		evs, err := sample.Generate(uint64(i+1), n, benchUsers, benchStart.Add(time.Duration(i)*slice), slice)
		if err != nil {
			stop()
			return err
		}
		t := time.Now()
		if err := s.Write(ctx, evs); err != nil {
			stop()
			return err
		}
		writing += time.Since(t)
		done.Add(int64(n))
	}
	stop()
	if _, err := fmt.Fprintf(stdout, "store %s: wrote %d events in batches of %d on %d cores in %v: %.0f events/s\n",
		kind, events, batch, runtime.NumCPU(), writing.Round(time.Millisecond), float64(events)/writing.Seconds()); err != nil {
		return err
	}

	fmt.Fprintf(stderr, "querying, %d runs each\n", benchQueries)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "query\tresults\tp50\tp95\t")
	for _, q := range benchStoreQueries() {
		times := make([]time.Duration, benchQueries)
		var results int
		for i := range times {
			t := time.Now()
			if results, err = q.run(ctx, s); err != nil {
				return fmt.Errorf("query %s: %w", q.name, err)
			}
			times[i] = time.Since(t)
		}
		slices.Sort(times)
		fmt.Fprintf(tw, "%s\t%d\t%v\t%v\t\n", q.name, results, percentile(times, 0.50), percentile(times, 0.95))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if s.ch != nil {
		return reportColumnSizes(ctx, stdout, stderr, s.ch)
	}
	return nil
}

// benchQuery is one dashboard or search query; run returns how many
// events (or ranked values) it answered.
type benchQuery struct {
	name string
	run  func(ctx context.Context, s query.Store) (int, error)
}

func benchStoreQueries() []benchQuery {
	mid := benchStart.Add(benchSpan / 2).Truncate(time.Hour)
	const user = "user42@corp.example.com"
	search := func(name string, p query.Page) benchQuery {
		return benchQuery{name, func(ctx context.Context, s query.Store) (int, error) {
			res, err := s.Search(ctx, p)
			return len(res.Events), err
		}}
	}
	stats := func(name string, r query.StatsRequest) benchQuery {
		return benchQuery{name, func(ctx context.Context, s query.Store) (int, error) {
			st, err := s.Stats(ctx, r)
			return len(st.Buckets) + len(st.Top), err
		}}
	}
	return []benchQuery{
		search("newest 100", query.Page{Limit: 100}),
		search("user newest 100", query.Page{Filter: query.Filter{User: user}, Limit: 100}),
		search("user over a day", query.Page{Filter: query.Filter{User: user, Since: mid, Until: mid.Add(24 * time.Hour)}, Limit: 100}),
		search("path prefix", query.Page{Filter: query.Filter{Path: "Projects/p7/"}, Limit: 100}),
		search("event in an hour", query.Page{Filter: query.Filter{Events: []string{"link.download"}, Since: mid, Until: mid.Add(time.Hour)}, Limit: 100}),
		stats("stats topic hourly + top users", query.StatsRequest{Filter: query.Filter{Topics: []schema.Topic{schema.TopicFile}}, Bucket: time.Hour, By: "user"}),
		stats("stats top events, all time", query.StatsRequest{By: "event"}),
	}
}

// loadAverage returns the system's 1, 5 and 15 minute load averages, or
// "" where the system does not tell.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// percentile returns the nearest-rank q-quantile of sorted durations.
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)].Round(10 * time.Microsecond)
}

func reportColumnSizes(ctx context.Context, stdout, stderr io.Writer, s *chstore.Store) error {
	fmt.Fprintln(stderr, "merging the events table (OPTIMIZE FINAL)")
	rows, cols, err := s.Sizes(ctx)
	if err != nil {
		return err
	}
	if rows == 0 {
		return errors.New("events table is empty")
	}
	slices.SortStableFunc(cols, func(a, b chstore.ColumnSize) int { return cmp.Compare(b.Compressed, a.Compressed) })
	fmt.Fprintf(stdout, "events table: %d rows, compressed bytes per event (system.columns):\n", rows)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "column\ttype\tbytes/event\tuncompressed\t")
	var total, raw uint64
	for _, c := range cols {
		total += c.Compressed
		raw += c.Uncompressed
		fmt.Fprintf(tw, "%s\t%s\t%.2f\t%.2f\t\n", c.Name, c.Type, float64(c.Compressed)/float64(rows), float64(c.Uncompressed)/float64(rows))
	}
	fmt.Fprintf(tw, "total\t\t%.2f\t%.2f\t\n", float64(total)/float64(rows), float64(raw)/float64(rows))
	if err := tw.Flush(); err != nil {
		return err
	}
	tables, err := s.TableSizes(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "every table, compressed bytes per event (system.parts):\n")
	tw = tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\tbytes/event\tuncompressed\t")
	total, raw = 0, 0
	for _, t := range tables {
		total += t.Compressed
		raw += t.Uncompressed
		fmt.Fprintf(tw, "%s\t%d\t%.2f\t%.2f\t\n", t.Name, t.Rows, float64(t.Compressed)/float64(rows), float64(t.Uncompressed)/float64(rows))
	}
	fmt.Fprintf(tw, "total\t\t%.2f\t%.2f\t\n", float64(total)/float64(rows), float64(raw)/float64(rows))
	return tw.Flush()
}
