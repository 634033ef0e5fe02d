package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// rule says which of our packages the packages matching pkg may import.
// Patterns are module-relative: "query" is that package alone, "query/..."
// is it and everything below it, "..." is everything. The most specific
// (longest) pattern matching a package is its rule.
type rule struct {
	pkg   string
	allow []string
	// testAllow is what the package's tests may import on top of allow.
	testAllow []string
	why       string
}

// layers is DESIGN.md's import table. Standard library and third-party
// imports are not checked here. Test-support packages (logtest, storetest,
// sinktest) sit under the interface they test and share its rule, so they
// may import that interface.
var layers = []rule{
	{pkg: "schema/...", allow: []string{"schema/..."},
		why: "schema holds the event catalog and imports nothing of ours"},
	{pkg: "ingest/...", allow: []string{"schema/...", "internal/auth/...", "internal/httpapi", "internal/config", "internal/localdb", "ingest", "ingest/eventlog"},
		testAllow: []string{"ingest/eventlog/..."},
		why:       "ingest may import schema, internal/auth, the HTTP kit, config and the event log interface, never a log implementation"},
	{pkg: "ingest/eventlog/...", allow: []string{"schema/...", "internal/config", "ingest/eventlog/..."},
		why: "the event log and its implementations may import schema and config"},
	{pkg: "ingest/agent/...", allow: []string{"schema/...", "ingest/agent/..."},
		why: "the agent may import schema"},
	{pkg: "sinks/...", allow: []string{"schema/...", "ingest/eventlog", "internal/httpapi", "internal/config", "internal/localdb", "sinks/..."},
		why: "sinks and their kinds may import schema, the event log interface, the HTTP kit, config and sinks"},
	{pkg: "sinks/peertest/...", allow: []string{"sinks/sinktest", "internal/config", "sinks/peertest/..."},
		why: "peertest starts real receivers for tests; it may use the sink test kit and config"},
	{pkg: "query/...", allow: []string{"schema/...", "ingest/eventlog", "internal/auth/...", "internal/httpapi", "internal/config", "query/..."},
		why: "query and its stores may import schema, the event log interface, internal/auth, the HTTP kit, config and query"},
	{pkg: "dashboards/...", allow: []string{"query/...", "schema/...", "ingest/eventlog", "internal/auth/...", "internal/httpapi", "internal/config", "internal/metadb/...", "dashboards/..."},
		// The detection engine's restart tests run on the embedded log.
		testAllow: []string{"ingest/eventlog/filelog"},
		why:       "dashboards read through query, consume the event log interface and keep alert states in the metadata database"},
	{pkg: "dashboards/console/...", allow: []string{"query", "dashboards/alerts", "schema", "internal/auth", "internal/httpapi", "dashboards/console/..."},
		why: "the web console serves pages that read the audit APIs; it checks the browser's session through interfaces internal/auth declares (the content API implements them, cmd wires it) and knows no store, log or content API internals"},
	{pkg: "contentapi/...", allow: []string{"schema/...", "internal/auth/...", "internal/httpapi", "internal/config", "internal/localdb", "internal/metadb/...", "contentapi/..."},
		why: "contentapi may import schema, internal/auth, the HTTP kit, config and the metadata database; it audits through an interface it declares"},
	{pkg: "contentapi/transfer/...", allow: []string{"contentapi/blob"},
		testAllow: []string{"contentapi/blob/diskblob", "internal/httpapi"},
		why:       "transfer moves content between HTTP and a blob store and knows nothing of the file tree; its tests write errors with the HTTP kit as the content API does"},
	{pkg: "contentapi/tree", allow: []string{"schema", "internal/auth", "internal/metadb"},
		testAllow: []string{"internal/metadb/metadbtest", "contentapi/blob/diskblob"},
		why:       "the file tree keeps its tables in the metadata database and audits through internal/auth's outbox; it knows no HTTP and nothing of the API; its blob lifetime tests run on a real disk store"},
	{pkg: "contentapi/blob/...", allow: []string{"internal/config", "contentapi/blob/..."},
		why: "blob stores (local disk, S3) keep file contents behind the blob interface; they may import config and nothing else of ours"},
	{pkg: "contentapi/link", allow: []string{"schema", "internal/auth", "internal/metadb", "contentapi/tree"},
		testAllow: []string{"internal/metadb/metadbtest"},
		why:       "links keep their own tables (component link) beside the tree's, read the tree to check what a link reaches, and audit through internal/auth's outbox; they know no HTTP"},
	{pkg: "internal/auth/...", allow: []string{"schema/...", "internal/httpapi", "internal/config", "internal/metadb/...", "internal/auth/..."},
		why: "internal/auth may import schema, the HTTP kit, config and the metadata database"},
	{pkg: "internal/metadb/...", allow: []string{"internal/config", "internal/metadb/..."},
		why: "the metadata database (SQLite or PostgreSQL) may import config at most"},
	{pkg: "internal/httpapi/...", allow: []string{"schema/...", "internal/config", "internal/httpapi/..."},
		why: "the HTTP kit may import schema and config (for its suggestions) at most"},
	{pkg: "internal/config/...", allow: []string{"schema/...", "internal/config/..."},
		why: "config may import schema at most"},
	{pkg: "internal/localdb/...", allow: []string{"internal/localdb/..."},
		why: "localdb opens SQLite files and imports nothing of ours"},
	{pkg: "internal/...", allow: nil,
		why: "small internal helpers import nothing of ours and are used by cmd only, unless the table lists them"},
	{pkg: "cmd/...", allow: []string{"schema/...", "ingest/...", "sinks/...", "query/...", "dashboards/...", "contentapi/...", "internal/..."},
		why: "cmd/vigil wires everything; nothing imports cmd"},
}

