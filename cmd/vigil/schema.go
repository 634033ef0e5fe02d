package main

import "github.com/spf13/cobra"

// newSchemaCmd is owned by the schema work; placeholder until it lands.
func newSchemaCmd() *cobra.Command {
	return &cobra.Command{Use: "schema", Short: "Print the event catalog"}
}
