package chstore

import (
	"testing"

	"github.com/vigilaudit/vigil/query"
	"github.com/vigilaudit/vigil/query/storetest"
)

// TestConformance runs the store suite against the ClickHouse that
// VIGIL_TEST_CLICKHOUSE names (CI starts one), each test in a fresh
// database.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) query.Store { return openTest(t) })
}
