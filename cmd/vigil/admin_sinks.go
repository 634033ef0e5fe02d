package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/sinks"
)

// errSinksNeedServer is why the sink commands refuse --data-dir.
var errSinksNeedServer = errors.New("sinks run inside vigil serve: use --server URL with an admin token (--token or " + tokenEnv + ")")

func newAdminSinksCmd(t *adminTarget) *cobra.Command {
	format := enumFlag{value: "table", allowed: []string{"table", "json"}}
	cmd := &cobra.Command{
		Use:   "sinks",
		Short: "Show the sinks, replay from the log, inspect and replay dead letters",
		Long: `Without a subcommand, show each sink of a running server: its kind,
state, whether it is connected, its lag (events of the log not yet
delivered), counters since start, events waiting in its dead letter, and
its last error. SENT counts events written, SETTLED those delivered for
good, UNSETTLED those the receiver took that wait for the settle time
now (stream kinds), RESENT those written again because their connection
ended before they settled, OVERSIZE those larger than the sink's
max_frame_bytes (parked, truncated or sent as its oversize policy says).
The state is one of:
  ok        the last write went through
  retrying  the last write failed and is tried again, or the receiver
            keeps closing connections before what it took settled;
            events wait and are sent again
  refusing  the receiver refuses the sink itself (an invalid token, say);
            the events it refuses go to the dead letter
  idle      nothing written yet

A sink gets every event at least once. Events it refuses permanently (a
format error, an invalid token) are parked in its dead letter instead of
blocking the others: "deadletter list" shows them and "deadletter
replay" sends them again once the cause is fixed. "replay NAME --since
TIME" sends a sink everything the log holds from TIME on, for a
downstream system that lost data.

These commands talk to a running server: --server and an admin token
(auditors may read the status and the dead letter).`,
		Example: `  vigil admin --server https://vigil.example.com:8080 sinks
  vigil admin --server https://vigil.example.com:8080 sinks replay siem --since 24h
  vigil admin --server https://vigil.example.com:8080 sinks deadletter list splunk`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if t.server == "" {
				return errSinksNeedServer
			}
			var out sinks.SinkList
			if err := t.call(cmd.Context(), http.MethodGet, sinks.APIPath, nil, &out); err != nil {
				return err
			}
			if format.value == "json" {
				return printJSON(cmd.OutOrStdout(), out)
			}
			return printSinks(cmd.OutOrStdout(), out.Sinks)
		},
	}
	cmd.Flags().Var(&format, "format", "output format: "+format.choices())
	cmd.AddCommand(newSinksReplayCmd(t), newSinksDeadLetterCmd(t))
	return cmd
}

func printSinks(w io.Writer, list []sinks.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tSTATE\tCONNECTED\tLAG\tSENT\tSETTLED\tUNSETTLED\tRESENT\tRETRIED\tOVERSIZE\tDEAD LETTER\tLAST ERROR")
	for _, s := range list {
		conn := "-"
		if s.Connected != nil {
			conn = strconv.FormatBool(*s.Connected)
		}
		lastErr := "-"
		if s.LastError != "" {
			lastErr = formatTime(s.LastErrorAt) + " " + s.LastError
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\n", s.Name, s.Kind, s.State, conn, s.Lag,
			s.Sent, s.Settled, s.Unsettled, s.Resent, s.Retried, s.Oversize, s.DeadLetter, lastErr)
	}
	return tw.Flush()
}

