package main

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/vigilaudit/vigil/dashboards/detect"
	"github.com/vigilaudit/vigil/internal/config"
)

func newDetectCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "detect",
		Short: "Work with the leak-detection rules",
		Long: `Work with the leak-detection rules that vigil serve runs as the event
log's consumer group "detect" (the detect: section of the config file).`,
		Example: `  vigil detect test rules.yaml events.ndjson --format table`,
		Args:    cobra.NoArgs,
	}
	cmd.AddCommand(newDetectTestCmd())
	return cmd
}

func newDetectTestCmd() *cobra.Command {
	format := enumFlag{value: "json", allowed: []string{"json", "table"}}
	var noBuiltin bool
	cmd := &cobra.Command{
		Use:   "test RULES.yaml EVENTS.ndjson",
		Short: "Print the alerts rules would raise over a file of events",
		Long: `Run detection rules over a file of events, without a server, and print
the alerts they would raise, in the order they would be raised.

RULES.yaml holds the detect section of a config file: either the whole
file (its detect: key is read, other keys must be valid config keys
too) or the section's keys at the top level (rules:, builtin:, late:).
The built-in rules run too, as in vigil serve, unless --no-builtin or
builtin: turns them off. EVENTS.ndjson holds one event a line, in any
form ingest accepts or Vigil's wire form (what vigil query --format
ndjson prints); events are taken in file order, as the log's order.

Formats:
  json   one alert.raised event a line, as vigil serve would emit it
         (the default)
  table  one line per alert: rule, severity, group, count, window, summary`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDetectTest(cmd.OutOrStdout(), args[0], args[1], format.value, noBuiltin)
		},
	}
	cmd.Flags().Var(&format, "format", "output format: "+format.choices())
	cmd.Flags().BoolVar(&noBuiltin, "no-builtin", false, "run only the file's own rules")
	return cmd
}

func runDetectTest(w io.Writer, rulesPath, eventsPath, format string, noBuiltin bool) error {
	cfg, err := loadRules(rulesPath)
	if err != nil {
		return err
	}
	if noBuiltin {
		off := false
		cfg.Builtin = map[string]detect.Override{}
		for _, r := range detect.Builtins() {
			cfg.Builtin[r.Name] = detect.Override{Enabled: &off}
		}
	}
	f, err := os.Open(eventsPath)
	if err != nil {
		return fmt.Errorf("open events: %w", err)
	}
	defer f.Close()
	events, err := detect.ReadEvents(f)
	if err != nil {
		return fmt.Errorf("%s: %w", eventsPath, err)
	}
	alerts, err := detect.Test(cfg, events)
	if err != nil {
		return err
	}
	return printAlerts(w, alerts, format)
}

// loadRules reads a rules file, in either of its two forms: a file with
// a detect: key is a config file.
func loadRules(path string) (detect.Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return detect.Config{}, fmt.Errorf("read rules: %w", err)
	}
	var top map[string]any
	if err := yaml.Unmarshal(raw, &top); err != nil {
		return detect.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if _, ok := top["detect"]; ok {
		var whole Config
		if err := config.Load(path, &whole); err != nil {
			return detect.Config{}, err
		}
		if err := whole.Detect.Validate(); err != nil {
			return detect.Config{}, &listError{title: "invalid rules in " + path, err: prefixed("detect", err)}
		}
		return whole.Detect, nil
	}
	var c detect.Config
	if err := config.Load(path, &c); err != nil {
		return detect.Config{}, err
	}
	if err := c.Validate(); err != nil {
		return detect.Config{}, &listError{title: "invalid rules in " + path, err: err}
	}
	return c, nil
}

// prefixed puts a section's problems under its key.
func prefixed(key string, err error) error {
	var p config.Problems
	p.Nest(key, err)
	return p.Err()
}

func printAlerts(w io.Writer, alerts []detect.Alert, format string) error {
	if format == "table" {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tSEVERITY\tGROUP\tCOUNT\tWINDOW\tSUMMARY")
		for _, a := range alerts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s..%s\t%s\n", a.Rule, a.Severity, a.Group, a.Count,
				a.Start.Format(time.RFC3339), a.End.Format(time.RFC3339), a.Summary)
		}
		return tw.Flush()
	}
	for _, a := range alerts {
		e, err := a.Event()
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%s\n", e.Wire()); err != nil {
			return err
		}
	}
	return nil
}
