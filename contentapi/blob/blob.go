// Package blob defines where the content API keeps file contents: whole
// blobs, each named by the SHA-256 of its bytes, written once and read at
// any offset. Implementations live in sub-packages (diskblob on local
// disk, the default; s3blob on an S3-compatible object store) and each
// runs the conformance suite in blobtest.
//
// A blob is visible under its key only once all of it is durable: a
// crash or a failed reader during Put leaves no blob, half-written or
// otherwise. Two Puts of the same bytes give the same key; the content
// API counts references to a key and deletes the blob after the last.
package blob

import (
	"context"
	"errors"
	"io"
)

// The errors callers branch on; test with errors.Is.
var (
	// ErrNotFound: no blob has the key.
	ErrNotFound = errors.New("blob not found")
	// ErrUnavailable: the store cannot be reached (the content API
	// answers 503).
	ErrUnavailable = errors.New("blob store unavailable")
	// ErrBadKey: the key is not 64 lower-case hex digits.
	ErrBadKey = errors.New("bad blob key")
)

// Info is a stored blob: Key is the lower-case hex SHA-256 of its
// bytes.
type Info struct {
	Key  string
	Size int64
}

// Store keeps blobs.
type Store interface {
	// Put stores r's bytes, read until io.EOF, and returns the blob's
	// key and size. It streams: memory does not grow with the blob.
	// When r fails or ctx ends before the end, nothing is kept and the
	// error is returned.
	Put(ctx context.Context, r io.Reader) (Info, error)
	// Open returns the blob for reading; ErrNotFound if there is none.
	Open(ctx context.Context, key string) (Reader, error)
	// Delete removes the blob; deleting one that is gone is not an
	// error.
	Delete(ctx context.Context, key string) error
}

// Reader reads one blob at any offset; Size is its length.
type Reader interface {
	io.ReadSeekCloser
	io.ReaderAt
	Size() int64
}

// CheckKey returns ErrBadKey unless key is 64 lower-case hex digits.
func CheckKey(key string) error {
	if len(key) != 64 {
		return ErrBadKey
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return ErrBadKey
		}
	}
	return nil
}
