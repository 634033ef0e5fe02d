package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigilaudit/vigil/schema"
)

// readmePath is the README, from this package's directory.
var readmePath = filepath.Join("..", "..", "README.md")

// shellBlock is one ```sh example of the README.
type shellBlock struct {
	line   int    // of the opening fence, 1-based
	run    bool   // marked <!-- run -->
	reason string // why not, for <!-- skip: reason -->
	text   string
}

// markerRE matches the line before every shell example.
var markerRE = regexp.MustCompile(`^<!-- (run|skip: (\S.*\S)) -->$`)

// shellInfo are the fence info strings of shell examples.
var shellInfo = map[string]bool{"sh": true, "bash": true, "shell": true, "console": true}

// readmeShellBlocks returns the README's shell examples in order, and an
// error for every one without a run or skip marker on the line before.
func readmeShellBlocks(readme string) ([]shellBlock, error) {
	lines := strings.Split(readme, "\n")
	var (
		blocks []shellBlock
		errs   []error
	)
	for i := 0; i < len(lines); i++ {
		info, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		end := i + 1
		for end < len(lines) && !strings.HasPrefix(lines[end], "```") {
			end++
		}
		if end == len(lines) {
			errs = append(errs, fmt.Errorf("README line %d: code block never closed", i+1))
			break
		}
		if shellInfo[strings.TrimSpace(info)] {
			b := shellBlock{line: i + 1, text: strings.Join(lines[i+1:end], "\n") + "\n"}
			m := []string(nil)
			if i > 0 {
				m = markerRE.FindStringSubmatch(lines[i-1])
			}
			switch {
			case m == nil:
				errs = append(errs, fmt.Errorf("README line %d: a shell example needs <!-- run --> or <!-- skip: reason --> on the line before it", i+1))
			case m[1] == "run":
				b.run = true
			default:
				b.reason = m[2]
			}
			blocks = append(blocks, b)
		}
		i = end
	}
	return blocks, errors.Join(errs...)
}

