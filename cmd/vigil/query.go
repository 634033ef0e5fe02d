package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"github.com/valyala/fastjson"

	"github.com/vigilaudit/vigil/internal/httpapi"
	"github.com/vigilaudit/vigil/schema"
)

// queryFlags are the filters and output options of vigil query.
type queryFlags struct {
	server, token            string
	since, until             string
	topics, events           []string
	user, device, soid, path string
	ip, key, folder, order   string
	limit                    int
	format                   enumFlag
	follow                   bool
	output                   string
}

func newQueryCmd() *cobra.Command {
	f := &queryFlags{format: enumFlag{value: "table", allowed: []string{"table", "json", "ndjson", "csv"}}}
	cmd := &cobra.Command{
		Use:   "query [filters] [--format table|json|ndjson|csv] [--follow] [--output FILE]",
		Short: "Search, export and tail audit events",
		Long: `Search the audit events of a running server (GET /audit/v1/events) with
an admin or auditor token (--token or VIGIL_TOKEN).

Filters: --since and --until take RFC 3339 times or durations before now
(24h, 7d); --topic and --event may be repeated or comma-separated; --user
matches any role a user plays in an event (submitter, user, caller,
target, ...); --device any device role; --path a prefix of the path.

Formats: table (the newest --limit events, default 100), json (one page
as the API answers it, with next_cursor), ndjson and csv (every match,
streamed, unless --limit is given). --output writes to a file and shows
progress (rows and rate) on stderr. --follow tails new events live.

Data goes to stdout (or --output), messages and progress to stderr. Every
query is itself recorded as an audit.query event.`,
		Example: `  vigil query --server http://127.0.0.1:8080 --since 24h --user alice@example.com
  vigil query --event file.transfer --since 7d --format csv --output transfers.csv
  vigil query --topic LINK --follow --format ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuery(cmd.Context(), cmd, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "http://127.0.0.1:8080", "`URL` of the Vigil server")
	fl.StringVar(&f.token, "token", "", "admin or auditor `token` (default $"+tokenEnv+")")
	fl.StringVar(&f.since, "since", "", "events at or after this `time` (RFC 3339, or a duration before now like 24h, 7d)")
	fl.StringVar(&f.until, "until", "", "events before this `time`")
	fl.StringSliceVar(&f.topics, "topic", nil, "`topic`s (FILE, USER, SHARING, DEVICE, LINK, ORG, AUDIT, ALERT)")
	fl.StringSliceVar(&f.events, "event", nil, "event `name`s, e.g. file.transfer")
	fl.StringVar(&f.user, "user", "", "a `user` in any role")
	fl.StringVar(&f.device, "device", "", "a `device` id in any role")
	fl.StringVar(&f.soid, "soid", "", "a file or folder `id` (64 hex)")
	fl.StringVar(&f.path, "path", "", "a path `prefix`")
	fl.StringVar(&f.ip, "ip", "", "an IP `address`")
	fl.StringVar(&f.key, "key", "", "a link `key`")
	fl.StringVar(&f.folder, "folder", "", "a shared folder `id`")
	fl.StringVar(&f.order, "order", "desc", "`order`: desc (newest first) or asc")
	fl.IntVar(&f.limit, "limit", 0, "at most this many `events` (1 to 1000; table default 100)")
	fl.Var(&f.format, "format", "output format: "+f.format.choices())
	fl.BoolVar(&f.follow, "follow", false, "tail new events live (ndjson or table)")
	fl.StringVarP(&f.output, "output", "o", "", "write to this `file` instead of stdout, with progress on stderr")
	return cmd
}

func (f *queryFlags) values() url.Values {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("since", f.since)
	set("until", f.until)
	set("topic", strings.Join(f.topics, ","))
	set("event", strings.Join(f.events, ","))
	set("user", f.user)
	set("device", f.device)
	set("soid", f.soid)
	set("path", f.path)
	set("ip", f.ip)
	set("key", f.key)
	set("folder", f.folder)
	set("order", f.order)
	return q
}

func runQuery(ctx context.Context, cmd *cobra.Command, f *queryFlags) error {
	token := f.token
	if token == "" {
		token = os.Getenv(tokenEnv)
	}
	if token == "" {
		return fmt.Errorf("an admin or auditor token is needed: --token or %s", tokenEnv)
	}
	if f.limit < 0 || f.limit > 1000 {
		return errors.New("--limit: must be 1 to 1000")
	}
	q := f.values()
	format := f.format.value
	route := "/audit/v1/events"
	switch {
	case f.follow:
		route += "/stream"
		if format == "csv" || format == "json" {
			return errors.New("--follow writes ndjson or a table")
		}
	case format == "table":
		q.Set("limit", strconv.Itoa(cmp0(f.limit, 100)))
		q.Set("format", "json")
	default:
		q.Set("format", format)
		if f.limit > 0 || format == "json" {
			q.Set("limit", strconv.Itoa(cmp0(f.limit, 100)))
		}
	}
	// Exports and the live tail run as long as they need: no timeout.
	c, err := httpapi.NewClient(httpapi.ClientConfig{URL: f.server, Token: token, HTTP: &http.Client{}})
	if err != nil {
		return fmt.Errorf("--server: %w", err)
	}
	resp, err := c.Open(ctx, http.MethodGet, route+"?"+q.Encode(), nil)
	if err != nil {
		return fmt.Errorf("query %s: %w", f.server, err)
	}
	defer resp.Body.Close()

	out := cmd.OutOrStdout()
	var rows atomic.Int64
	if f.output != "" {
		file, err := os.Create(f.output)
		if err != nil {
			return fmt.Errorf("--output: %w", err)
		}
		defer file.Close()
		bw := bufio.NewWriterSize(file, 1<<20)
		defer bw.Flush()
		out = bw
		stop := exportProgress(cmd.ErrOrStderr(), &rows)
		defer stop()
	}
	switch {
	case f.follow:
		return followEvents(resp.Body, out, format, &rows)
	case format == "table":
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"next_cursor"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			return fmt.Errorf("read answer: %w", err)
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIMESTAMP\tTOPIC\tEVENT\tWHO\tWHAT\tSUBMITTER")
		for _, e := range page.Events {
			fmt.Fprintln(tw, tableLine(e))
			rows.Add(1)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if page.NextCursor != "" {
			fmt.Fprintf(cmd.ErrOrStderr(), "(more events: raise --limit, or export with --format ndjson)\n")
		}
		return nil
	default:
		// Copy as it comes, counting lines for the progress line.
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		for sc.Scan() {
			if _, err := out.Write(append(sc.Bytes(), '\n')); err != nil {
				return err
			}
			rows.Add(1)
		}
		return sc.Err()
	}
}

func cmp0(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// tableLine summarizes an event: time, topic, event, who acted (the
// catalog's actor of the event), on what, and who submitted it (the
// device's user, for events that devices upload).
func tableLine(wire []byte) string {
	var p fastjson.Parser
	v, err := p.ParseBytes(wire)
	if err != nil {
		return string(wire)
	}
	s := func(keys ...string) string { return string(v.GetStringBytes(keys...)) }
	who := ""
	if spec, ok := schema.Lookup(s("event")); ok {
		if path := spec.Actor(); path != nil {
			who = s(path...)
		}
	}
	what := s("path", "relative_path")
	for _, k := range [][]string{{"folder", "name"}, {"key"}, {"target"}, {"target_user"}, {"device"}, {"device_id"}, {"email"}, {"name"}} {
		if what != "" {
			break
		}
		what = s(k...)
	}
	return strings.Join([]string{s("timestamp"), s("topic"), s("event"), dash(who), dash(what), dash(s("verified_submitter", "user_id"))}, "\t")
}

// followEvents prints the data of Server-Sent Events as they come.
func followEvents(body io.Reader, out io.Writer, format string, rows *atomic.Int64) error {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		data, ok := bytes.CutPrefix(line, []byte("data: "))
		if !ok {
			if bytes.HasPrefix(line, []byte("event: error")) {
				return errors.New("the server ended the live tail with an error")
			}
			continue
		}
		if format == "table" {
			fmt.Fprintln(out, strings.ReplaceAll(tableLine(data), "\t", "  "))
		} else {
			fmt.Fprintf(out, "%s\n", data)
		}
		if fl, ok := out.(interface{ Flush() error }); ok {
			_ = fl.Flush()
		}
		rows.Add(1)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("live tail: %w", err)
	}
	return nil
}
