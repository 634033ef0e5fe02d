package main

import (
	"bytes"
	"cmp"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		// The binary that tests run as a process is built once, in its
		// own temporary directory.
		if dir := vigilBinDir.Load(); dir != nil {
			_ = os.RemoveAll(dir.(string))
		}
	}))
}

// runCmd runs the command line and returns its exit code and output.
func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{args: []string{"--help"}, want: []string{"serve", "version", "schema", "leak-detection", "Planned:", "--log-format", "--log-level"}},
		{args: []string{"help"}, want: []string{"serve", "version", "schema"}},
		{args: []string{"serve", "--help"}, want: []string{"/healthz", "${VAR}"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("help does not mention %q:\n%s", w, stdout)
				}
			}
		})
	}
}

// TestHelp_EveryCommand checks that --help works for every subcommand and
// lists the command's flags, including the global ones where they apply.
func TestHelp_EveryCommand(t *testing.T) {
	root := newRootCmd(&app{})
	for _, cmd := range root.Commands() {
		if cmd.Hidden || cmd.Name() == "help" || cmd.Name() == "completion" {
			continue
		}
		t.Run(cmd.Name(), func(t *testing.T) {
			code, stdout, stderr := runCmd(t, cmd.Name(), "--help")
			if code != 0 {
				t.Fatalf("exit code %d, stderr:\n%s", code, stderr)
			}
			about, _, _ := strings.Cut(cmp.Or(cmd.Long, cmd.Short), "\n")
			if !strings.Contains(stdout, about) {
				t.Errorf("help does not show %q:\n%s", about, stdout)
			}
			var flags []string
			cmd.LocalFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, "--"+f.Name) })
			if cmd.Runnable() {
				cmd.InheritedFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, "--"+f.Name) })
			}
			for _, f := range flags {
				if !strings.Contains(stdout, f) {
					t.Errorf("help does not mention %s:\n%s", f, stdout)
				}
			}
		})
	}
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config", "listen", "data-dir"} {
		if serve.Flags().Lookup(f) == nil {
			t.Errorf("serve has no --%s flag", f)
		}
	}
}

func TestRun_Errors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{
			name: "UnknownFlag",
			args: []string{"serve", "--nope"},
			want: "vigil: unknown flag: --nope (see 'vigil serve --help')\n",
		},
		{
			name: "BadLogLevel",
			args: []string{"--log-level", "loud", "version"},
			want: `vigil: invalid argument "loud" for "--log-level" flag: must be one of debug, info, warn, error (see 'vigil version --help')` + "\n",
		},
		{
			name: "BadLogFormat",
			args: []string{"serve", "--log-format", "xml"},
			want: `vigil: invalid argument "xml" for "--log-format" flag: must be one of text, json (see 'vigil serve --help')` + "\n",
		},
		{
			name: "UnknownCommand",
			args: []string{"frobnicate"},
			want: "vigil: unknown command \"frobnicate\" for \"vigil\"\n",
		},
		{
			name: "UnknownSubcommand",
			args: []string{"admin", "token", "lst"},
			want: "vigil: unknown command \"lst\" for \"vigil admin token\" (see 'vigil admin token --help')\n",
		},
		{
			name: "ExtraArgs",
			args: []string{"version", "extra"},
			want: "vigil: unknown command \"extra\" for \"vigil version\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, tt.args...)
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if stdout != "" {
				t.Errorf("stdout = %q, want nothing", stdout)
			}
			if stderr != tt.want {
				t.Errorf("stderr = %q, want %q", stderr, tt.want)
			}
		})
	}
}

// TestHelp_EveryCommandDocumented: every command, at every depth, has a
// short help for the lists and a long help or examples for its --help.
func TestHelp_EveryCommandDocumented(t *testing.T) {
	root := newRootCmd(&app{})
	for _, c := range append([]*cobra.Command{root}, everyCommand(root)...) {
		if strings.TrimSpace(c.Short) == "" {
			t.Errorf("%s has no short help", c.CommandPath())
		}
		if strings.TrimSpace(c.Long) == "" && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s has neither a long help nor examples", c.CommandPath())
		}
	}
}
