package query

import (
	"testing"
	"time"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

func TestConsumerConfig_Defaults(t *testing.T) {
	got := consumerDefaults(eventlog.ConsumerConfig{})
	want := eventlog.ConsumerConfig{Group: Group, BatchSize: 10_000, Linger: 500 * time.Millisecond, MaxBackoff: 30 * time.Second}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	set := eventlog.ConsumerConfig{Group: Group, BatchSize: 5, Linger: time.Second, MinBackoff: time.Millisecond, MaxBackoff: time.Minute}
	if got := consumerDefaults(set); got != set {
		t.Errorf("defaults changed a set config: %+v", got)
	}
}
