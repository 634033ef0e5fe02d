package detect

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files with the current results")

// TestGolden runs each built-in rule, alone, over the cases of its file
// testdata/rules/NAME.txtar: NAME/events in, the alerts' wire lines out
// (CASE/alerts). A case named fires-... must raise at least one alert, a
// case named quiet-... none. Run with -update to rewrite the alerts.
//
// An events line "@repeat N STEP JSON" stands for N events: {{i}} in JSON
// becomes 0 to N-1, {{hex}} that number as 32 hex digits, and the
// timestamp (and received_at, if given) moves on by STEP each time. The
// organization's domains are goldenDomains'.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "rules", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txtar")
		have[name] = true
		t.Run(name, func(t *testing.T) {
			i := slices.IndexFunc(Builtins(), func(r Rule) bool { return r.Name == name })
			if i < 0 {
				t.Fatalf("no built-in rule %s", name)
			}
			rule := Builtins()[i]
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			changed := false
			var rewritten []txtar.File
			for _, f := range slices.Clone(ar.Files) {
				cname, ok := strings.CutSuffix(f.Name, "/events")
				if !ok {
					continue
				}
				events := expand(t, f.Data)
				eng, err := newEngine([]Rule{rule}, defaultLate, goldenDomains(t))
				if err != nil {
					t.Fatal(err)
				}
				var got bytes.Buffer
				n := 0
				for _, e := range events {
					for _, a := range eng.Event(e) {
						ev, err := a.Event()
						if err != nil {
							t.Fatalf("%s: %v", cname, err)
						}
						got.Write(ev.Wire())
						got.WriteByte('\n')
						n++
					}
				}
				switch {
				case strings.HasPrefix(cname, "fires-") && n == 0:
					t.Errorf("%s: raised no alert, must fire", cname)
				case strings.HasPrefix(cname, "quiet-") && n > 0:
					t.Errorf("%s: raised %d alerts, must not fire:\n%s", cname, n, got.String())
				}
				wi := slices.IndexFunc(ar.Files, func(g txtar.File) bool { return g.Name == cname+"/alerts" })
				if *update {
					rewritten = append(rewritten, f, txtar.File{Name: cname + "/alerts", Data: got.Bytes()})
					changed = changed || wi < 0 || !bytes.Equal(ar.Files[wi].Data, got.Bytes())
					continue
				}
				if wi < 0 {
					t.Errorf("%s: no alerts section; run with -update", cname)
					continue
				}
				if diff := cmp.Diff(string(ar.Files[wi].Data), got.String()); diff != "" {
					t.Errorf("%s: alerts (-want +got):\n%s", cname, diff)
				}
			}
			if changed {
				ar.Files = rewritten
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
	for _, r := range Builtins() {
		if !have[r.Name] {
			t.Errorf("built-in rule %s has no golden file testdata/rules/%s.txtar", r.Name, r.Name)
		}
	}
}

// goldenDomains are the organization of the golden cases: example.com
// and corp.example.com; partner.example allowed without end,
// vendor.example until 2026-11-30.
func goldenDomains(t *testing.T) *domains {
	t.Helper()
	d, err := newDomains([]string{"example.com", "corp.example.com"}, []Partner{{Domain: "partner.example"}, {Domain: "vendor.example", AllowedUntil: "2026-11-30"}})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// expand reads a case's events, expanding @repeat lines.
func expand(t *testing.T, data []byte) []*schema.Event {
	t.Helper()
	var out bytes.Buffer
	for ln, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, "@repeat ")
		if !ok {
			out.WriteString(line + "\n")
			continue
		}
		parts := strings.SplitN(rest, " ", 3)
		if len(parts) != 3 {
			t.Fatalf("line %d: @repeat N STEP JSON", ln+1)
		}
		n, err := strconv.Atoi(parts[0])
		if err != nil {
			t.Fatalf("line %d: %v", ln+1, err)
		}
		step, err := time.ParseDuration(parts[1])
		if err != nil {
			t.Fatalf("line %d: %v", ln+1, err)
		}
		for i := range n {
			s := strings.ReplaceAll(parts[2], "{{i}}", strconv.Itoa(i))
			s = strings.ReplaceAll(s, "{{hex}}", fmt.Sprintf("%032x", i))
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("line %d: %v", ln+1, err)
			}
			for _, k := range []string{"timestamp", "received_at"} {
				if v, ok := m[k].(string); ok {
					ts, err := time.Parse(time.RFC3339Nano, v)
					if err != nil {
						t.Fatalf("line %d: %s: %v", ln+1, k, err)
					}
					m[k] = ts.Add(time.Duration(i) * step).UTC().Format("2006-01-02T15:04:05.000Z")
				}
			}
			b, _ := json.Marshal(m)
			out.Write(b)
			out.WriteByte('\n')
		}
	}
	events, err := ReadEvents(&out)
	if err != nil {
		t.Fatal(err)
	}
	return events
}
