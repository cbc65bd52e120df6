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
	releases     prometheus.Counter
	gated        *prometheus.GaugeVec
	stalls       *prometheus.CounterVec
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
	m.releases = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "caravan_controller_runs_released_total",
		Help: "Waiting runs (depends_on) the controller registered once every run they waited for completed.",
	})
	m.gated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_controller_gated_runs",
		Help: "Runs that wait for others, at the last pass, by state (waiting, blocked).",
	}, []string{"state"})
	m.stalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_controller_stalled_runs_total",
		Help: "Runs the controller found stalled (no output, no metric, ~0 CPU and GPU for their stall_timeout), by on_stall action (warn, stop).",
	}, []string{"action"})
	reg.MustRegister(m.stalls)
	reg.MustRegister(m.written, m.outcomes, m.failures, m.resyncs, m.resyncLength, m.releases, m.gated)
	return m
}

func (m *Metrics) released() {
	if m != nil {
		m.releases.Inc()
	}
}

func (m *Metrics) gates(waiting, blocked int) {
	if m != nil {
		m.gated.WithLabelValues("waiting").Set(float64(waiting))
		m.gated.WithLabelValues("blocked").Set(float64(blocked))
	}
}

func (m *Metrics) stalled(action string) {
	if m != nil {
		m.stalls.WithLabelValues(action).Inc()
	}
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