func readReadme(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestReadme_ShellBlocksMarked: every shell example says whether the
// README test runs it, so that a new example is either run or skipped on
// purpose.
func TestReadme_ShellBlocksMarked(t *testing.T) {
	blocks, err := readmeShellBlocks(readReadme(t))
	if err != nil {
		t.Error(err)
	}
	runs := 0
	for _, b := range blocks {
		if b.run {
			runs++
		}
	}
	if runs == 0 {
		t.Error("README has no <!-- run --> example")
	}
}

func TestReadme_ShellBlocksMarked_Parser(t *testing.T) {
	const readme = "text\n<!-- run -->\n```sh\necho a\n```\n\n```sh\necho b\n```\n<!-- skip: needs Kafka -->\n```sh\necho c\n```\n```yaml\nx: 1\n```\n<!-- run -->\n\n```sh\necho d\n```\n"
	blocks, err := readmeShellBlocks(readme)
	if err == nil || !strings.Contains(err.Error(), "line 7:") || !strings.Contains(err.Error(), "line 19:") {
		t.Errorf("errors = %v, want the unmarked blocks at lines 7 and 19", err)
	}
	if len(blocks) != 4 || !blocks[0].run || blocks[1].run || blocks[2].reason != "needs Kafka" || blocks[0].text != "echo a\n" {
		t.Errorf("blocks = %+v", blocks)
	}
}

// blockMark separates the output of the examples the test runs.
const blockMark = "@@readme-example@@"

// TestReadme_Examples runs the README's <!-- run --> examples in order,
// in one bash session with `set -euo pipefail`, in an empty directory,
// with the vigil binary on PATH and VIGIL set to a free address (the
// examples start the server there in the background). Every command must
// succeed, and the examples must print what the README says they print.
func TestReadme_Examples(t *testing.T) {
	for _, tool := range []string{"bash", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the README's examples need %s (Debian package %s), which is not installed", tool, tool)
		}
	}
	readme := readReadme(t)
	blocks, err := readmeShellBlocks(readme)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := buildVigil()
	if err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	dir := t.TempDir()

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	// Stop the server the examples start in the background, whatever
	// way the script ends; the exit status stays the script's.
	script.WriteString("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\n")
	var run []shellBlock
	for _, b := range blocks {
		if !b.run {
			continue
		}
		run = append(run, b)
		fmt.Fprintf(&script, "printf '\\n%s %d\\n'\n", blockMark, len(run)-1)
		fmt.Fprintf(&script, "printf '\\n%s %d (README line %d)\\n' >&2\n", blockMark, len(run)-1, b.line)
		script.WriteString(b.text)
	}

	stdout, stderr := filepath.Join(dir, ".stdout"), filepath.Join(dir, ".stderr")
	out, errOut := createFile(t, stdout), createFile(t, stderr)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	cmd.Env = append(readmeEnv(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"), "VIGIL=http://"+addr)
	cmd.Stdout, cmd.Stderr = out, errOut
	// bash and the server it starts share a process group, killed whole
	// on timeout and, should anything be left, at cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	t.Cleanup(func() {
		if cmd.Process != nil && syscall.Kill(-cmd.Process.Pid, 0) == nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
	})
	runErr := cmd.Run()
	_ = out.Close()
	_ = errOut.Close()
	outputs := splitOutputs(readFile(t, stdout))
	if runErr != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "vigil.log"))
		t.Fatalf("the README's examples failed: %v\nstdout:\n%s\nstderr:\n%s\nvigil.log:\n%s", runErr, readFile(t, stdout), readFile(t, stderr), log)
	}
	if len(outputs) != len(run) {
		t.Fatalf("%d of %d examples printed their marker:\n%s", len(outputs), len(run), readFile(t, stdout))
	}

	// output returns what the run example containing s printed.
	output := func(s string) (string, bool) {
		for i, b := range run {
			if strings.Contains(b.text, s) {
				return outputs[i], true
			}
		}
		t.Errorf("README has no run example containing %q any more; update TestReadme_Examples", s)
		return "", false
	}

	// device add prints the JSON the README shows, field for field.
	if got, ok := output("device add --user alice@example.com --name alice-laptop\n"); ok {
		_, after, _ := strings.Cut(readme, "device add --user alice@example.com --name alice-laptop\n```")
		_, shown, _ := strings.Cut(after, "```json\n")
		shown, _, _ = strings.Cut(shown, "```")
		if gk, wk := jsonKeys(t, got), jsonKeys(t, shown); !slices.Equal(gk, wk) {
			t.Errorf("device add prints the fields %v; the README shows %v", gk, wk)
		}
		var dev struct{ Token string }
		if err := json.Unmarshal([]byte(got), &dev); err != nil || len(dev.Token) != 64 {
			t.Errorf("device add printed %q", got)
		}
	}
	// The batch is answered as the README's comment says, exactly.
	if got, ok := output("--data-binary @events.ndjson"); ok {
		_, want, found := strings.Cut(readme, "\n# 202: ")
		want, _, _ = strings.Cut(want, "\n")
		if !found || strings.TrimSpace(got) != want {
			t.Errorf("posting the batch printed %q, the README says %q", strings.TrimSpace(got), want)
		}
	}
	// The files and folders example renames, then deletes.
	if got, ok := output(`"name":"final.txt"`); ok && strings.TrimSpace(got) != "final.txt\n204" {
		t.Errorf("the files and folders example printed %q; want final.txt, then 204", got)
	}
	if got, ok := output(`"$VIGIL/l/$KEY/content"`); ok && strings.TrimSpace(got) != "403\n200\n204" {
		t.Errorf("the links example printed %q; want 403, 200, then 204", got)
	}
	// An administrator registers an app with curl: 201 and the tutorial's fields.
	if got, ok := output(`"name":"My Second App"`); ok && strings.TrimSpace(got) != "\"hostname\":\n\"client_id\":\n\"client_secret\":\n201" {
		t.Errorf("the app registration example printed %q; want hostname, client_id, client_secret, then 201", got)
	}
	// The shared folders example adds Dan as a writer.
	if got, ok := output(`/shares/$SID/members`); ok &&
		strings.TrimSpace(got) != `{"email":"dan@example.com","first_name":"Dan","last_name":"Brook","permissions":["WRITE"]}` {
		t.Errorf("the shared folders example printed %q; want Dan's member entry with WRITE", got)
	}
	if got, ok := output("quarantine replay"); ok {
		for _, w := range []string{`not an email address or pseudo-user id: "nobody"`, `"replayed": 0`, `"rejected": 1`} {
			if !strings.Contains(got, w) {
				t.Errorf("the quarantine example printed no %q:\n%s", w, got)
			}
		}
	}
	if got, ok := output("--user bob@example.com"); ok {
		table, api, _ := strings.Cut(got, "{")
		for _, w := range []string{"TIMESTAMP", "user.signin", "file.transfer", "Reports/Q1 Report.pdf"} {
			if !strings.Contains(table, w) {
				t.Errorf("vigil query --user bob@example.com shows no %q:\n%s", w, table)
			}
		}
		var page struct {
			Events []struct{ Event string }
		}
		if err := json.Unmarshal([]byte("{"+api), &page); err != nil {
			t.Errorf("the events API answered %q: %v", "{"+api, err)
		}
		var events []string
		for _, e := range page.Events {
			events = append(events, e.Event)
		}
		if !slices.Equal(events, []string{"link.download", "link.create"}) && !slices.Equal(events, []string{"link.create", "link.download"}) {
			t.Errorf("the events API found %v, want the link's creation and download", events)
		}
		if csv := readFile(t, filepath.Join(dir, "transfers.csv")); strings.Count(csv, "\n") != 2 || !strings.Contains(csv, ",file.transfer,") {
			t.Errorf("transfers.csv holds:\n%s", csv)
		}
	}
	// Signing in with POST /auth gives a token the content API takes.
	if got, ok := output(`"$VIGIL/auth"`); ok {
		_, want, found := strings.Cut(readme, "\n# {\"email\":\"carol@example.com\"")
		want, _, _ = strings.Cut(want, "\n")
		if want = `{"email":"carol@example.com"` + want; !found || strings.TrimSpace(got) != want {
			t.Errorf("the sign-in example printed %q, the README says %q", strings.TrimSpace(got), want)
		}
	}
	// The OAuth 2.0 exchange ends with the API answering the app's token.
	if got, ok := output(`"$VIGIL/auth/token"`); ok {
		if want := `{"email":"carol@example.com","first_name":"Carol","last_name":"Singer","is_admin":false}`; strings.TrimSpace(got) != want {
			t.Errorf("the OAuth example printed %q, want %q", strings.TrimSpace(got), want)
		}
	}
	if got, ok := output(" sinks "); ok && !strings.HasPrefix(got, "NAME ") {
		t.Errorf("vigil admin sinks printed %q", got)
	}
}

