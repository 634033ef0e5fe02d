package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/schema"
)

func newBenchCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure Vigil's speed on this machine",
		Long: `Measure the speed of Vigil's hot paths on this machine and print the
figures: events per second, and per second of CPU.

  normalize  decode + validate + normalize + encode of a typical
             file.transfer event, on one goroutine per core
  store      insert rate and query latencies of a query store (DuckDB or
             ClickHouse) on generated events
  ingest     HTTP ingest end to end: concurrent clients post batches to a
             server on loopback that appends them durably to an embedded
             event log in a temporary directory
  fresh      how soon an accepted event is found by a search (the store
             consumer group's delay), at a steady ingest rate
  sink       forwarding from an embedded event log through a sink of any
             kind (tcp, tls, syslog, relp, splunkhec) to a loopback
             receiver, beside the raw TCP or TLS throughput
  content    the content API through vigil serve: upload and download
             MB/s beside a plain Go file server, metadata operations per
             second, the latency of an audited change, the server's memory

Progress goes to stderr, the result to stdout. --cpuprofile writes a Go
CPU profile of the run (go tool pprof FILE).`,
		Args: cobra.NoArgs,
	}
	var profile string
	var profFile *os.File
	cmd.PersistentFlags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to `file`")
	cmd.PersistentPreRunE = func(*cobra.Command, []string) error {
		if profile == "" {
			return nil
		}
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		profFile = f
		return pprof.StartCPUProfile(f)
	}
	cmd.PersistentPostRunE = func(*cobra.Command, []string) error {
		if profFile == nil {
			return nil
		}
		pprof.StopCPUProfile()
		return profFile.Close()
	}
	cmd.AddCommand(newBenchNormalizeCmd(), newBenchIngestCmd(a), newBenchStoreCmd(), newBenchSinkCmd(), newBenchFreshCmd(a), newBenchContentCmd(), newBenchDetectCmd(a))
	return cmd
}

// benchTransfer is a desktop client's file.transfer (about 580 bytes).
func benchTransfer(n int64) []byte {
	return fmt.Appendf(nil, `{"topic":"FILE","event":"file.transfer","timestamp":%d,"soid":{"sid":"e4c357190e9d314ca135d6f1f6938d9b","oid":"%032x"},"event_time":"2016-03-30T21:18:19.044Z","operations":["META_REQUEST","CONTENT_REQUEST","CONTENT_COMPLETED"],"device":"40f9cddab98a432b9c60d734f5f63e7e","path":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"Engineering/Roadmaps/2016/Q2 planning/overview-final.pdf"},"path_to":{"sid":"e4d451120e9d291ca135d6f1f6938d9b","relative_path":"Engineering/Roadmaps/2016/Q2 planning/archive/overview-final.pdf"},"destination_device":"b88a707bd70586f7a9f2dfc8fee2def5","destination_user":"bob.jones@example.com","seq":%d}`,
		1459372699123+n, n, n)
}

func newBenchNormalizeCmd() *cobra.Command {
	var events int
	cmd := &cobra.Command{
		Use:     "normalize",
		Short:   "Measure event normalization",
		Example: "  vigil bench normalize --events 2000000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw := benchTransfer(1)
			meta := schema.Meta{Submitter: schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"}, ReceivedAt: time.Now()}
			workers := runtime.GOMAXPROCS(0)
			var done atomic.Int64
			start, cpu0 := time.Now(), processCPU()
			stop := progress(cmd.ErrOrStderr(), "normalized", &done, int64(events))
			var wg sync.WaitGroup
			var failed atomic.Value
			for range workers {
				wg.Go(func() {
					n := schema.NewNormalizer(schema.Limits{})
					for done.Add(1) <= int64(events) {
						if _, err := n.Normalize(raw, meta); err != nil {
							failed.Store(err)
							return
						}
					}
				})
			}
			wg.Wait()
			stop()
			if err, ok := failed.Load().(error); ok {
				return err
			}
			return report(cmd.OutOrStdout(), "normalize", events, len(raw), time.Since(start), processCPU()-cpu0)
		},
	}
	cmd.Flags().IntVar(&events, "events", 1_000_000, "how many `events` to normalize")
	return cmd
}

