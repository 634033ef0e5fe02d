package duckstore_test

import (
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/duckstore"
	"github.com/vigilaudit/vigil/query/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) query.Store {
		s, err := duckstore.Open("")
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestStore_File(t *testing.T) {
	storetest.Run(t, func(t *testing.T) query.Store {
		s, err := duckstore.Open(filepath.Join(t.TempDir(), "events.duckdb"), duckstore.WithThreads(2))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