// readmeEnv is the test's environment without Vigil's own variables, so
// that the examples see only what they set.
func readmeEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VIGIL") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	return env
}

// splitOutputs cuts the examples' stdout at their markers.
func splitOutputs(stdout string) []string {
	parts := strings.Split(stdout, "\n"+blockMark+" ")
	var out []string
	for _, p := range parts[1:] {
		_, body, _ := strings.Cut(p, "\n") // the example's number
		out = append(out, body)
	}
	return out
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func createFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
	}
	return string(b)
}

// jsonKeys returns the member names of a JSON object, in order.
func jsonKeys(t *testing.T, doc string) []string {
	t.Helper()
	d := json.NewDecoder(bytes.NewReader([]byte(doc)))
	if tok, err := d.Token(); err != nil || tok != json.Delim('{') {
		t.Errorf("not a JSON object: %q", doc)
		return nil
	}
	var keys []string
	for d.More() {
		k, err := d.Token()
		if err != nil {
			t.Errorf("%v in %q", err, doc)
			return keys
		}
		keys = append(keys, k.(string))
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			t.Errorf("%v in %q", err, doc)
			return keys
		}
	}
	return keys
}

// checkGenerated compares the README's text between begin and end with
// want, or with -update writes want there.
func checkGenerated(t *testing.T, begin, end, want string) {
	t.Helper()
	readme := readReadme(t)
	before, rest, ok := strings.Cut(readme, begin)
	old, after, ok2 := strings.Cut(rest, end)
	if !ok || !ok2 {
		t.Fatalf("README has no generated section between %q and %q", begin, end)
	}
	if *update {
		if err := os.WriteFile(readmePath, []byte(before+begin+want+end+after), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if old != want {
		t.Errorf("README's section after %q is stale; run go test ./cmd/vigil -run %s -update\ngot:\n%s\nwant:\n%s", strings.TrimSpace(begin), t.Name(), old, want)
	}
}

// The README's commands table, made from the command tree.
const (
	commandsBegin = "<!-- commands: generated by `go test ./cmd/vigil -run TestReadmeCommands -update` -->\n"
	commandsEnd   = "<!-- end of commands -->\n"
)

// everyCommand returns the commands under root, depth first, in the
// order --help lists them, without cobra's own help and completion.
func everyCommand(root *cobra.Command) []*cobra.Command {
	var out []*cobra.Command
	for _, c := range root.Commands() {
		if c.Hidden || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		out = append(out, c)
		out = append(out, everyCommand(c)...)
	}
	return out
}

// commandsTable is the README's table of commands: each one's path and
// arguments as its Use line gives them, and its short help.
func commandsTable() string {
	var b strings.Builder
	b.WriteString("| command | does |\n| --- | --- |\n")
	cell := strings.NewReplacer("|", `\|`)
	for _, c := range everyCommand(newRootCmd(&app{})) {
		use := c.CommandPath()
		if _, args, ok := strings.Cut(c.Use, " "); ok {
			use += " " + args
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", cell.Replace(use), cell.Replace(c.Short))
	}
	return b.String()
}

// TestReadmeCommands: the README's commands table lists every command
// as the command line defines it.
func TestReadmeCommands(t *testing.T) {
	checkGenerated(t, commandsBegin, commandsEnd, commandsTable())
}

// The README's counts of the event catalog.
const (
	eventsBegin = "<!-- event counts: generated by `go test ./cmd/vigil -run TestReadmeEventCounts -update` -->\n"
	eventsEnd   = "<!-- end of event counts -->\n"
)

// originDoc says what each origin of the catalog means, in the README.
var originDoc = map[schema.Origin]string{
	schema.Documented: "documented: in the audit reference",
	schema.Original:   "original: emitted by the original service, not in the reference",
	schema.Extension:  "extension: Vigil's own",
}

// eventCounts is the README's table of the catalog by origin and topic;
// it names the events that are not in the reference.
func eventCounts() string {
	var origins []schema.Origin
	count := map[schema.Origin]map[schema.Topic][]string{}
	cat := schema.Catalog()
	for _, e := range cat {
		if count[e.Origin] == nil {
			origins = append(origins, e.Origin)
			count[e.Origin] = map[schema.Topic][]string{}
		}
		count[e.Origin][e.Topic] = append(count[e.Origin][e.Topic], e.Name)
	}
	var b strings.Builder
	b.WriteString("| origin | events | by topic |\n| --- | --- | --- |\n")
	for _, o := range origins {
		var parts []string
		n := 0
		for _, topic := range schema.Topics() {
			names := count[o][topic]
			if len(names) == 0 {
				continue
			}
			n += len(names)
			part := fmt.Sprintf("%d %s", len(names), topic)
			if o != schema.Documented {
				part += " (`" + strings.Join(names, "`, `") + "`)"
			}
			parts = append(parts, part)
		}
		doc := originDoc[o]
		if doc == "" {
			doc = string(o)
		}
		fmt.Fprintf(&b, "| %s | %d | %s |\n", doc, n, strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "| all | %d | %d topics |\n", len(cat), len(schema.Topics()))
	return b.String()
}

// TestReadmeEventCounts: the README counts the catalog's events as
// schema.Catalog holds them, by origin and topic.
func TestReadmeEventCounts(t *testing.T) {
	checkGenerated(t, eventsBegin, eventsEnd, eventCounts())
}
