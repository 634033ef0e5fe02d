package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/ingest"
	"github.com/vigilaudit/vigil/ingest/eventlog/filelog"
	"github.com/vigilaudit/vigil/internal/auth"
	"github.com/vigilaudit/vigil/internal/httpapi"
)

func newAdminQuarantineCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "quarantine",
		Short: "List and replay rejected events",
		Long: `Events that ingest rejected (invalid, malformed, or sent with a forged
verified_submitter) are kept in quarantine with their raw bytes, the
reason, the submitting device and the time. Nothing rejected is dropped.

"list" shows them; "replay" runs them through ingest again, after a fix
(a newer Vigil that accepts more forms, larger limits): the ones accepted
now are appended to the event log with their original submitter and
marked replayed; the others stay, with the new reason.`,
		Example: `  vigil admin quarantine list
  vigil admin --server https://vigil.example.com:8080 quarantine replay`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newQuarantineListCmd(t), newQuarantineReplayCmd(t))
	return cmd
}

func newQuarantineListCmd(t *adminTarget) *cobra.Command {
	format := enumFlag{value: "table", allowed: []string{"table", "json"}}
	var o ingest.ListOptions
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List quarantined events",
		Long: `List quarantined events, oldest first: id, when and from which device
they came, and why they were rejected (--format json adds the raw bytes).
Replayed events are left out unless --all is given. Page with --after ID.
The same bytes resent by the same device while their entry waits count
as attempts of that entry, not as new entries.`,
		Example: `  vigil admin quarantine list
  vigil admin quarantine list --format json --limit 1000
  vigil admin --server https://vigil.example.com:8080 quarantine list --after 120`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			entries, err := t.listQuarantine(cmd.Context(), o)
			if err != nil {
				return err
			}
			if format.value == "json" {
				return printJSON(cmd.OutOrStdout(), map[string]any{"events": entries})
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tUSER\tDEVICE\tATTEMPTS\tREPLAYED\tREASON")
			for _, e := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\t%s\n", e.ID, formatTime(&e.ReceivedAt), dash(e.Submitter.UserID),
					dash(e.Submitter.DeviceID), e.Attempts, formatTime(e.ReplayedAt), e.Reason)
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.Var(&format, "format", "output format: "+format.choices())
	f.Int64Var(&o.After, "after", 0, "list entries after this `id`")
	f.IntVar(&o.Limit, "limit", 100, "at most this many `entries` (1 to 1000)")
	f.BoolVar(&o.Replayed, "all", false, "include entries already replayed")
	return cmd
}

func newQuarantineReplayCmd(t *adminTarget) *cobra.Command {
	return &cobra.Command{
		Use:   "replay [ID...]",
		Short: "Run quarantined events through ingest again",
		Long: `Run quarantined events (all of them, or the given ids) through ingest
again. Accepted ones are appended to the event log and marked replayed;
duplicates of events already in the log are marked replayed too. Prints
{"replayed": N, "rejected": M}. The replay is itself an AUDIT event
(audit.quarantine.replay).

On --data-dir, replay opens the event log itself, so the server must not
be running on that data dir; with a running server use --server.`,
		Example: `  vigil admin --server https://vigil.example.com:8080 quarantine replay
  vigil admin quarantine replay 17 18`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var ids []int64
			for _, a := range args {
				id, err := strconv.ParseInt(a, 10, 64)
				if err != nil || id <= 0 {
					return fmt.Errorf("quarantine id %q: must be a positive integer", a)
				}
				ids = append(ids, id)
			}
			res, err := t.replayQuarantine(cmd.Context(), ids)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Replayed %d events; %d still rejected.\n", res.Replayed, res.Rejected)
			return printJSON(cmd.OutOrStdout(), res)
		},
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (t *adminTarget) listQuarantine(ctx context.Context, o ingest.ListOptions) ([]ingest.Quarantined, error) {
	if o.Limit < 1 || o.Limit > 1000 {
		return nil, errors.New("--limit: must be 1 to 1000")
	}
	if t.server != "" {
		q := url.Values{"after": {strconv.FormatInt(o.After, 10)}, "limit": {strconv.Itoa(o.Limit)}}
		if o.Replayed {
			q.Set("replayed", "true")
		}
		var out struct {
			Events []ingest.Quarantined `json:"events"`
		}
		err := t.call(ctx, http.MethodGet, "/audit/v1/quarantine?"+q.Encode(), nil, &out)
		return out.Events, err
	}
	q, err := ingest.OpenQuarantine(filepath.Join(t.dataDir, quarantineDBName))
	if err != nil {
		return nil, err
	}
	defer q.Close()
	entries, err := q.List(ctx, o)
	if entries == nil {
		entries = []ingest.Quarantined{}
	}
	return entries, err
}

func (t *adminTarget) replayQuarantine(ctx context.Context, ids []int64) (ingest.ReplayResult, error) {
	var res ingest.ReplayResult
	if t.server != "" {
		err := t.call(ctx, http.MethodPost, "/audit/v1/quarantine/replay", ingest.ReplayRequest{IDs: ids}, &res)
		return res, err
	}
	if _, err := os.Stat(filepath.Join(t.dataDir, quarantineDBName)); err != nil {
		return res, fmt.Errorf("no quarantine in %s: %w", t.dataDir, err)
	}
	l, err := filelog.Open(logDir(t.dataDir), filelog.Config{})
	if err != nil {
		return res, fmt.Errorf("%w (is vigil serve running on this data dir? then use --server)", err)
	}
	defer l.Close()
	q, err := ingest.OpenQuarantine(filepath.Join(t.dataDir, quarantineDBName))
	if err != nil {
		return res, err
	}
	defer q.Close()
	in := ingest.New(l, q, ingest.Config{}, nil, nil, nil)
	if _, err := in.Rebuild(ctx, l); err != nil {
		return res, err
	}
	res.Replayed, res.Rejected, err = in.ReplayQuarantine(ctx, ids)
	if err != nil {
		return res, err
	}
	return res, in.AuditReplay(ctx, auth.LocalCaller, res)
}

// client returns a client of --server with the admin token.
func (t *adminTarget) client() (*httpapi.Client, error) {
	token := t.token
	if token == "" {
		token = os.Getenv(tokenEnv)
	}
	if token == "" {
		return nil, fmt.Errorf("--server needs an admin token: --token or %s", tokenEnv)
	}
	c, err := httpapi.NewClient(httpapi.ClientConfig{URL: t.server, Token: token, Errors: auth.ErrorCodes()})
	if err != nil {
		return nil, fmt.Errorf("--server: %w", err)
	}
	return c, nil
}

// call makes one request to the server's audit API with the admin token.
func (t *adminTarget) call(ctx context.Context, method, path string, in, out any) error {
	c, err := t.client()
	if err != nil {
		return err
	}
	defer c.Close()
	return c.Do(ctx, method, path, in, out)
}
