package controller

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the controller does. A nil *Metrics counts nothing.
type Metrics struct {
	written      prometheus.Counter
	outcomes     prometheus.Counter
	failures     prometheus.Counter
	resyncs      *prometheus.CounterVec
	resyncLength prometheus.Gauge
}

// NewMetrics registers the controller's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		written: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caravan_controller_records_written_total",
			Help: "Run records the controller wrote for jobs that had none.",
		}),
		outcomes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caravan_controller_outcomes_written_total",
			Help: "Outcomes (how a run ended, with its log tails) the controller wrote for runs that ended.",
		}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "caravan_controller_record_write_failures_total",
			Help: "Run records the controller failed to write (retried at the next resync).",
		}),
		resyncs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "caravan_controller_resyncs_total",
			Help: "Full comparisons of caravan jobs with run records, by result (ok, error).",
		}, []string{"result"}),
		resyncLength: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "caravan_controller_last_resync_duration_seconds",
			Help: "How long the last full comparison of jobs with records took.",
		}),
	}
	reg.MustRegister(m.written, m.outcomes, m.failures, m.resyncs, m.resyncLength)
	return m
}

func (m *Metrics) wrote() {
	if m != nil {
		m.written.Inc()
	}
}

func (m *Metrics) ended() {
	if m != nil {
		m.outcomes.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failures.Inc()
	}
}

func (m *Metrics) resynced(d time.Duration, err error) {
	if m == nil {
		return
	}
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.resyncs.WithLabelValues(result).Inc()
	m.resyncLength.Set(d.Seconds())
}
