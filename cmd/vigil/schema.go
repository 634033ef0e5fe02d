package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/schema"
)

func newSchemaCmd() *cobra.Command {
	format := enumFlag{value: "table", allowed: []string{"table", "json", "jsonschema"}}
	cmd := &cobra.Command{
		Use:   "schema [--format table|json|jsonschema]",
		Short: "Print the audit event catalog",
		Long: `Print the catalog of audit events Vigil accepts: every topic, event and
field, with the field's type and whether it is optional.

Formats:
  table       one line per event: topic, event, origin and fields, optional
              fields in [brackets] (the default)
  json        an array of {topic, event, origin, doc, fields: [{name, type,
              optional}]}
  jsonschema  a JSON Schema (draft 2020-12) that validates any event in
              Vigil's wire form

Origins: "documented" events are in the audit service's reference,
"original" ones were emitted by the original service beyond it, and
"extension" ones are Vigil's own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return printSchema(cmd.OutOrStdout(), format.value)
		},
	}
	cmd.Flags().Var(&format, "format", "output format: "+format.choices())
	return cmd
}

func printSchema(w io.Writer, format string) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(schema.Catalog(), "", "  ")
		if err != nil {
			return fmt.Errorf("encode catalog: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "jsonschema":
		b, err := schema.JSONSchema()
		if err != nil {
			return fmt.Errorf("build json schema: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TOPIC\tEVENT\tORIGIN\tFIELDS")
	for _, s := range schema.Catalog() {
		fields := make([]string, len(s.Fields))
		for i, f := range s.Fields {
			fields[i] = f.Name + ":" + string(f.Type)
			if f.Optional {
				fields[i] = "[" + fields[i] + "]"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.Topic, s.Name, s.Origin, strings.Join(fields, ", "))
	}
	return tw.Flush()
}
