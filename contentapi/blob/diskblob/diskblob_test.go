package diskblob

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/vigilaudit/vigil/contentapi/blob"
	"github.com/vigilaudit/vigil/contentapi/blob/blobtest"
)

func TestStore_Conformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		s, err := New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestNew_ClearsInterruptedPuts: a temporary file that a crash left
// behind is removed at the next start, and the blobs stay.
func TestNew_ClearsInterruptedPuts(t *testing.T) {
	dir := t.TempDir()
	s, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Put(context.Background(), bytes.NewReader([]byte("kept")))
	if err != nil {
		t.Fatal(err)
	}
	half := filepath.Join(dir, "tmp", "put-123")
	if err := os.WriteFile(half, []byte("half of a blob"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(half); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("interrupted put still there: %v", err)
	}
	r, err := s.Open(context.Background(), info.Key)
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
}
