package detect

import (
	"testing"
)

// TestBuiltins_Compile checks that every built-in rule compiles and that
// each has a golden file.
func TestBuiltins_Compile(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(Builtins(), defaultLate)
	if err != nil {
		t.Fatal(err)
	}
	if len(eng.rules) != len(builtins) {
		t.Fatalf("compiled %d rules, want %d", len(eng.rules), len(builtins))
	}
}
