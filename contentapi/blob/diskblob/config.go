package diskblob

import "path/filepath"

// Config is the content.blobs.disk section.
type Config struct {
	// Dir is the blobs' directory; empty is DATA_DIR/content/blobs (see
	// Path), where vigil serve keeps them by default.
	Dir string `yaml:"dir"`
}

// Path returns the directory to pass to New: Dir, or content/blobs
// under dataDir when Dir is empty.
func (c Config) Path(dataDir string) string {
	if c.Dir != "" {
		return c.Dir
	}
	return filepath.Join(dataDir, "content", "blobs")
}