// testOnly lists test-support packages that only tests may import (in
// the layers whose rule allows them); no package's own code may.
var testOnly = []string{"sinks/peertest/...", "internal/metadb/metadbtest", "contentapi/session/sessiontest", "contentapi/blob/blobtest", "contentapi/blob/s3blob/s3test"}

// pkgImports is what go list says about one package.
type pkgImports struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// violation is one import the table forbids.
type violation struct {
	Pkg, Import string
	Test        bool
	Rule        string // the matching rule's pattern, or "" when none matched
	// TestOnly says that Import is test support, which Rule (a testOnly
	// pattern) allows in tests alone.
	TestOnly bool
}

func (v violation) String() string {
	where := ""
	if v.Test {
		where = " (in a test)"
	}
	if v.TestOnly {
		return fmt.Sprintf("%s imports %s outside its tests: %q is test support, which only tests may import", v.Pkg, v.Import, v.Rule)
	}
	if v.Rule == "" {
		return fmt.Sprintf("%s has no layering rule; add it to the table in layers_test.go and to DESIGN.md", v.Pkg)
	}
	r := ruleFor(v.Pkg)
	allowed := "nothing of ours"
	if len(r.allow) > 0 {
		allowed = strings.Join(r.allow, ", ")
	}
	return fmt.Sprintf("%s imports %s%s, which rule %q forbids: %s (allowed: %s)",
		v.Pkg, v.Import, where, r.pkg, r.why, allowed)
}

func TestLayers(t *testing.T) {
	root, module := moduleRoot(t)
	pkgs := listPackages(t, root)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, v := range check(module, pkgs) {
		t.Error(v)
	}
}

// check returns every import among pkgs that the table forbids.
func check(module string, pkgs []pkgImports) []violation {
	var out []violation
	for _, p := range pkgs {
		rel, ok := relative(module, p.ImportPath)
		if !ok {
			continue
		}
		r, ok := matchRule(rel)
		if !ok {
			out = append(out, violation{Pkg: rel})
			continue
		}
		for _, imp := range p.Imports {
			if v, bad := checkImport(module, rel, imp, r.allow); bad {
				out = append(out, violation{Pkg: rel, Import: v, Rule: r.pkg})
			} else if dep, pattern, ok := testSupport(module, rel, imp); ok {
				out = append(out, violation{Pkg: rel, Import: dep, Rule: pattern, TestOnly: true})
			}
		}
		testAllow := append(slices.Clone(r.allow), r.testAllow...)
		for _, imp := range append(slices.Clone(p.TestImports), p.XTestImports...) {
			if imp == p.ImportPath {
				continue // the external test package imports the package
			}
			if v, bad := checkImport(module, rel, imp, testAllow); bad {
				out = append(out, violation{Pkg: rel, Import: v, Test: true, Rule: r.pkg})
			}
		}
	}
	return out
}

