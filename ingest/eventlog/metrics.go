package eventlog

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what consumers do. A nil *Metrics counts nothing.
type Metrics struct {
	records    *prometheus.CounterVec
	failures   *prometheus.CounterVec
	lastCommit *prometheus.GaugeVec
	rewinds    *prometheus.CounterVec
}

// NewMetrics registers the consumer metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_log_consumed_records_total",
			Help: "Records a consumer group's handler processed successfully.",
		}, []string{"group"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_log_handler_errors_total",
			Help: "Batches a consumer group's handler failed on (each is retried).",
		}, []string{"group"}),
		lastCommit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_log_last_commit_timestamp_seconds",
			Help: "When a consumer group last committed its position.",
		}, []string{"group"}),
		rewinds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_log_rewinds_total",
			Help: "Times a consumer group read again from its committed position because a handled batch was lost before it settled.",
		}, []string{"group"}),
	}
	reg.MustRegister(m.records, m.failures, m.lastCommit, m.rewinds)
	return m
}

func (m *Metrics) consumed(group string, n int) {
	if m != nil {
		m.records.WithLabelValues(group).Add(float64(n))
	}
}

func (m *Metrics) failed(group string) {
	if m != nil {
		m.failures.WithLabelValues(group).Inc()
	}
}

func (m *Metrics) rewound(group string) {
	if m != nil {
		m.rewinds.WithLabelValues(group).Inc()
	}
}

func (m *Metrics) committed(group string) {
	if m != nil {
		m.lastCommit.WithLabelValues(group).SetToCurrentTime()
	}
}

// LagCollector reports vigil_log_lag_records{group} for the given groups,
// asking the log at each scrape.
type LagCollector struct {
	log    Log
	groups []string
	desc   *prometheus.Desc
}

// NewLagCollector returns a collector of the groups' lag; register it.
func NewLagCollector(log Log, groups ...string) *LagCollector {
	return &LagCollector{log: log, groups: groups, desc: prometheus.NewDesc(
		"vigil_log_lag_records", "Retained records a consumer group has not committed.", []string{"group"}, nil)}
}

// Describe implements prometheus.Collector.
func (c *LagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

// Collect implements prometheus.Collector.
func (c *LagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	for _, g := range c.groups {
		lag, err := c.log.Lag(ctx, g)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(lag), g)
	}
}