func newBenchIngestCmd(a *app) *cobra.Command {
	var events, batch, clients int
	cmd := &cobra.Command{
		Use:   "ingest",
		Short: "Measure HTTP ingest end to end, durable",
		Long: `Start a server on loopback with an embedded event log in a temporary
directory, register a device, and post --events events in batches of
--batch from --clients concurrent clients, each batch answered 202 only
once it is fsynced. Reports events/s and events per CPU-second of the
whole process (clients included, so the server's own figure is higher).`,
		Example: "  vigil bench ingest --events 500000 --batch 1000 --clients 4",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch < 1 || clients < 1 || events < batch {
				return errors.New("--batch and --clients must be positive, --events at least --batch")
			}
			return benchIngest(cmd.Context(), a, cmd.OutOrStdout(), cmd.ErrOrStderr(), events, batch, clients)
		},
	}
	f := cmd.Flags()
	f.IntVar(&events, "events", 500_000, "how many `events` to post")
	f.IntVar(&batch, "batch", 1000, "`events` per request")
	f.IntVar(&clients, "clients", 4, "concurrent `clients`")
	return cmd
}

func benchIngest(ctx context.Context, a *app, stdout, stderr io.Writer, events, batch, clients int) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cfg := Config{Listen: "127.0.0.1:0", DataDir: dir}
	cfg.setDefaults()
	p, err := openPipeline(ctx, cfg, prometheus.NewRegistry(), a.log())
	if err != nil {
		return err
	}
	defer p.close()
	_, token, err := p.auth.AddDevice(ctx, auth.LocalCaller, "bench@example.com", "bench")
	if err != nil {
		return err
	}
	mount, err := p.mount()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	srv := &http.Server{Handler: newRouter(prometheus.NewRegistry(), newReadiness(), mount)}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String() + "/audit/v1/events"

	// Bodies are built before the clock starts.
	bodies := make([][]byte, events/batch)
	for i := range bodies {
		var b bytes.Buffer
		for j := range batch {
			b.Write(benchTransfer(int64(i*batch + j + 1)))
			b.WriteByte('\n')
		}
		bodies[i] = b.Bytes()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var next, done atomic.Int64
	var failed atomic.Value
	start, cpu0 := time.Now(), processCPU()
	stop := progress(stderr, "ingested", &done, int64(len(bodies)*batch))
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(bodies)) || ctx.Err() != nil {
					return
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(bodies[i]))
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failed.Store(fmt.Errorf("server answered %s", resp.Status))
					return
				}
				done.Add(int64(batch))
			}
		})
	}
	wg.Wait()
	stop()
	if err, ok := failed.Load().(error); ok {
		return err
	}
	return report(stdout, fmt.Sprintf("ingest (batch %d, %d clients, durable)", batch, clients), len(bodies)*batch,
		len(bodies[0])/batch, time.Since(start), processCPU()-cpu0)
}

// progress prints a line on w every second until stop is called; a
// total of 0 means unknown.
func progress(w io.Writer, what string, done *atomic.Int64, total int64) (stop func()) {
	return tick(w, func(elapsed time.Duration) string {
		n := done.Load()
		rate := float64(n) / elapsed.Seconds()
		if total <= 0 {
			return fmt.Sprintf("%s %d events, %.0f events/s", what, n, rate)
		}
		n = min(n, total)
		return fmt.Sprintf("%s %d/%d events (%.0f%%), %.0f events/s", what, n, total, 100*float64(n)/float64(total), rate)
	})
}

// tick prints line's answer on w every second until stop is called;
// stop may be called more than once.
func tick(w io.Writer, line func(elapsed time.Duration) string) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Now()
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				fmt.Fprintln(w, line(time.Since(start)))
			}
		}
	})
	var once sync.Once
	return func() { once.Do(func() { close(quit); wg.Wait() }) }
}

func report(w io.Writer, name string, events, eventBytes int, wall, cpu time.Duration) error {
	_, err := fmt.Fprintf(w, "%s: %d events of %d bytes in %v on %d cores: %.0f events/s, %.0f events per CPU-second, %.2f us CPU per event\n",
		name, events, eventBytes, wall.Round(time.Millisecond), runtime.NumCPU(),
		float64(events)/wall.Seconds(), float64(events)/cpu.Seconds(), cpu.Seconds()*1e6/float64(events))
	return err
}

// processCPU is the CPU time (user + system) the process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
