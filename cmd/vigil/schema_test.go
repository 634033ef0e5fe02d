package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigilaudit/vigil/schema"
)

func runVigil(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestSchemaCmd_JSON(t *testing.T) {
	out, stderr, code := runVigil(t, "schema", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got []struct {
		Topic  string `json:"topic"`
		Event  string `json:"event"`
		Origin string `json:"origin"`
		Fields []struct {
			Name     string `json:"name"`
			Type     string `json:"type"`
			Optional bool   `json:"optional"`
		} `json:"fields"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, e := range got {
		counts[e.Origin]++
		if e.Origin == "documented" {
			counts[e.Topic]++
		}
		if len(e.Fields) == 0 || e.Fields[0].Name == "" || e.Fields[0].Type == "" {
			t.Errorf("%s: fields %+v", e.Event, e.Fields)
		}
	}
	want := map[string]int{"documented": 48, "original": 4, "FILE": 2, "USER": 21, "SHARING": 8, "DEVICE": 8, "LINK": 8, "ORG": 1}
	for k, n := range want {
		if counts[k] != n {
			t.Errorf("%s: %d events, want %d", k, counts[k], n)
		}
	}
	if len(got) != len(schema.Catalog()) {
		t.Errorf("%d events printed, catalog has %d", len(got), len(schema.Catalog()))
	}
}

func TestSchemaCmd_Table(t *testing.T) {
	out, _, code := runVigil(t, "schema")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(schema.Catalog())+1 {
		t.Errorf("%d lines, want a header and %d events", len(lines), len(schema.Catalog()))
	}
	if !strings.Contains(out, "[path_to:path]") || !strings.Contains(out, "link.download") {
		t.Errorf("table lacks optional fields in brackets or an event:\n%s", out)
	}
}

func TestSchemaCmd_JSONSchema(t *testing.T) {
	out, _, code := runVigil(t, "schema", "--format", "jsonschema")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" {
		t.Errorf("$schema = %v", doc["$schema"])
	}
	if alts, _ := doc["oneOf"].([]any); len(alts) != len(schema.Catalog()) {
		t.Errorf("%d alternatives, want one per event", len(alts))
	}
}

func TestSchemaCmd_BadFormat(t *testing.T) {
	_, stderr, code := runVigil(t, "schema", "--format", "xml")
	if code == 0 || !strings.Contains(stderr, "table, json, jsonschema") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}