func newSinksReplayCmd(t *adminTarget) *cobra.Command {
	var since string
	var detach bool
	cmd := &cobra.Command{
		Use:   "replay NAME --since TIME",
		Short: "Send a sink everything the log holds from a time on",
		Long: `Send sink NAME, again, every event the log still holds from --since on
(an RFC 3339 time, or a duration back from now such as 24h or 7d) that
passes the sink's filter, for a downstream system that lost data. The
sink's own position in the log does not move, so new events keep
flowing; events may arrive twice, each with its event_id.

The replay runs in the server. This command shows its progress on stderr
until it ends, unless --detach is given (then follow it with
"vigil admin sinks").`,
		Example: `  vigil admin --server https://vigil.example.com:8080 sinks replay siem --since 2026-11-20T00:00:00Z
  vigil admin --server https://vigil.example.com:8080 sinks replay siem --since 7d --detach`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.server == "" {
				return errSinksNeedServer
			}
			if since == "" {
				return errors.New("--since is required")
			}
			if _, err := sinks.ParseSince(since, time.Now()); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			name := args[0]
			var st sinks.ReplayStatus
			if err := t.call(cmd.Context(), http.MethodPost, sinkPath(name, "replay"), sinks.ReplayRequest{Since: since}, &st); err != nil {
				return err
			}
			stderr := cmd.ErrOrStderr()
			fmt.Fprintf(stderr, "Replaying sink %s from %s.\n", name, st.Since.Format(time.RFC3339))
			if !detach {
				final, err := t.followReplay(cmd.Context(), name, stderr)
				if err != nil {
					return err
				}
				st = final
			}
			if err := printJSON(cmd.OutOrStdout(), st); err != nil {
				return err
			}
			if st.State == "failed" || st.State == "cancelled" {
				return fmt.Errorf("replay %s: %s", st.State, st.Error)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&since, "since", "", "replay from this `time`: RFC 3339, or back from now (24h, 7d)")
	f.BoolVar(&detach, "detach", false, "start the replay and return without waiting")
	return cmd
}

// replayPoll is how often followReplay asks for progress.
var replayPoll = time.Second

// followReplay polls the sink's status until its replay ends, writing
// progress to w.
func (t *adminTarget) followReplay(ctx context.Context, name string, w io.Writer) (sinks.ReplayStatus, error) {
	tick := time.NewTicker(replayPoll)
	defer tick.Stop()
	for {
		var st sinks.Status
		if err := t.call(ctx, http.MethodGet, sinkPath(name), nil, &st); err != nil {
			return sinks.ReplayStatus{}, err
		}
		r := st.Replay
		if r == nil {
			return sinks.ReplayStatus{}, errors.New("the server reports no replay for this sink")
		}
		elapsed := time.Since(r.StartedAt).Seconds()
		rate := 0.0
		if elapsed > 0 {
			rate = float64(r.Scanned) / elapsed
		}
		fmt.Fprintf(w, "replay %s: %s, %d events read, %d sent, %.0f events/s\n", name, r.State, r.Scanned, r.Sent, rate)
		if r.State != "running" {
			return *r, nil
		}
		select {
		case <-ctx.Done():
			return *r, ctx.Err()
		case <-tick.C:
		}
	}
}

func sinkPath(name string, rest ...string) string {
	return sinks.APIPath + "/" + url.PathEscape(name) + strings.Join(append([]string{""}, rest...), "/")
}

func newSinksDeadLetterCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "deadletter",
		Short: "List and replay the events a sink refused",
		Long: `A sink's dead letter keeps the events it refused permanently (the
downstream system answered that they can never be accepted as sent),
with the reason and the time. "list" shows them, oldest first; "replay"
sends them to the sink again, after the cause is fixed, and removes
those it accepts.`,
		Example: `  vigil admin --server https://vigil.example.com:8080 sinks deadletter list splunk --format json
  vigil admin --server https://vigil.example.com:8080 sinks deadletter replay splunk`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newDeadLetterListCmd(t), newDeadLetterReplayCmd(t))
	return cmd
}

func newDeadLetterListCmd(t *adminTarget) *cobra.Command {
	format := enumFlag{value: "table", allowed: []string{"table", "json"}}
	var after int64
	var limit int
	cmd := &cobra.Command{
		Use:   "list NAME",
		Short: "List the events sink NAME refused",
		Long: `List the events in sink NAME's dead letter, oldest first: id, when it
was parked, the event's event_id and the reason (--format json adds the
event). Page with --after ID.`,
		Example: `  vigil admin --server https://vigil.example.com:8080 sinks deadletter list splunk
  vigil admin --server https://vigil.example.com:8080 sinks deadletter list splunk --format json --after 500`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.server == "" {
				return errSinksNeedServer
			}
			if limit < 1 || limit > 1000 {
				return errors.New("--limit: must be 1 to 1000")
			}
			q := url.Values{"after": {strconv.FormatInt(after, 10)}, "limit": {strconv.Itoa(limit)}}
			var page sinks.DeadLetterPage
			if err := t.call(cmd.Context(), http.MethodGet, sinkPath(args[0], "deadletter")+"?"+q.Encode(), nil, &page); err != nil {
				return err
			}
			if format.value == "json" {
				return printJSON(cmd.OutOrStdout(), page)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tPARKED\tEVENT ID\tREASON")
			for _, p := range page.Events {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", p.ID, formatTime(&p.ParkedAt), p.EventID, p.Reason)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.Var(&format, "format", "output format: "+format.choices())
	f.Int64Var(&after, "after", 0, "list entries after this `id`")
	f.IntVar(&limit, "limit", 100, "at most this many `entries` (1 to 1000)")
	return cmd
}

func newDeadLetterReplayCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "replay NAME",
		Short: "Send the events sink NAME refused to it again",
		Long: `Send every event in sink NAME's dead letter to the sink again, oldest
first. Those it accepts leave the dead letter; those it still refuses
stay, with their reason. Prints {"replayed": N, "remaining": M}.`,
		Example: `  vigil admin --server https://vigil.example.com:8080 sinks deadletter replay splunk`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if t.server == "" {
				return errSinksNeedServer
			}
			var res sinks.DeadLetterReplay
			if err := t.call(cmd.Context(), http.MethodPost, sinkPath(args[0], "deadletter", "replay"), struct{}{}, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Replayed %d events; %d still in the dead letter.\n", res.Replayed, res.Remaining)
			return printJSON(cmd.OutOrStdout(), res)
		},
	}
}
