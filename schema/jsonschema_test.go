package schema_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/schema"
)

func compileJSONSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := schema.JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	if err := c.AddResource(schema.JSONSchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(schema.JSONSchemaID)
	if err != nil {
		t.Fatalf("compiling the generated schema: %v", err)
	}
	return sch
}

func validateJSON(sch *jsonschema.Schema, wire string) error {
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(wire))
	if err != nil {
		return err
	}
	return sch.Validate(inst)
}

// TestJSONSchema_AcceptsGoldenWire checks every golden wire form against
// the generated JSON Schema.
func TestJSONSchema_AcceptsGoldenWire(t *testing.T) {
	sch := compileJSONSchema(t)
	n := 0
	for _, file := range goldenFiles(t) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range readGolden(t, ar) {
			if !c.hasWant || c.want == "" {
				continue
			}
			n++
			if err := validateJSON(sch, c.want); err != nil {
				t.Errorf("%s %s: %v", filepath.Base(file), c.name, err)
			}
		}
	}
	if n == 0 {
		t.Fatal("no golden wire forms")
	}
}

// TestJSONSchema_RejectsBrokenEvents breaks a valid event in the ways the
// catalog forbids.
func TestJSONSchema_RejectsBrokenEvents(t *testing.T) {
	sch := compileJSONSchema(t)
	e, err := schema.Normalize(typicalTransfer, benchMeta)
	if err != nil {
		t.Fatal(err)
	}
	valid := string(e.Wire())
	if err := validateJSON(sch, valid); err != nil {
		t.Fatalf("valid event rejected: %v", err)
	}
	edit := func(f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(e.Wire(), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	tests := map[string]string{
		"missing required field": edit(func(m map[string]any) { delete(m, "destination_user") }),
		"unknown event":          edit(func(m map[string]any) { m["event"] = "file.teleport" }),
		"topic of another event": edit(func(m map[string]any) { m["topic"] = "USER" }),
		"upper-case hex":         edit(func(m map[string]any) { m["device"] = "40F9CDDAB98A432B9C60D734F5F63E7E" }),
		"bad operation":          edit(func(m map[string]any) { m["operations"] = []string{"COPY"} }),
		"timestamp with offset":  edit(func(m map[string]any) { m["timestamp"] = "2016-03-30T21:18:19.123+02:00" }),
		"missing event_id":       edit(func(m map[string]any) { delete(m, "event_id") }),
		"soid with extra member": edit(func(m map[string]any) { m["soid"].(map[string]any)["x"] = 1 }),
	}
	for name, doc := range tests {
		t.Run(name, func(t *testing.T) {
			if err := validateJSON(sch, doc); err == nil {
				t.Errorf("accepted %s", doc)
			}
		})
	}
}