// checkImport returns the module-relative import and true when pkg may not
// import it. Imports from outside the module are always fine.
func checkImport(module, pkg, imp string, allow []string) (string, bool) {
	rel, ok := relative(module, imp)
	if !ok || rel == pkg {
		return "", false
	}
	for _, a := range allow {
		if matches(a, rel) {
			return "", false
		}
	}
	return rel, true
}

// testSupport returns the module-relative import and the testOnly
// pattern it matches, unless pkg is itself under that pattern.
func testSupport(module, pkg, imp string) (rel, pattern string, ok bool) {
	rel, ok = relative(module, imp)
	if !ok {
		return "", "", false
	}
	for _, pattern := range testOnly {
		if matches(pattern, rel) && !matches(pattern, pkg) {
			return rel, pattern, true
		}
	}
	return "", "", false
}

// relative returns path relative to the module, if it is in the module.
func relative(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

func matchRule(pkg string) (rule, bool) {
	best, found := rule{}, false
	for _, r := range layers {
		if matches(r.pkg, pkg) && (!found || len(r.pkg) > len(best.pkg)) {
			best, found = r, true
		}
	}
	return best, found
}

func ruleFor(pkg string) rule {
	r, _ := matchRule(pkg)
	return r
}

// matches reports whether pattern ("a/b", "a/b/..." or "...") matches pkg.
func matches(pattern, pkg string) bool {
	if pattern == "..." {
		return true
	}
	if base, ok := strings.CutSuffix(pattern, "/..."); ok {
		return pkg == base || strings.HasPrefix(pkg, base+"/")
	}
	return pkg == pattern
}

func moduleRoot(t *testing.T) (dir, module string) {
	t.Helper()
	out := goCmd(t, ".", "list", "-m", "-f", "{{.Dir}}\n{{.Path}}")
	dir, module, ok := strings.Cut(strings.TrimSpace(out), "\n")
	if !ok {
		t.Fatalf("go list -m: unexpected output %q", out)
	}
	return dir, module
}

// listPackages lists every package in the module with its imports. It
// tolerates packages that do not build (-e): their imports still count.
func listPackages(t *testing.T, root string) []pkgImports {
	t.Helper()
	out := goCmd(t, root, "list", "-e", "-json=ImportPath,Imports,TestImports,XTestImports", "./...")
	var pkgs []pkgImports
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var p pkgImports
		err := dec.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs
		}
		if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
}

