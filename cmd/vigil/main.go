// Command vigil is the one Vigil binary: the server, and the tools around it.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command line args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return execute(ctx, &app{stdout: stdout, stderr: stderr}, args)
}

// app is what every command shares: the output streams, the logger built
// from the global flags, and hooks that tests set.
type app struct {
	stdout, stderr io.Writer

	logFormat enumFlag
	logLevel  enumFlag
	logger    *slog.Logger

	// listening, when set, is called with the HTTP listener's bound
	// address once serve is accepting connections.
	listening func(net.Addr)
}

func execute(ctx context.Context, a *app, args []string) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintf(a.stderr, "vigil: %v\n", err)
		return 1
	}
	return 0
}

func newRootCmd(a *app) *cobra.Command {
	a.logFormat = enumFlag{value: "text", allowed: []string{"text", "json"}}
	a.logLevel = enumFlag{value: "info", allowed: []string{"debug", "info", "warn", "error"}}

	root := &cobra.Command{
		Use:   "vigil",
		Short: "Audit event pipeline and analytics for a file-sharing platform",
		Long: `Vigil accepts the audit events of a file-sharing platform, keeps them
durably, forwards them to downstream systems and stores them for queries.
Planned: leak-detection rules and dashboards, the web console, and
serving the platform's content and OAuth 2.0 API, its actions audited
the same way.

Every event takes one path: ingest decodes, authenticates, normalizes and
validates it, appends it to the event log and only then acknowledges it.
Independent consumers read the log: the query store (DuckDB by default,
ClickHouse at scale) and one forwarder per sink (TCP, TLS, Splunk HEC,
syslog, RELP). A slow downstream only grows its own lag; delivery is
at-least-once and every event carries a stable event_id.

With no configuration, "vigil serve" runs everything on one machine: the
embedded event log and DuckDB store under --data-dir, on one HTTP
listener. A YAML config file (--config) switches to Kafka, ClickHouse and
sinks; unknown keys are errors and ${VAR} reads secrets from the
environment.`,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return fmt.Errorf("%w (see '%s --help')", err, cmd.CommandPath())
	})

	pf := root.PersistentFlags()
	pf.Var(&a.logFormat, "log-format", "log format: "+a.logFormat.choices())
	pf.Var(&a.logLevel, "log-level", "minimum log level: "+a.logLevel.choices())

	root.AddCommand(
		newServeCmd(a),
		newVersionCmd(a),
		newSchemaCmd(),
		newBenchCmd(a),
		newQueryCmd(),
		newAdminCmd(),
		newAgentCmd(a),
		newDetectCmd(),
	)
	refuseUnknownSubcommands(root)
	return root
}

// refuseUnknownSubcommands makes every command that only groups others
// fail on an argument that names none of them ("vigil admin token lst"),
// as the root does, instead of printing its help and exiting 0; without
// arguments it still prints its help.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, c := range cmd.Commands() {
		refuseUnknownSubcommands(c)
	}
	if cmd.HasParent() && !cmd.Runnable() && cmd.HasSubCommands() {
		cmd.Args = func(c *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("unknown command %q for %q (see '%s --help')", args[0], c.CommandPath(), c.CommandPath())
			}
			return nil
		}
		cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
	}
}

// log returns the structured logger the global flags ask for, writing to
// stderr. Commands call it once the flags are parsed.
func (a *app) log() *slog.Logger {
	if a.logger == nil {
		var level slog.Level
		_ = level.UnmarshalText([]byte(a.logLevel.value)) // checked by Set
		opts := &slog.HandlerOptions{Level: level}
		if a.logFormat.value == "json" {
			a.logger = slog.New(slog.NewJSONHandler(a.stderr, opts))
		} else {
			a.logger = slog.New(slog.NewTextHandler(a.stderr, opts))
		}
	}
	return a.logger
}

// enumFlag is a string flag that accepts one of a fixed set of values, so
// a typo fails when the flags are parsed.
type enumFlag struct {
	value   string
	allowed []string
}

func (f *enumFlag) String() string { return f.value }

func (f *enumFlag) Type() string { return "string" }

func (f *enumFlag) Set(v string) error {
	for _, a := range f.allowed {
		if v == a {
			f.value = v
			return nil
		}
	}
	return fmt.Errorf("must be one of %s", f.choices())
}

func (f *enumFlag) choices() string {
	return strings.Join(f.allowed, ", ")
}
