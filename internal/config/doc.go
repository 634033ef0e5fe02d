// Package config decodes Vigil's YAML configuration strictly.
//
// Decode and Load read one YAML document into a struct. Before decoding,
// every scalar value (never a key) has ${VAR} replaced by the environment
// variable VAR, and $$ by a single $; all undefined variables are reported
// in one error. A key the destination struct does not declare is an error
// naming its dotted path and line, so a typo never silently falls back to a
// default.
//
// ByteSize and Duration are the value types configuration uses for sizes
// ("10GiB") and durations ("30s", "7d").
//
// Variables come from os.LookupEnv unless the caller passes WithLookup;
// nothing else here reads the environment.
package config
