// Package archtest keeps the import table of DESIGN.md true.
//
// It has no code, only a test: layers_test.go lists every package of the
// module with "go list" and fails when one imports a package of ours that
// its layer may not use. The table there is the rule; change it together
// with DESIGN.md.
package archtest
