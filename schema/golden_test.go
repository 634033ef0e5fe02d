package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/schema"
)

var update = flag.Bool("update", false, "rewrite the golden files with the current results")

// defaultMeta is what ingest would know about a golden input unless its
// case gives a meta section.
var defaultMeta = schema.Meta{
	Submitter:  schema.Submitter{UserID: "alice@example.com", DeviceID: "40f9cddab98a432b9c60d734f5f63e7e"},
	ReceivedAt: time.Date(2026, 1, 2, 3, 4, 5, 678e6, time.UTC),
}

// goldenMeta is the JSON form of a case's meta section.
type goldenMeta struct {
	Submitter  *schema.Submitter `json:"submitter"` // null: no submitter
	ReceivedAt *string           `json:"received_at"`
	Trusted    bool              `json:"trusted"`
}

type goldenCase struct {
	name            string
	input, meta     []byte
	want, wantError string
	hasWant         bool
}

// readGolden splits an archive into cases. Each case is a set of files
// named CASE/input, CASE/meta (optional), and CASE/want (the expected wire
// form) or CASE/error (the expected error text).
func readGolden(t *testing.T, ar *txtar.Archive) []*goldenCase {
	t.Helper()
	var cases []*goldenCase
	byName := map[string]*goldenCase{}
	for _, f := range ar.Files {
		name, part, ok := strings.Cut(f.Name, "/")
		if !ok {
			t.Fatalf("file %q: want CASE/input, CASE/meta, CASE/want or CASE/error", f.Name)
		}
		c := byName[name]
		if c == nil {
			c = &goldenCase{name: name}
			byName[name] = c
			cases = append(cases, c)
		}
		data := bytes.TrimRight(f.Data, "\n")
		switch part {
		case "input":
			c.input = data
		case "meta":
			c.meta = data
		case "want":
			c.want, c.hasWant = string(data), true
		case "error":
			c.wantError = string(data)
		default:
			t.Fatalf("file %q: unknown part %q", f.Name, part)
		}
	}
	return cases
}

func (c *goldenCase) metaValue(t *testing.T) schema.Meta {
	t.Helper()
	m := defaultMeta
	if c.meta == nil {
		return m
	}
	var gm goldenMeta
	gm.Submitter = &m.Submitter
	if err := json.Unmarshal(c.meta, &gm); err != nil {
		t.Fatalf("%s/meta: %v", c.name, err)
	}
	m.Submitter = schema.Submitter{}
	if gm.Submitter != nil {
		m.Submitter = *gm.Submitter
	}
	if gm.ReceivedAt != nil {
		m.ReceivedAt = time.Time{}
		if *gm.ReceivedAt != "" {
			ts, err := time.Parse(time.RFC3339Nano, *gm.ReceivedAt)
			if err != nil {
				t.Fatalf("%s/meta: %v", c.name, err)
			}
			m.ReceivedAt = ts
		}
	}
	m.Trusted = gm.Trusted
	return m
}

func goldenGlob() ([]string, error) {
	return filepath.Glob(filepath.Join("testdata", "golden", "*.txtar"))
}

func goldenFiles(t *testing.T) []string {
	t.Helper()
	files, err := goldenGlob()
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	return files
}

// TestGolden normalizes every golden input and compares the wire form or
// the error with the expected one. Run with -update to rewrite them.
func TestGolden(t *testing.T) {
	covered := map[string]bool{}
	for _, file := range goldenFiles(t) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		cases := readGolden(t, ar)
		changed := false
		for _, c := range cases {
			t.Run(filepath.Base(file)+"/"+c.name, func(t *testing.T) {
				if c.input == nil {
					t.Fatal("no input")
				}
				e, err := schema.Normalize(c.input, c.metaValue(t))
				got, gotErr := "", ""
				if err != nil {
					var verr *schema.ValidationError
					if !errors.As(err, &verr) {
						t.Fatalf("error %v is not a *schema.ValidationError", err)
					}
					gotErr = err.Error()
				} else {
					got = string(e.Wire())
					covered[e.Name()] = true
					if !json.Valid(e.Wire()) {
						t.Fatalf("wire form is not valid JSON: %s", got)
					}
					// The wire form is a fixed point.
					again, err := schema.Normalize(e.Wire(), schema.Meta{Trusted: true})
					if err != nil {
						t.Fatalf("renormalizing the wire form: %v", err)
					}
					if diff := cmp.Diff(got, string(again.Wire())); diff != "" {
						t.Fatalf("wire form changed when normalized again (-first +second):\n%s", diff)
					}
				}
				if *update {
					if got != c.want || gotErr != c.wantError || c.hasWant != (err == nil) {
						c.want, c.wantError, c.hasWant = got, gotErr, err == nil
						changed = true
					}
					return
				}
				if diff := cmp.Diff(c.wantError, gotErr); diff != "" {
					t.Errorf("error (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff(c.want, got); diff != "" {
					t.Errorf("wire form (-want +got):\n%s", diff)
				}
			})
		}
		if *update && changed {
			writeGolden(t, file, ar.Comment, cases)
		}
	}
	if *update {
		return
	}
	for _, s := range schema.Catalog() {
		if !covered[s.Name] {
			t.Errorf("no golden case normalizes %s successfully", s.Name)
		}
	}
}

func writeGolden(t *testing.T, file string, comment []byte, cases []*goldenCase) {
	t.Helper()
	ar := &txtar.Archive{Comment: comment}
	add := func(name string, data string) {
		ar.Files = append(ar.Files, txtar.File{Name: name, Data: []byte(data + "\n")})
	}
	for _, c := range cases {
		add(c.name+"/input", string(c.input))
		if c.meta != nil {
			add(c.name+"/meta", string(c.meta))
		}
		if c.hasWant {
			add(c.name+"/want", c.want)
		} else {
			add(c.name+"/error", c.wantError)
		}
	}
	if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGoldenNames keeps case names unique within a file.
func TestGoldenNames(t *testing.T) {
	for _, file := range goldenFiles(t) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range ar.Files {
			names = append(names, f.Name)
		}
		sorted := slices.Clone(names)
		slices.Sort(sorted)
		for i := 1; i < len(sorted); i++ {
			if sorted[i] == sorted[i-1] {
				t.Errorf("%s: file %s appears twice", file, sorted[i])
			}
		}
	}
}
