package eventlog

import (
	"testing"
	"time"
)

func TestBackoff_BoundsAndGrowth(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	for attempt := range 12 {
		want := min << attempt
		if want > max || want <= 0 {
			want = max
		}
		for range 50 {
			d := Backoff(attempt, min, max)
			if d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %v, want in [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestConsumerConfig_Defaults(t *testing.T) {
	c := ConsumerConfig{Group: "g"}.withDefaults()
	if c.BatchSize != 1000 || c.Linger != 200*time.Millisecond || c.MinBackoff != 100*time.Millisecond || c.MaxBackoff != 30*time.Second {
		t.Errorf("defaults %+v", c)
	}
	c = ConsumerConfig{MinBackoff: time.Minute, MaxBackoff: time.Second}.withDefaults()
	if c.MaxBackoff < c.MinBackoff {
		t.Errorf("max backoff %v below min %v", c.MaxBackoff, c.MinBackoff)
	}
}