func goCmd(t *testing.T, dir string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("find the go command: %v", err)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestCheck runs the checker on made-up packages, including ones that do
// not exist yet, so the table is exercised before the code is.
func TestCheck(t *testing.T) {
	const m = "example.com/v"
	// pkg describes a package of the module importing others of ours.
	pkg := func(path string, imports ...string) pkgImports {
		p := pkgImports{ImportPath: m + "/" + path}
		for _, i := range imports {
			p.Imports = append(p.Imports, m+"/"+i)
		}
		return p
	}
	tests := []struct {
		name string
		pkgs []pkgImports
		want []violation
	}{
		{
			name: "AllowedImports",
			pkgs: []pkgImports{
				{ImportPath: m + "/schema", Imports: []string{"encoding/json", "github.com/goccy/go-json"}},
				{ImportPath: "example.com/other", Imports: []string{m + "/cmd/vigil"}},
				pkg("schema/schematest", "schema"),
				pkg("ingest", "schema", "internal/auth", "ingest/eventlog"),
				pkg("ingest/eventlog", "schema"),
				pkg("ingest/eventlog/filelog", "schema", "ingest/eventlog"),
				pkg("ingest/eventlog/logtest", "ingest/eventlog"),
				pkg("ingest/agent", "schema"),
				pkg("sinks", "schema", "ingest/eventlog", "internal/config"),
				pkg("sinks/splunkhec", "schema", "sinks", "internal/config"),
				pkg("sinks/sinktest", "sinks", "schema"),
				pkg("query", "schema", "internal/auth", "ingest/eventlog", "internal/httpapi"),
				pkg("query/duckstore", "query", "schema"),
				pkg("query/storetest", "query"),
				pkg("dashboards", "query", "query/duckstore", "schema", "ingest/eventlog"),
				pkg("dashboards/console", "internal/auth", "internal/httpapi", "dashboards/alerts"),
				pkg("contentapi", "schema", "internal/auth"),
				pkg("internal/auth", "schema", "internal/httpapi"),
				pkg("internal/httpapi", "schema"),
				pkg("sinks", "internal/httpapi"),
				pkg("query", "internal/httpapi"),
				pkg("ingest", "internal/httpapi"),
				{ImportPath: m + "/internal/config", Imports: []string{"gopkg.in/yaml.v3"}},
				pkg("cmd/vigil", "schema", "ingest", "ingest/eventlog/filelog", "sinks/tcp", "query/chstore", "dashboards", "contentapi", "internal/config"),
			},
		},
		{
			name: "SchemaImportsNothingOfOurs",
			pkgs: []pkgImports{pkg("schema", "internal/config")},
			want: []violation{{Pkg: "schema", Import: "internal/config", Rule: "schema/..."}},
		},
		{
			name: "IngestNeverImportsALogImplementation",
			pkgs: []pkgImports{pkg("ingest", "ingest/eventlog/kafkalog", "query", "ingest/agent")},
			want: []violation{
				{Pkg: "ingest", Import: "ingest/eventlog/kafkalog", Rule: "ingest/..."},
				{Pkg: "ingest", Import: "query", Rule: "ingest/..."},
				{Pkg: "ingest", Import: "ingest/agent", Rule: "ingest/..."},
			},
		},
		{
			name: "IngestTestsMayUseTheRealLog",
			pkgs: []pkgImports{{
				ImportPath:   m + "/ingest",
				TestImports:  []string{m + "/ingest/eventlog/filelog"},
				XTestImports: []string{m + "/ingest", m + "/sinks"},
			}},
			want: []violation{{Pkg: "ingest", Import: "sinks", Test: true, Rule: "ingest/..."}},
		},
		{
			name: "EventLogOnlySchema",
			pkgs: []pkgImports{pkg("ingest/eventlog/filelog", "ingest", "internal/auth")},
			want: []violation{
				{Pkg: "ingest/eventlog/filelog", Import: "ingest", Rule: "ingest/eventlog/..."},
				{Pkg: "ingest/eventlog/filelog", Import: "internal/auth", Rule: "ingest/eventlog/..."},
			},
		},
		{
			name: "SinksNotAuthOrALogImplementation",
			pkgs: []pkgImports{pkg("sinks/tcp", "internal/auth", "ingest/eventlog/filelog")},
			want: []violation{
				{Pkg: "sinks/tcp", Import: "internal/auth", Rule: "sinks/..."},
				{Pkg: "sinks/tcp", Import: "ingest/eventlog/filelog", Rule: "sinks/..."},
			},
		},
		{
			name: "QueryNeverImportsALogImplementation",
			pkgs: []pkgImports{pkg("query", "ingest/eventlog/filelog", "ingest/eventlog/kafkalog", "ingest")},
			want: []violation{
				{Pkg: "query", Import: "ingest/eventlog/filelog", Rule: "query/..."},
				{Pkg: "query", Import: "ingest/eventlog/kafkalog", Rule: "query/..."},
				{Pkg: "query", Import: "ingest", Rule: "query/..."},
			},
		},
		{
			name: "DashboardsOnlyThroughQuery",
			pkgs: []pkgImports{pkg("dashboards", "schema", "query", "ingest", "query/duckstore", "ingest/eventlog/kafkalog")},
			want: []violation{
				{Pkg: "dashboards", Import: "ingest", Rule: "dashboards/..."},
				{Pkg: "dashboards", Import: "ingest/eventlog/kafkalog", Rule: "dashboards/..."},
			},
		},
		{
			name: "ConsoleNeitherContentAPINorStores",
			pkgs: []pkgImports{pkg("dashboards/console", "contentapi", "contentapi/session", "query/duckstore", "internal/metadb", "cmd/vigil")},
			want: []violation{
				{Pkg: "dashboards/console", Import: "contentapi", Rule: "dashboards/console/..."},
				{Pkg: "dashboards/console", Import: "contentapi/session", Rule: "dashboards/console/..."},
				{Pkg: "dashboards/console", Import: "query/duckstore", Rule: "dashboards/console/..."},
				{Pkg: "dashboards/console", Import: "internal/metadb", Rule: "dashboards/console/..."},
				{Pkg: "dashboards/console", Import: "cmd/vigil", Rule: "dashboards/console/..."},
			},
		},
		{
			name: "ContentAPIAuditsThroughItsOwnInterface",
			pkgs: []pkgImports{pkg("contentapi", "ingest")},
			want: []violation{{Pkg: "contentapi", Import: "ingest", Rule: "contentapi/..."}},
		},
		{
			name: "AuthOnlySchema",
			pkgs: []pkgImports{pkg("internal/auth", "query")},
			want: []violation{{Pkg: "internal/auth", Import: "query", Rule: "internal/auth/..."}},
		},
		{
			name: "HelpersOnlyForCmd",
			pkgs: []pkgImports{pkg("query", "internal/clock"), pkg("internal/clock", "schema"), pkg("internal/config", "ingest")},
			want: []violation{
				{Pkg: "query", Import: "internal/clock", Rule: "query/..."},
				{Pkg: "internal/clock", Import: "schema", Rule: "internal/..."},
				{Pkg: "internal/config", Import: "ingest", Rule: "internal/config/..."},
			},
		},
		{
			name: "NothingImportsCmd",
			pkgs: []pkgImports{pkg("cmd/vigil", "cmd/other"), pkg("query", "cmd/vigil")},
			want: []violation{
				{Pkg: "cmd/vigil", Import: "cmd/other", Rule: "cmd/..."},
				{Pkg: "query", Import: "cmd/vigil", Rule: "query/..."},
			},
		},
		{
			name: "HTTPKitImportsNoAPI",
			pkgs: []pkgImports{pkg("internal/httpapi", "internal/auth", "sinks")},
			want: []violation{
				{Pkg: "internal/httpapi", Import: "internal/auth", Rule: "internal/httpapi/..."},
				{Pkg: "internal/httpapi", Import: "sinks", Rule: "internal/httpapi/..."},
			},
		},
		{
			name: "AgentOnlySchema",
			pkgs: []pkgImports{pkg("ingest/agent", "ingest")},
			want: []violation{{Pkg: "ingest/agent", Import: "ingest", Rule: "ingest/agent/..."}},
		},
		{
			name: "PeertestOnlyInTests",
			pkgs: []pkgImports{
				pkg("sinks/peertest", "sinks/sinktest", "internal/config"),
				{ImportPath: m + "/sinks/tcp", XTestImports: []string{m + "/sinks/peertest"}},
				{ImportPath: m + "/cmd/vigil", TestImports: []string{m + "/sinks/peertest"}},
				pkg("cmd/vigil", "sinks/peertest"),
				pkg("sinks/tcp", "sinks/peertest"),
				pkg("sinks/peertest", "sinks/tcp"),
				{ImportPath: m + "/query", TestImports: []string{m + "/sinks/peertest"}},
			},
			want: []violation{
				{Pkg: "cmd/vigil", Import: "sinks/peertest", Rule: "sinks/peertest/...", TestOnly: true},
				{Pkg: "sinks/tcp", Import: "sinks/peertest", Rule: "sinks/peertest/...", TestOnly: true},
				{Pkg: "sinks/peertest", Import: "sinks/tcp", Rule: "sinks/peertest/..."},
				{Pkg: "query", Import: "sinks/peertest", Test: true, Rule: "query/..."},
			},
		},
		{
			name: "UnknownTopLevelPackage",
			pkgs: []pkgImports{pkg("util", "schema")},
			want: []violation{{Pkg: "util"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := check(m, tt.pkgs)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("check (-want +got):\n%s", diff)
			}
		})
	}
}

func TestViolation_String(t *testing.T) {
	tests := []struct {
		v    violation
		want string
	}{
		{
			v: violation{Pkg: "dashboards", Import: "schema", Rule: "dashboards/..."},
			want: `dashboards imports schema, which rule "dashboards/..." forbids: ` +
				`dashboards read through query, consume the event log interface and keep alert states in the metadata database (allowed: query/..., schema/..., ingest/eventlog, internal/auth/..., internal/httpapi, internal/config, internal/metadb/..., dashboards/...)`,
		},
		{
			v: violation{Pkg: "internal/clock", Import: "schema", Test: true, Rule: "internal/..."},
			want: `internal/clock imports schema (in a test), which rule "internal/..." forbids: ` +
				`small internal helpers import nothing of ours and are used by cmd only, unless the table lists them (allowed: nothing of ours)`,
		},
		{
			v:    violation{Pkg: "util"},
			want: "util has no layering rule; add it to the table in layers_test.go and to DESIGN.md",
		},
	}
	for _, tt := range tests {
		if got := tt.v.String(); got != tt.want {
			t.Errorf("String() =\n%s\nwant\n%s", got, tt.want)
		}
	}
}
