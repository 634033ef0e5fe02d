package query

import (
	"testing"
	"time"
)

func TestConsumerConfig_Defaults(t *testing.T) {
	got := ConsumerConfig{}.withDefaults()
	want := ConsumerConfig{BatchSize: 10_000, Linger: 500 * time.Millisecond, MaxBackoff: 30 * time.Second}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
	set := ConsumerConfig{BatchSize: 5, Linger: time.Second, MaxBackoff: time.Minute}
	if got := set.withDefaults(); got != set {
		t.Errorf("withDefaults changed a set config: %+v", got)
	}
}
