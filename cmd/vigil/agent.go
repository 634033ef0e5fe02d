package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/ingest/agent"
	"github.com/vigilaudit/vigil/internal/config"
)

// deviceTokenEnv is the environment variable the device token is read from
// when --token is not given.
const deviceTokenEnv = "VIGIL_DEVICE_TOKEN"

// agentOptions are vigil agent's flags.
type agentOptions struct {
	server, token, spool, watch  string
	once, check                  bool
	batchSize                    int
	maxBatchBytes                byteSizeFlag
	interval, initialBackoff     time.Duration
	maxBackoff, maxWait, timeout time.Duration
	progressEvery                time.Duration
}

// defaultOnceMaxWait is --max-wait with --once when the flag is not given.
const defaultOnceMaxWait = 5 * time.Minute

func newAgentCmd(a *app) *cobra.Command {
	o := agentOptions{maxBatchBytes: byteSizeFlag(4 << 20)}
	cmd := &cobra.Command{
		Use:   "agent --server URL --spool DIR [--watch DIR] [--once]",
		Short: "Spool audit events on a device and upload them to a Vigil server",
		Long: `Spool audit events on a device and upload them to a Vigil server. The
agent keeps events in a durable local spool (--spool) until the server
has them, so a device can stay offline for days.

Input. Without --watch, the agent reads NDJSON (one JSON event per line)
from stdin until EOF; when stdin is a terminal it reads nothing and only
uploads what the spool holds. With --watch DIR, it takes every *.ndjson
and *.json file that appears in DIR (listed every --interval, in name
order): a .json file may hold an array of events, one event, or NDJSON.
Write each file under another name (a hidden .name, or another
extension) and rename it into DIR once complete. A file is removed only
after its events are in the spool. A .json file that is neither an
array nor one object is read as NDJSON: its lines that are not JSON go
to SPOOL/rejected.ndjson (below) and the file is removed like any other.
Only a .json file that starts with '[' but is not a JSON array is left
in DIR, renamed NAME.invalid, with nothing taken from it.

Each event taken in gets the device's next sequence number, 1, 2, 3, ...,
as a "seq" member (it never repeats, across restarts), and is otherwise
sent as it was given. Lines that are not JSON objects, events with a
"seq" of their own and events larger than --max-batch-bytes are set
aside, with the reason, in SPOOL/rejected.ndjson. With --check, events
that the server's catalog will reject are reported early (they are still
sent; the server keeps them in its quarantine).

Upload. Batches of up to --batch-size events and --max-batch-bytes go,
as gzipped NDJSON, to SERVER/audit/v1/events with the device token
(--token, or the VIGIL_DEVICE_TOKEN environment variable, which other
users cannot see). Events leave the spool only after the server answers
202. While the server is unreachable or failing, the agent retries with
exponential backoff and jitter from --initial-backoff to --max-backoff;
on 429 and 503 it waits as Retry-After says. A batch answered 413 (too
large) or 400 is split in halves; a lone event the server still refuses
is set aside in rejected.ndjson. Events the server rejects are logged
and counted here, and kept in the server's quarantine. A refused token
(401, 403) stops the agent; the spool keeps everything.

When it stops:
  stdin             at EOF, once the spool is empty
  --watch           never by itself: it watches DIR until SIGINT or SIGTERM
  --once            once everything there was is uploaded (stdin to EOF, the
                    files now in DIR, what the spool held); it fails if the
                    server stays unreachable for --max-wait
SIGINT and SIGTERM stop the agent at any point; what is not uploaded
stays in the spool for the next run (with --once, stopping early is an
error). At the end it prints on stderr:
  uploaded N events in B batches: A accepted, D duplicates, R rejected

Progress goes to stderr: a live status line on a terminal, otherwise a
log line every --progress-every while there is something to report.

Crash safety: an event is synced to the spool before more input is
read and before its file is removed, and the spool's cursor moves only
after a 202. After a crash, or kill -9, at any point, the next run sends
at most the batch that was in flight again, byte for byte, and the
server counts those events as duplicates. One agent at a time may use a
spool.`,
		Example: `  export VIGIL_DEVICE_TOKEN=...
  tail -F /var/log/activity.ndjson | vigil agent --server https://vigil.example.com --spool /var/lib/vigil-agent
  vigil agent --server https://vigil.example.com --spool ~/.vigil/spool --watch ~/.vigil/outbox
  vigil agent --server https://vigil.example.com --spool ~/.vigil/spool --once < events.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("max-wait") && o.once {
				o.maxWait = defaultOnceMaxWait
			}
			if !cmd.Flags().Changed("token") {
				o.token = os.Getenv(deviceTokenEnv)
			}
			return runAgent(cmd.Context(), a, o, cmd.InOrStdin())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "Vigil server base `URL`, http or https (required)")
	f.StringVar(&o.token, "token", "", "device `token` (default: the "+deviceTokenEnv+" environment variable)")
	f.StringVar(&o.spool, "spool", "", "spool `directory`, created if missing (required)")
	f.StringVar(&o.watch, "watch", "", "take *.ndjson and *.json files dropped into this `directory` instead of stdin")
	f.BoolVar(&o.once, "once", false, "upload what is there now, then exit with a summary")
	f.IntVar(&o.batchSize, "batch-size", 1000, "most events per upload")
	f.Var(&o.maxBatchBytes, "max-batch-bytes", "most bytes of events per upload, before compression")
	f.DurationVar(&o.interval, "interval", 2*time.Second, "how often --watch lists its directory")
	f.DurationVar(&o.initialBackoff, "initial-backoff", time.Second, "first wait before retrying a failed upload")
	f.DurationVar(&o.maxBackoff, "max-backoff", 5*time.Minute, "longest wait between retries")
	f.DurationVar(&o.maxWait, "max-wait", 0, "give up when the server stays unreachable this long; 0: never (default 5m with --once)")
	f.DurationVar(&o.timeout, "timeout", time.Minute, "time limit of one upload request")
	f.BoolVar(&o.check, "check", true, "warn about events the server's catalog will reject")
	f.DurationVar(&o.progressEvery, "progress-every", 30*time.Second, "interval of progress log lines when stderr is not a terminal; 0: none")
	return cmd
}

func (o agentOptions) validate() error {
	var errs []error
	if o.server == "" {
		errs = append(errs, errors.New("--server is required"))
	}
	if o.spool == "" {
		errs = append(errs, errors.New("--spool is required"))
	}
	if o.token == "" {
		errs = append(errs, fmt.Errorf("no device token: set %s or --token", deviceTokenEnv))
	}
	if o.batchSize < 1 {
		errs = append(errs, errors.New("--batch-size must be at least 1"))
	}
	if o.maxBatchBytes < 1024 {
		errs = append(errs, errors.New("--max-batch-bytes must be at least 1KiB"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"interval", o.interval}, {"initial-backoff", o.initialBackoff}, {"max-backoff", o.maxBackoff}, {"timeout", o.timeout}} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("--%s must be positive", d.name))
		}
	}
	if o.maxWait < 0 || o.progressEvery < 0 {
		errs = append(errs, errors.New("--max-wait and --progress-every must not be negative"))
	}
	return errors.Join(errs...)
}

// runAgent runs the agent until it is done, then prints the summary.
func runAgent(ctx context.Context, a *app, o agentOptions, stdin io.Reader) error {
	if err := o.validate(); err != nil {
		return err
	}
	var status *agent.StatusLine
	if isTerminal(a.stderr) {
		status = agent.NewStatusLine(a.stderr)
		a.stderr = status // log lines go above the status line
	}
	log := a.log()

	var input io.Reader
	if o.watch == "" {
		var err error
		if input, err = agentInput(stdin); err != nil {
			return err
		}
	} else if fi, err := os.Stat(o.watch); err != nil || !fi.IsDir() {
		return fmt.Errorf("--watch %s: not a directory", o.watch)
	}

	spool, err := agent.OpenSpool(o.spool, agent.SpoolOptions{Logger: log})
	if err != nil {
		return err
	}
	defer spool.Close()
	up, err := agent.NewUploader(agent.UploaderConfig{
		Server:         o.server,
		Token:          o.token,
		InitialBackoff: o.initialBackoff,
		MaxBackoff:     o.maxBackoff,
		MaxWait:        o.maxWait,
		RequestTimeout: o.timeout,
		UserAgent:      "vigil-agent/" + readBuildInfo().Version,
		Logger:         log,
	})
	if err != nil {
		return err
	}
	defer up.Close()

	if n := spool.Pending(); n > 0 {
		log.Info("spool holds events from an earlier run", "events", n, "spool", o.spool)
	}
	ag := agent.New(spool, up, agent.Config{
		Input:         input,
		WatchDir:      o.watch,
		Interval:      o.interval,
		Once:          o.once,
		BatchSize:     o.batchSize,
		MaxBatchBytes: int(o.maxBatchBytes),
		Check:         o.check,
		Logger:        log,
		ProgressEvery: o.progressEvery,
		Status:        status,
	})
	runErr := ag.Run(ctx)
	st := ag.Stats()
	fmt.Fprintln(a.stderr, st.Summary())
	if st.Pending > 0 {
		fmt.Fprintf(a.stderr, "%d events wait in the spool %s\n", st.Pending, o.spool)
	}
	if st.Invalid > 0 || st.Refused > 0 {
		fmt.Fprintf(a.stderr, "%d inputs set aside in %s\n", st.Invalid+st.Refused, filepath.Join(o.spool, "rejected.ndjson"))
	}
	if err := spool.Close(); err != nil && runErr == nil {
		runErr = err
	}
	return runErr
}

// agentInput returns what the agent reads from stdin: nothing from a
// terminal (or /dev/null), and a pipe made interruptible.
func agentInput(stdin io.Reader) (io.Reader, error) {
	f, ok := stdin.(*os.File)
	if !ok {
		return stdin, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("stat stdin: %w", err)
	}
	if fi.Mode()&os.ModeCharDevice != 0 {
		return nil, nil
	}
	return agent.Interruptible(f)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// byteSizeFlag is a flag holding a size such as 4MiB or 500KB.
type byteSizeFlag config.ByteSize

func (b *byteSizeFlag) String() string { return config.ByteSize(*b).String() }

func (b *byteSizeFlag) Type() string { return "size" }

func (b *byteSizeFlag) Set(s string) error {
	v, err := config.ParseByteSize(s)
	if err != nil {
		return err
	}
	if v > 1<<30 {
		return errors.New("at most 1GiB")
	}
	*b = byteSizeFlag(v)
	return nil
}
