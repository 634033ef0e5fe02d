package sessiontest

import (
	"testing"

	"github.com/vigilaudit/vigil/contentapi/session"
)

func TestMemory(t *testing.T) {
	Run(t, func(*testing.T) session.Store { return NewMemory() })
}
