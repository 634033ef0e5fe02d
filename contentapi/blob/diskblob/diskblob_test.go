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

// TestConfig_Path: an empty dir is DATA_DIR/content/blobs, where vigil
// serve keeps blobs by default; a set dir is taken as it is.
func TestConfig_Path(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{name: "default", c: Config{}, want: filepath.Join("data", "content", "blobs")},
		{name: "set", c: Config{Dir: "/srv/blobs"}, want: "/srv/blobs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Path("data"); got != tt.want {
				t.Errorf("Path(data) = %q, want %q", got, tt.want)
			}
		})
	}
}
