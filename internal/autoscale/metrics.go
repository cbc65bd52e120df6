package autoscale

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the autoscaler's Prometheus series. All durations are in
// seconds and money in dollars, per Prometheus' base-unit convention.
type Metrics struct {
	decision       prometheus.Histogram
	nodes          *prometheus.GaugeVec
	pending        *prometheus.GaugeVec
	unschedulable  *prometheus.GaugeVec
	created        *prometheus.CounterVec
	removed        *prometheus.CounterVec
	failed         *prometheus.CounterVec
	replaced       *prometheus.CounterVec
	applySeconds   *prometheus.HistogramVec
	applyFailures  *prometheus.CounterVec
	observeErrors  prometheus.Counter
	misplaced      *prometheus.GaugeVec
	keptBusy       *prometheus.CounterVec
	leader         prometheus.Gauge
	nodeSeconds    *prometheus.CounterVec
	gpuSeconds     *prometheus.CounterVec
	allocSeconds   *prometheus.CounterVec
	idleSeconds    *prometheus.CounterVec
	costDollars    *prometheus.CounterVec
	runGPUSeconds  *prometheus.CounterVec
	pricePerSecond *prometheus.GaugeVec
}

// NewMetrics creates the series and registers them with reg (nil: not
// registered, for tests that do not scrape).
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{}
	m.newScalingSeries()
	m.newCostSeries()
	if reg != nil {
		for _, c := range []prometheus.Collector{
			m.decision, m.nodes, m.pending, m.unschedulable, m.created, m.removed, m.failed, m.replaced,
			m.applySeconds, m.applyFailures, m.observeErrors, m.misplaced, m.keptBusy, m.leader, m.nodeSeconds, m.gpuSeconds,
			m.allocSeconds, m.idleSeconds, m.costDollars, m.runGPUSeconds, m.pricePerSecond,
		} {
			reg.MustRegister(c)
		}
	}
	return m
}

// newScalingSeries creates the series of decisions, nodes, machines and
// Terraform runs.
func (m *Metrics) newScalingSeries() {
	m.decision = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "caravan_autoscaler_decision_seconds",
		Help:    "Time from the Nomad event (or resync) that triggered a decision to the decision.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	})
	m.nodes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_autoscaler_nodes",
		Help: "Nodes of each pool by state (ready, cordoned, draining, booting, initializing, down, misplaced).",
	}, []string{"pool", "state"})
	m.pending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_autoscaler_pending_requests",
		Help: "Queued allocations waiting for capacity in each pool.",
	}, []string{"pool"})
	m.unschedulable = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_autoscaler_unschedulable_requests",
		Help: "Queued allocations that cannot fit even an empty node of the pool.",
	}, []string{"pool"})
	m.created = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_machines_created_total",
		Help: "Machine names added to a pool's Terraform state.",
	}, []string{"pool"})
	m.removed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_machines_removed_total",
		Help: "Drained, empty machines removed from a pool's Terraform state.",
	}, []string{"pool"})
	m.failed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_machines_failed_total",
		Help: "Machines found failed: down, or not registered in Nomad within boot_timeout.",
	}, []string{"pool"})
	m.replaced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_machines_replaced_total",
		Help: "Failed machines removed from Terraform state so that new ones can take their place.",
	}, []string{"pool"})
	m.applySeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "caravan_autoscaler_terraform_apply_seconds",
		Help:    "Duration of Terraform plan+apply runs.",
		Buckets: prometheus.ExponentialBuckets(0.5, 2, 12),
	}, []string{"pool"})
	m.applyFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_terraform_failures_total",
		Help: "Failed Terraform runs (retried with backoff).",
	}, []string{"pool"})
	m.observeErrors = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "caravan_autoscaler_observe_failures_total",
		Help: "Cluster observations that failed (Nomad unreachable or erroring); no decision is taken on them.",
	})
	m.misplaced = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_autoscaler_misplaced_nodes",
		Help: "Machines of the pool's Terraform state that registered with another Nomad node pool (the module's node_pool is wrong); kept, never counted as capacity.",
	}, []string{"pool"})
	m.keptBusy = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_autoscaler_removals_cancelled_total",
		Help: "Nodes kept in Terraform's target at the last moment because a fresh read found them running allocations.",
	}, []string{"pool"})
	m.leader = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "caravan_autoscaler_leader",
		Help: "1 while this process holds the autoscaler lock and acts, else 0.",
	})
}

// newCostSeries creates the series of what pools cost and how their GPUs
// were used.
func (m *Metrics) newCostSeries() {
	m.nodeSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_pool_node_seconds_total",
		Help: "Machine lifetime paid, in node-seconds (names in Terraform state × time).",
	}, []string{"pool"})
	m.gpuSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_pool_gpu_seconds_total",
		Help: "GPU time paid: node-seconds × gpus_per_node.",
	}, []string{"pool"})
	m.allocSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_pool_allocated_gpu_seconds_total",
		Help: "GPU time held by allocations.",
	}, []string{"pool"})
	m.idleSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_pool_idle_gpu_seconds_total",
		Help: "GPU time paid but held by no allocation.",
	}, []string{"pool"})
	m.costDollars = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_pool_cost_dollars_total",
		Help: "Money paid for the pool's machines: node-seconds × price_per_hour / 3600.",
	}, []string{"pool"})
	m.runGPUSeconds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "caravan_run_allocated_gpu_seconds_total",
		Help: "GPU time held by each run's allocations in autoscaled pools.",
	}, []string{"pool", "run"})
	m.pricePerSecond = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "caravan_pool_node_price_dollars_per_second",
		Help: "Price of one node of the pool (price_per_hour / 3600).",
	}, []string{"pool"})
}

// nodeStates are the label values of caravan_autoscaler_nodes, all set on
// every update so that a state that empties reads 0, not its old value.
var nodeStates = []string{"ready", "cordoned", "draining", "booting", "initializing", "down", "misplaced"}

func (m *Metrics) setNodes(pool string, counts map[string]int) {
	for _, s := range nodeStates {
		m.nodes.WithLabelValues(pool, s).Set(float64(counts[s]))
	}
}
