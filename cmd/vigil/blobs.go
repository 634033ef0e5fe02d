package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/contentapi/blob/s3blob"
	"github.com/vigilaudit/vigil/internal/config"
)

// contentDir is where the content API keeps its files by default.
func contentDir(dataDir string) string { return filepath.Join(dataDir, "content") }

// openBlobs opens the configured blob store, chosen by its one kind key.
func openBlobs(dataDir string, c BlobsConfig) (blob.Store, error) {
	switch kind := config.Kind(c); kind {
	case "", "disk":
		var dc diskblob.Config
		if c.Disk != nil {
			dc = *c.Disk
		}
		s, err := diskblob.New(dc.Path(dataDir))
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		return s, nil
	case "s3":
		s, err := s3blob.New(*c.S3)
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		return s, nil
	default:
		return nil, errors.New("open blob store: unknown kind " + kind)
	}
}
