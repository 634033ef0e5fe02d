// Package diskblob keeps blobs as files in a directory on local disk:
// DIR/ab/abcdef... (the first two hex digits of the key name a
// subdirectory), written to DIR/tmp first, fsynced, then renamed into
// place and the directory fsynced, so that a blob is either whole under
// its name or absent.
package diskblob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/vigilaudit/vigil/contentapi/blob"
)

// Store is a directory of blobs.
type Store struct {
	dir string
}

var _ blob.Store = (*Store)(nil)

// New returns the store in dir, creating it, and removes the temporary
// files of puts that a crash interrupted.
func New(dir string) (*Store, error) {
	tmp := filepath.Join(dir, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("clear %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("create blob directory: %w", err)
	}
	return &Store{dir: dir}, nil
}

// path is where the blob key lives.
func (s *Store) path(key string) string {
	return filepath.Join(s.dir, key[:2], key)
}

// Put writes r to a temporary file while hashing it, then moves the file
// to its key's name.
func (s *Store) Put(ctx context.Context, r io.Reader) (blob.Info, error) {
	f, err := os.CreateTemp(filepath.Join(s.dir, "tmp"), "put-*")
	if err != nil {
		return blob.Info{}, fmt.Errorf("create blob: %w", err)
	}
	kept := false
	defer func() {
		if !kept {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, r})
	if err != nil {
		return blob.Info{}, err
	}
	if err := f.Sync(); err != nil {
		return blob.Info{}, fmt.Errorf("sync blob: %w", err)
	}
	if err := f.Close(); err != nil {
		return blob.Info{}, fmt.Errorf("close blob: %w", err)
	}
	info := blob.Info{Key: hex.EncodeToString(h.Sum(nil)), Size: n}
	final := s.path(info.Key)
	if _, err := os.Stat(final); err == nil {
		// The same bytes are there already.
		return info, nil
	}
	sub := filepath.Dir(final)
	if err := os.MkdirAll(sub, 0o700); err != nil {
		return blob.Info{}, fmt.Errorf("create blob directory: %w", err)
	}
	if err := os.Rename(f.Name(), final); err != nil {
		return blob.Info{}, fmt.Errorf("store blob %s: %w", info.Key, err)
	}
	kept = true
	if err := syncDir(sub); err != nil {
		return blob.Info{}, err
	}
	return info, nil
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Open opens the blob's file.
func (s *Store) Open(_ context.Context, key string) (blob.Reader, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, err
	}
	f, err := os.Open(s.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open blob %s: %w", key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open blob %s: %w", key, err)
	}
	return file{File: f, size: st.Size()}, nil
}

// file is an open blob.
type file struct {
	*os.File
	size int64
}

func (f file) Size() int64 { return f.size }

// Delete removes the blob's file.
func (s *Store) Delete(_ context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return err
	}
	if err := os.Remove(s.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", key, err)
	}
	return nil
}
