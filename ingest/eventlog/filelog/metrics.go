package filelog

import "github.com/prometheus/client_golang/prometheus"

// metrics are one Log's; Collectors hands them to the caller to register.
type metrics struct {
	fsyncs         prometheus.Counter
	appendSeconds  prometheus.Histogram
	appendedRecs   prometheus.Counter
	appendedBytes  prometheus.Counter
	refused        prometheus.Counter
	diskBytes      prometheus.Gauge
	maxBytes       prometheus.Gauge
	segments       prometheus.Gauge
	skippedRecords *prometheus.CounterVec
	corruptFrames  prometheus.Counter
	corruptBytes   prometheus.Counter
	corruptRecords prometheus.Counter
}

func newMetrics() *metrics {
	return &metrics{
		fsyncs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_fsyncs_total",
			Help: "Fsyncs of segment files and the log directory made to store appends (offset commits not included).",
		}),
		appendSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "vigil_filelog_append_seconds",
			Help:    "Time from an append call until its records were durable.",
			Buckets: prometheus.ExponentialBuckets(50e-6, 2, 18), // 50us .. 6.5s
		}),
		appendedRecs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_appended_records_total",
			Help: "Records made durable.",
		}),
		appendedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_appended_bytes_total",
			Help: "Bytes of record frames made durable.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_full_appends_total",
			Help: "Appends refused because the log's disk budget was full.",
		}),
		diskBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_filelog_disk_bytes",
			Help: "Bytes of segment files on disk; appends are refused when it would pass vigil_filelog_max_bytes.",
		}),
		maxBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_filelog_max_bytes",
			Help: "The log's disk budget.",
		}),
		segments: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "vigil_filelog_segments",
			Help: "Segment files on disk.",
		}),
		skippedRecords: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_filelog_skipped_records_total",
			Help: "Records a consumer group that is not required lost to retention before committing them.",
		}, []string{"group"}),
		corruptFrames: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_corrupt_frames_total",
			Help: "Damaged regions of segments (frames that fail their length or checksum checks, up to the next frame that passes) that readers skip.",
		}),
		corruptBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_corrupt_bytes_total",
			Help: "Bytes of the damaged regions counted in vigil_filelog_corrupt_frames_total.",
		}),
		corruptRecords: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_filelog_corrupt_records_total",
			Help: "Records lost in the damaged regions counted in vigil_filelog_corrupt_frames_total.",
		}),
	}
}

// Collectors returns the log's metrics for the caller to register.
func (l *Log) Collectors() []prometheus.Collector {
	m := l.metrics
	return []prometheus.Collector{m.fsyncs, m.appendSeconds, m.appendedRecs, m.appendedBytes, m.refused,
		m.diskBytes, m.maxBytes, m.segments, m.skippedRecords, m.corruptFrames, m.corruptBytes, m.corruptRecords}
}
