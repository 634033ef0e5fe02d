package sinks

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the forwarders' Prometheus metrics, labelled by sink. The
// lag of each sink is its log consumer group's lag
// (vigil_log_lag_records{group="sink.NAME"}).
type Metrics struct {
	sent       *prometheus.CounterVec
	retried    *prometheus.CounterVec
	dead       *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	resent     *prometheus.CounterVec
	unsettled  *prometheus.GaugeVec
	connected  *prometheus.GaugeVec
	lastError  *prometheus.GaugeVec
	lastSent   *prometheus.GaugeVec
	deadLetter *prometheus.GaugeVec
	oversize   *prometheus.CounterVec
}

// NewMetrics registers the sink metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	label := []string{"sink"}
	m := &Metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_events_sent_total", Help: "Events a sink delivered (a resent event counts again).",
		}, label),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_events_retried_total", Help: "Events in batches that failed and will be written again.",
		}, label),
		dead: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_events_dead_lettered_total", Help: "Events a sink refused permanently, parked in its dead letter.",
		}, label),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_sent_bytes_total", Help: "Event bytes a sink delivered (before its framing).",
		}, label),
		resent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_events_resent_total", Help: "Events a receiver took but whose connection ended before they settled: they are sent again.",
		}, label),
		unsettled: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_unsettled_events", Help: "Events a receiver took that wait for the settle time before they count as delivered.",
		}, label),
		connected: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_connected", Help: "1 while a sink holds a connection to its downstream system.",
		}, label),
		lastError: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_last_error_timestamp_seconds", Help: "When a sink's last write failed.",
		}, label),
		lastSent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_last_sent_timestamp_seconds", Help: "When a sink last delivered a batch.",
		}, label),
		deadLetter: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "vigil_sink_dead_letter_events", Help: "Events waiting in a sink's dead letter.",
		}, label),
		oversize: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_sink_events_oversize_total", Help: "Events whose frame was larger than the sink's max_frame_bytes (then parked, truncated or sent, as its oversize policy says).",
		}, label),
	}
	reg.MustRegister(m.sent, m.retried, m.dead, m.bytes, m.resent, m.unsettled, m.connected, m.lastError, m.lastSent, m.deadLetter, m.oversize)
	return m
}
