package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at link time: go build -ldflags "-X main.version=v1.2.3".
// It is the one package variable in the binary, because -X needs one.
var version string

// buildInfo describes this binary.
type buildInfo struct {
	Version   string
	GoVersion string
	Revision  string // VCS revision, if the build recorded one
	Modified  bool   // the working tree had uncommitted changes
}

// readBuildInfo returns the link-time version, else the module version the
// binary was built at (go install ...@v1.2.3), else "dev".
func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, GoVersion: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "dev"
		}
		return b
	}
	if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, Go version and VCS revision",
		Long: `Print the version of this binary, the Go version it was built with and,
when the build recorded one, the VCS revision ("(modified)" when the
working tree had uncommitted changes). The version is the one set at
link time (-ldflags "-X main.version=v1.2.3"), else the module version
of "go install ...@v1.2.3", else "dev".`,
		Example: "  vigil version",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			b := readBuildInfo()
			fmt.Fprintf(a.stdout, "vigil %s\n", b.Version)
			fmt.Fprintf(a.stdout, "go: %s\n", b.GoVersion)
			if b.Revision != "" {
				rev := b.Revision
				if b.Modified {
					rev += " (modified)"
				}
				fmt.Fprintf(a.stdout, "revision: %s\n", rev)
			}
			return nil
		},
	}
}
