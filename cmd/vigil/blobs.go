package main

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/blob/diskblob"
	"github.com/vigilaudit/vigil/internal/config"
)

// BlobsConfig chooses where the content API keeps file contents: one
// kind key, disk (the default, under the data directory) or, once its
// package lands, an S3-compatible object store.
type BlobsConfig struct {
	Disk *DiskBlobsConfig `yaml:"disk"`
}

// DiskBlobsConfig keeps blobs in a local directory.
type DiskBlobsConfig struct {
	// Path is the blobs' directory; empty is DATA_DIR/content/blobs.
	Path string `yaml:"path"`
}

// contentDir is where the content API keeps its files by default.
func contentDir(dataDir string) string { return filepath.Join(dataDir, "content") }

// openBlobs opens the configured blob store.
func openBlobs(dataDir string, c BlobsConfig) (blob.Store, error) {
	switch kind := config.Kind(c); kind {
	case "", "disk":
		path := filepath.Join(contentDir(dataDir), "blobs")
		if c.Disk != nil && c.Disk.Path != "" {
			path = c.Disk.Path
		}
		s, err := diskblob.New(path)
		if err != nil {
			return nil, fmt.Errorf("open blob store: %w", err)
		}
		return s, nil
	// case "s3": the S3-compatible store (contentapi/blob/s3blob) with
	// its s3blob.Config, as a field S3 of BlobsConfig.
	default:
		return nil, errors.New("open blob store: unknown kind " + kind)
	}
}
