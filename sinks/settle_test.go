package sinks

import (
	"context"
	"errors"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigilaudit/vigil/ingest/eventlog"
)

// settlingSink is a memSink whose writes settle when the test says.
type settlingSink struct {
	memSink
	pending []func(error)
}

func (s *settlingSink) WriteSettling(ctx context.Context, batch []eventlog.Record, settled func(error)) error {
	if err := s.memSink.Write(ctx, batch); err != nil {
		return err
	}
	s.mu.Lock()
	s.pending = append(s.pending, settled)
	s.mu.Unlock()
	return nil
}

// settleAll reports err for every write not settled yet.
func (s *settlingSink) settleAll(err error) {
	s.mu.Lock()
	p := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, fn := range p {
		fn(err)
	}
}

func received(t *testing.T, s eventlog.Settlement) (error, bool) {
	t.Helper()
	select {
	case err := <-s:
		return err, true
	default:
		return nil, false
	}
}

// TestForwarder_SettlementPassesThrough: over a Settler, the batch is
// written at once and settles when the sink says; the status and metrics
// count settled, unsettled and resent events.
func TestForwarder_SettlementPassesThrough(t *testing.T) {
	s := &settlingSink{}
	m := NewMetrics(prometheus.NewRegistry())
	fw := newForwarder(t, s, Filter{}, newDeadLetter(t), m)
	mgr := NewManager([]*Forwarder{fw}, ManagerConfig{DeadLetter: fw.cfg.DeadLetter})

	first, err := fw.HandleSettling(context.Background(), events(3))
	if err != nil || first == nil {
		t.Fatalf("HandleSettling = %v, %v; want a settlement", first, err)
	}
	if _, ok := received(t, first); ok {
		t.Fatal("the batch settled before the sink said so")
	}
	st, _ := mgr.SinkStatus(context.Background(), "siem")
	if st.Sent != 3 || st.Settled != 0 || st.Unsettled != 3 {
		t.Errorf("status while unsettled: sent %d, settled %d, unsettled %d; want 3, 0, 3", st.Sent, st.Settled, st.Unsettled)
	}
	s.settleAll(nil)
	if err, ok := received(t, first); !ok || err != nil {
		t.Fatalf("settlement = %v, %v; want nil", err, ok)
	}

	second, err := fw.HandleSettling(context.Background(), events(4))
	if err != nil {
		t.Fatal(err)
	}
	lost := errors.New("connection reset by peer")
	s.settleAll(lost)
	if err, ok := received(t, second); !ok || !errors.Is(err, lost) {
		t.Fatalf("settlement = %v, %v; want the loss", err, ok)
	}
	st, _ = mgr.SinkStatus(context.Background(), "siem")
	if st.Settled != 3 || st.Unsettled != 0 || st.Resent != 4 {
		t.Errorf("status: settled %d, unsettled %d, resent %d; want 3, 0, 4", st.Settled, st.Unsettled, st.Resent)
	}
	if got := testutil.ToFloat64(m.resent.WithLabelValues("siem")); got != 4 {
		t.Errorf("vigil_sink_events_resent_total = %v, want 4", got)
	}
}

// TestForwarder_SplitBatchSettlesWhole: a batch split by a permanent
// refusal settles only once every write of it did, and is lost when one
// is.
func TestForwarder_SplitBatchSettlesWhole(t *testing.T) {
	s := &settlingSink{}
	s.refuse = func(batch []eventlog.Record) error {
		for _, r := range batch {
			if r.ID == "ev001" {
				return Permanent(errors.New("bad event"))
			}
		}
		return nil
	}
	fw := newForwarder(t, s, Filter{}, newDeadLetter(t), nil)
	settle, err := fw.HandleSettling(context.Background(), events(4))
	if err != nil || settle == nil {
		t.Fatalf("HandleSettling = %v, %v", settle, err)
	}
	s.mu.Lock()
	parts := s.pending
	s.pending = nil
	s.mu.Unlock()
	if len(parts) < 2 {
		t.Fatalf("%d writes settle; want the split batch's several", len(parts))
	}
	parts[0](nil)
	if _, ok := received(t, settle); ok {
		t.Fatal("settled with writes of the batch unsettled")
	}
	parts[1](errors.New("connection closed"))
	for _, p := range parts[2:] {
		p(nil)
	}
	if err, ok := received(t, settle); !ok || err == nil {
		t.Fatalf("settlement = %v, %v; want the loss", err, ok)
	}
}

// TestForwarder_PlainSinkSettlesAtOnce: a sink that is no Settler (one
// whose protocol acknowledges) settles each batch when it is written.
func TestForwarder_PlainSinkSettlesAtOnce(t *testing.T) {
	fw := newForwarder(t, &memSink{}, Filter{}, newDeadLetter(t), nil)
	settle, err := fw.HandleSettling(context.Background(), events(2))
	if err != nil || settle != nil {
		t.Fatalf("HandleSettling = %v, %v; want settled at once", settle, err)
	}
}
