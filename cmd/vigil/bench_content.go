package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/internal/config"
)

func newBenchContentCmd() *cobra.Command {
	size := sizeFlag(1 << 30)
	var ops int
	var server, token string
	cmd := &cobra.Command{
		Use:   "content",
		Short: "Measure the content API: transfers, metadata operations, server memory",
		Long: `Start vigil serve as a child process on a temporary data dir (or use
--server with --token), add a user and sign in, then on loopback:

  upload     one plain PUT of a generated file of --size; MB/s
  download   the same file back with Go's client, and with curl when it
             is on PATH; MB/s (the upload's ETag is checked against the
             SHA-256 of what was sent)
  baseline   the same download from a plain Go file server (net/http
             FileServer on a temporary file), with curl and Go's client:
             what loopback and the disk give without Vigil
  metadata   --ops rounds of create, list, rename and delete of a file;
             operations per second of each, and the p50 and p99 of the
             audited mutations (create, rename, delete: each commits its
             change and its event in one transaction)
  memory     the server's peak resident set above its idle level during
             the transfers (VmRSS sampled and VmHWM, from /proc; only for
             the child server); the target is under 100 MiB

Progress goes to stderr, the result to stdout.`,
		Example: "  vigil bench content --size 1GiB\n  vigil bench content --server https://vigil.example.com --token \"$TOKEN\" --size 256MiB",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if size < 1 || ops < 1 {
				return errors.New("--size and --ops must be positive")
			}
			if (server == "") != (token == "") {
				return errors.New("--server and --token go together")
			}
			return benchContent(cmd.Context(), cmd.OutOrStdout(), cmd.ErrOrStderr(), int64(size), ops, server, token)
		},
	}
	f := cmd.Flags()
	f.Var(&size, "size", "the `size` of the file moved up and down (1GiB, 64MiB)")
	f.IntVar(&ops, "ops", 200, "rounds of metadata operations (`n` of each)")
	f.StringVar(&server, "server", "", "measure a running server at this `URL` instead of starting one")
	f.StringVar(&token, "token", "", "with --server, a content API `token` with files.read and files.write")
	return cmd
}

// sizeFlag is a flag holding a size such as 1GiB.
type sizeFlag config.ByteSize

func (b *sizeFlag) String() string { return config.ByteSize(*b).String() }

func (b *sizeFlag) Type() string { return "size" }

func (b *sizeFlag) Set(s string) error {
	v, err := config.ParseByteSize(s)
	if err != nil {
		return err
	}
	if v > 1<<40 {
		return errors.New("at most 1TiB")
	}
	*b = sizeFlag(v)
	return nil
}

