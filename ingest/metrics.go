package ingest

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what ingest does. A nil *Metrics counts nothing.
type Metrics struct {
	accepted, duplicates, bytes, gaps prometheus.Counter
	rejectedBy                        *prometheus.CounterVec
	batchEvents                       prometheus.Histogram
	appendSeconds                     prometheus.Histogram
	appendErrors                      prometheus.Counter
}

// NewMetrics registers ingest's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		accepted:   prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_events_accepted_total", Help: "Events appended to the log."}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_events_duplicate_total", Help: "Events answered as duplicates of ones already accepted."}),
		bytes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_bytes_total", Help: "Bytes of events received (decompressed)."}),
		gaps:       prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_seq_gaps_total", Help: "Gaps found in devices' event sequence numbers."}),
		rejectedBy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "vigil_ingest_events_rejected_total", Help: "Events rejected into quarantine, by reason."}, []string{"reason"}),
		batchEvents: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_ingest_batch_events", Help: "Events per request.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 10)}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "vigil_ingest_append_seconds", Help: "Time to make a batch durable in the log.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)}),
		appendErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "vigil_ingest_append_errors_total", Help: "Batches the log did not accept."}),
	}
	reg.MustRegister(m.accepted, m.duplicates, m.bytes, m.gaps, m.rejectedBy, m.batchEvents, m.appendSeconds, m.appendErrors)
	return m
}

func (m *Metrics) rejected(reason string) {
	if m != nil {
		m.rejectedBy.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) appended(d time.Duration, err error) {
	if m == nil {
		return
	}
	if err != nil {
		m.appendErrors.Inc()
		return
	}
	m.appendSeconds.Observe(d.Seconds())
}

func (m *Metrics) batch(events, bytes, accepted, duplicates int) {
	if m != nil {
		m.batchEvents.Observe(float64(events))
		m.bytes.Add(float64(bytes))
		m.accepted.Add(float64(accepted))
		m.duplicates.Add(float64(duplicates))
	}
}

func (m *Metrics) seqGap() {
	if m != nil {
		m.gaps.Inc()
	}
}
