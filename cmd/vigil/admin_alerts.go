package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/dashboards/alerts"
	"github.com/vigilaudit/vigil/internal/auth"
)

func newAdminAlertsCmd(t *adminTarget) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alerts",
		Short: "List the detections' alerts and change their state",
		Long: `List the alerts the detection rules raised, with their current state,
and acknowledge, resolve or dismiss them. An alert is open when raised;
acknowledging it (again, to reassign it) leaves it to be resolved or
dismissed, and resolved and dismissed are final. Each change is an
alert.state event (topic ALERT) with its caller, assignee, reason and
note; dismissing an alert about oneself raises a self-dismissal alert.

Changes on --data-dir record ":local" as the caller; through --server,
the API token's pseudo-user.`,
		Example: `  vigil admin alerts list --state open
  vigil admin alerts ack 01M83TS9G0A8QSRVM1ZX0V7T2E --assignee bob@example.com
  vigil admin alerts resolve 01M83TS9G0A8QSRVM1ZX0V7T2E --note "contractor's handover"`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newAdminAlertsListCmd(t),
		newAdminAlertsSetCmd(t, "ack", alerts.Acknowledged, "Acknowledge an alert, optionally assigning it"),
		newAdminAlertsSetCmd(t, "resolve", alerts.Resolved, "Resolve an alert"),
		newAdminAlertsSetCmd(t, "dismiss", alerts.Dismissed, "Dismiss an alert as not worth acting on"))
	return cmd
}

func newAdminAlertsListCmd(t *adminTarget) *cobra.Command {
	var f alerts.Filter
	var since, until string
	format := enumFlag{value: "table", allowed: []string{"table", "json"}}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List alerts, newest window first",
		Long: `List alerts with their current state, newest window first, filtered by
state, severity, rule, user and window start (--since, --until: RFC 3339
or a duration back from now, such as 24h).

Formats: table (the default) or json: {"alerts": [...]}, as
GET /audit/v1/alerts answers.`,
		Example: `  vigil admin alerts list
  vigil admin alerts list --state open --severity high --format json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"state": f.State, "severity": f.Severity, "rule": f.Rule, "user": f.User,
				"since": since, "until": until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			if f.Limit != 0 {
				q.Set("limit", strconv.Itoa(f.Limit))
			}
			filter, err := alerts.ParseFilter(q, time.Now())
			if err != nil {
				return fmt.Errorf("--%w", err)
			}
			var list []alerts.Alert
			if t.server != "" {
				var page alerts.Page
				if err := t.call(cmd.Context(), http.MethodGet, "/audit/v1/alerts?"+q.Encode(), nil, &page); err != nil {
					return err
				}
				list = page.Alerts
			} else if err := t.withAlerts(cmd, func(s *alerts.Store) error {
				if err := s.RecordRead(cmd.Context(), auth.LocalCaller, "vigil admin alerts list", q.Encode()); err != nil {
					return err
				}
				list, _, err = s.List(cmd.Context(), filter)
				return err
			}); err != nil {
				return err
			}
			if list == nil {
				list = []alerts.Alert{}
			}
			if format.value == "json" {
				return printJSON(cmd.OutOrStdout(), alerts.Page{Alerts: list})
			}
			return printAlertTable(cmd.OutOrStdout(), list)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.State, "state", "", "only alerts in this `state`: open, acknowledged, resolved or dismissed")
	fl.StringVar(&f.Severity, "severity", "", "only alerts of this `severity`")
	fl.StringVar(&f.Rule, "rule", "", "only alerts of this `rule`")
	fl.StringVar(&f.User, "user", "", "only alerts about this `user`")
	fl.StringVar(&since, "since", "", "only windows starting at or after this `time`")
	fl.StringVar(&until, "until", "", "only windows starting before this `time`")
	fl.IntVar(&f.Limit, "limit", alerts.DefaultLimit, "at most this many `alerts`")
	fl.Var(&format, "format", "output format: "+format.choices())
	return cmd
}

func newAdminAlertsSetCmd(t *adminTarget, verb, state, short string) *cobra.Command {
	var c alerts.Change
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Long: short + `, recording an alert.state event with the caller and the
optional assignee, reason and note. Prints the alert as it is now (JSON).`,
		Example: "  vigil admin alerts " + verb + " 01M83TS9G0A8QSRVM1ZX0V7T2E --note \"checked with the user\"",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var a alerts.Alert
			if t.server != "" {
				if err := t.call(cmd.Context(), http.MethodPost, "/audit/v1/alerts/"+url.PathEscape(args[0])+"/"+verb, c, &a); err != nil {
					return err
				}
			} else if err := t.withAlerts(cmd, func(s *alerts.Store) error {
				var err error
				a, err = s.Set(cmd.Context(), auth.LocalCaller, args[0], state, c)
				return err
			}); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "Alert %s is %s.\n", a.ID, a.State)
			return printJSON(cmd.OutOrStdout(), a)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&c.Assignee, "assignee", "", "who takes care of the alert (a `user` id)")
	fl.StringVar(&c.Reason, "reason", "", "why, in a `word` or a few (false-positive, handled, ...)")
	fl.StringVar(&c.Note, "note", "", "a free `text` for whoever reads the alert next")
	return cmd
}

// withAlerts runs fn on the alert store of the data directory's
// metadata database.
func (t *adminTarget) withAlerts(cmd *cobra.Command, fn func(*alerts.Store) error) error {
	return t.withBackend(cmd, func(b adminBackend) error {
		l, ok := b.(localAdmin)
		if !ok {
			return fmt.Errorf("alerts: not a local backend")
		}
		s, err := alerts.New(cmd.Context(), l.s)
		if err != nil {
			return err
		}
		return fn(s)
	})
}

func printAlertTable(w io.Writer, list []alerts.Alert) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tRULE\tSEVERITY\tUSER\tWINDOW START\tCOUNT\tSTATE\tASSIGNEE\tSUMMARY")
	for _, a := range list {
		start := a.WindowStart
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", a.ID, a.Rule, a.Severity, dash(a.User), formatTime(&start),
			a.Count, a.State, dash(a.Assignee), a.Summary)
	}
	return tw.Flush()
}