func benchContent(ctx context.Context, stdout, stderr io.Writer, size int64, ops int, server, token string) error {
	dir, err := os.MkdirTemp("", "vigil-bench-")
	if err != nil {
		return fmt.Errorf("create temp dir: %w", err)
	}
	defer os.RemoveAll(dir)

	var srv *serveProc
	if server == "" {
		bin, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the vigil binary: %w", err)
		}
		dataDir := filepath.Join(dir, "data")
		const email, pw = "bench@example.com", "bench-pw-4Jd8sQ"
		if err := addContentUser(ctx, bin, dataDir, email, pw); err != nil {
			return err
		}
		fmt.Fprintln(stderr, "starting vigil serve")
		if srv, err = startServeProc(ctx, bin, dataDir); err != nil {
			return err
		}
		defer srv.stop()
		server = "http://" + srv.addr
		if token, err = signIn(ctx, server, email, pw); err != nil {
			return err
		}
	}
	c := newContentClient(server, token)
	defer c.close()
	w := &benchOut{w: stdout}

	// The memory the server holds at rest, before the transfers.
	var idle int64
	var peak func() int64
	if srv != nil {
		time.Sleep(500 * time.Millisecond)
		if idle, _, err = procMemory(srv.cmd.Process.Pid); err != nil {
			return err
		}
		peak = rssPeak(srv.cmd.Process.Pid)
	}
	name := fmt.Sprintf("bench-%d.bin", time.Now().UnixNano())
	id, err := c.create(ctx, "files", "root", name)
	if err != nil {
		return err
	}
	defer func() {
		_, _, _ = c.call(context.WithoutCancel(ctx), http.MethodDelete, "/files/"+id, "", http.StatusNoContent)
	}()
	fmt.Fprintln(stderr, "hashing the generated content")
	want, err := sha256Of(&genReader{0, size})
	if err != nil {
		return err
	}

	var moved atomic.Int64
	stop := byteProgress(stderr, "uploaded", &moved, size)
	start := time.Now()
	etag, err := c.put(ctx, id, countingReader{&genReader{0, size}, &moved}, size)
	stop()
	if err != nil {
		return err
	}
	if etag != want {
		return fmt.Errorf("upload: the server's ETag %s is not the SHA-256 of the content %s", etag, want)
	}
	w.rate("upload (vigil, Go client, plain PUT)", size, time.Since(start))

	download := func(what string, get func() (int64, error)) error {
		moved.Store(0)
		stop := byteProgress(stderr, "downloaded", &moved, size)
		start := time.Now()
		n, err := get()
		stop()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if n != size {
			return fmt.Errorf("%s: %d bytes, want %d", what, n, size)
		}
		w.rate(what, size, time.Since(start))
		return nil
	}
	err = download("download (vigil, Go client)", func() (int64, error) {
		status, n, err := c.get(ctx, id, "", countingWriter{&moved})
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("status %d", status)
		}
		return n, err
	})
	if err != nil {
		return err
	}
	curl, _ := exec.LookPath("curl")
	if curl != "" {
		err = download("download (vigil, curl)", func() (int64, error) {
			return curlGet(ctx, curl, server+"/api/v1.4/files/"+id+"/content", "Authorization: Bearer "+token)
		})
		if err != nil {
			return err
		}
	}
	if peak != nil {
		w.line(fmt.Sprintf("server memory: idle %.0f MiB, peak %.0f MiB above idle during the transfers (target under 100 MiB)",
			float64(idle)/(1<<20), float64(max(peak()-idle, 0))/(1<<20)))
	}

	if err := benchBaseline(ctx, stderr, w, dir, size, curl, &moved, download); err != nil {
		return err
	}
	if err := benchMetadata(ctx, stderr, w, c, ops); err != nil {
		return err
	}
	return w.err
}

// benchBaseline measures the same download from a plain Go file server
// on a temporary file: what loopback and the disk give without Vigil.
func benchBaseline(ctx context.Context, stderr io.Writer, w *benchOut, dir string, size int64, curl string,
	moved *atomic.Int64, download func(string, func() (int64, error)) error) error {
	fmt.Fprintln(stderr, "writing the baseline's file")
	path := filepath.Join(dir, "plain.bin")
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create baseline file: %w", err)
	}
	_, err = io.Copy(f, &genReader{0, size})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write baseline file: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fs := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	var wg sync.WaitGroup
	wg.Go(func() { _ = fs.Serve(ln) })
	defer func() { _ = fs.Close(); wg.Wait() }()
	url := "http://" + ln.Addr().String() + "/plain.bin"

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	err = download("download (Go file server, Go client)", func() (int64, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		return io.Copy(countingWriter{moved}, resp.Body)
	})
	if err != nil || curl == "" {
		return err
	}
	return download("download (Go file server, curl)", func() (int64, error) { return curlGet(ctx, curl, url) })
}

