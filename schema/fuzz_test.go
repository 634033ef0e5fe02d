package schema_test

import (
	"encoding/json"
	"errors"
	"testing"

	"golang.org/x/tools/txtar"

	"github.com/vigilaudit/vigil/schema"
)

// FuzzNormalize feeds arbitrary bytes to Normalize: it must never panic,
// must return either a valid event or a *ValidationError, and a valid
// event's wire form must be JSON that normalizes to itself.
func FuzzNormalize(f *testing.F) {
	f.Add(typicalTransfer)
	f.Add([]byte(signin))
	f.Add([]byte(`{"topic":"LINK","event":"link.set_expiry","timestamp":"1459372699123","ip":"::ffff:10.0.0.1","caller":"x@y.z","key":"k","expiry":1459372799123}`))
	files, _ := goldenGlob()
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, fl := range ar.Files {
			if len(fl.Name) > 6 && fl.Name[len(fl.Name)-6:] == "/input" {
				f.Add(fl.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		e, err := schema.Normalize(raw, defaultMeta)
		if err != nil {
			var verr *schema.ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("error %v (%T) is not a *schema.ValidationError", err, err)
			}
			return
		}
		if !json.Valid(e.Wire()) {
			t.Fatalf("invalid JSON out of %q: %s", raw, e.Wire())
		}
		again, err := schema.Normalize(e.Wire(), schema.Meta{Trusted: true})
		if err != nil {
			t.Fatalf("wire form %s rejected: %v", e.Wire(), err)
		}
		if string(again.Wire()) != string(e.Wire()) {
			t.Fatalf("not a fixed point:\n%s\n%s", e.Wire(), again.Wire())
		}
	})
}
