package duckstore

// Config is the embedded DuckDB store, kept under the data directory. It
// has no settings yet; its presence in the config file chooses the store.
type Config struct{}

// Validate has nothing to check yet.
func (Config) Validate() error { return nil }