// curlGet downloads url with curl to nowhere and returns the bytes it
// got.
func curlGet(ctx context.Context, curl, url string, header ...string) (int64, error) {
	args := []string{"-sS", "--fail", "-o", "/dev/null", "-w", "%{size_download}"}
	for _, h := range header {
		args = append(args, "-H", h)
	}
	out, err := exec.CommandContext(ctx, curl, append(args, url)...).Output()
	if err != nil {
		return 0, fmt.Errorf("curl: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("curl: size %q: %w", out, err)
	}
	return n, nil
}

// benchMetadata runs ops rounds of create, list, rename and delete of a
// file in a folder of its own and reports each operation's rate and the
// audited mutations' latencies.
func benchMetadata(ctx context.Context, stderr io.Writer, w *benchOut, c *contentClient, ops int) error {
	folder, err := c.create(ctx, "folders", "root", fmt.Sprintf("bench-%d", time.Now().UnixNano()))
	if err != nil {
		return err
	}
	defer func() {
		_, _, _ = c.call(context.WithoutCancel(ctx), http.MethodDelete, "/folders/"+folder, "", http.StatusNoContent)
	}()
	kinds := []string{"create", "list", "rename", "delete"}
	took := map[string][]time.Duration{}
	timed := func(kind string, f func() error) error {
		start := time.Now()
		err := f()
		took[kind] = append(took[kind], time.Since(start))
		return err
	}
	var done atomic.Int64
	stop := progressOf(stderr, "metadata", "rounds", &done, int64(ops))
	defer stop()
	for i := range ops {
		var id string
		steps := []func() error{
			func() (err error) { id, err = c.create(ctx, "files", folder, fmt.Sprintf("f%d.txt", i)); return err },
			func() error {
				_, _, err := c.call(ctx, http.MethodGet, "/folders/"+folder+"/children", "", http.StatusOK)
				return err
			},
			func() error {
				_, _, err := c.call(ctx, http.MethodPut, "/files/"+id, fmt.Sprintf(`{"name":"r%d.txt"}`, i), http.StatusOK)
				return err
			},
			func() error {
				_, _, err := c.call(ctx, http.MethodDelete, "/files/"+id, "", http.StatusNoContent)
				return err
			},
		}
		for j, step := range steps {
			if err := timed(kinds[j], step); err != nil {
				return err
			}
		}
		done.Add(1)
	}
	stop()
	var mutations []time.Duration
	for _, k := range kinds {
		var total time.Duration
		for _, d := range took[k] {
			total += d
		}
		w.line(fmt.Sprintf("metadata %s: %d in %v: %.0f ops/s", k, len(took[k]), total.Round(time.Millisecond), float64(len(took[k]))/total.Seconds()))
		if k != "list" {
			mutations = append(mutations, took[k]...)
		}
	}
	slices.Sort(mutations)
	q := func(p float64) time.Duration { return mutations[min(int(p*float64(len(mutations))), len(mutations)-1)] }
	w.line(fmt.Sprintf("audited mutation (create, rename, delete; %d): p50 %v, p99 %v, max %v",
		len(mutations), q(0.50).Round(time.Microsecond), q(0.99).Round(time.Microsecond), mutations[len(mutations)-1].Round(time.Microsecond)))
	return nil
}

// sha256Of is the hex SHA-256 of what r gives.
func sha256Of(r io.Reader) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// benchOut writes the result lines, keeping the first error.
type benchOut struct {
	w   io.Writer
	err error
}

func (o *benchOut) line(s string) {
	if o.err == nil {
		_, o.err = fmt.Fprintln(o.w, s)
	}
}

func (o *benchOut) rate(what string, n int64, d time.Duration) {
	o.line(fmt.Sprintf("%s: %.0f MiB in %v: %.0f MB/s", what, float64(n)/(1<<20), d.Round(time.Millisecond), float64(n)/1e6/d.Seconds()))
}

// byteProgress prints a line of bytes moved on w every second until
// stop is called.
func byteProgress(w io.Writer, what string, done *atomic.Int64, total int64) (stop func()) {
	return tick(w, func(elapsed time.Duration) string {
		n := min(done.Load(), total)
		return fmt.Sprintf("%s %d/%d MiB (%.0f%%), %.0f MB/s", what, n>>20, total>>20, 100*float64(n)/float64(total), float64(n)/1e6/elapsed.Seconds())
	})
}

// progressOf prints a line of units done on w every second until stop
// is called (again is harmless).
func progressOf(w io.Writer, what, unit string, done *atomic.Int64, total int64) (stop func()) {
	return tick(w, func(time.Duration) string {
		return fmt.Sprintf("%s %d/%d %s", what, min(done.Load(), total), total, unit)
	})
}
