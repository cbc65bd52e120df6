package sim

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// Epoch is the simulated wall-clock time of a trace's second zero.
var Epoch = time.Date(2021, 3, 4, 0, 0, 0, 0, time.UTC)

// Config is one simulation of one pool.
type Config struct {
	// Pool describes the machines; GPUsPerNode must be > 0.
	Pool *spec.Pool
	// Boot is the delay from asking for a machine to its node being
	// ready in Nomad.
	Boot time.Duration
	// CheckpointOverhead, when positive, makes every single-node job
	// checkpointable with this grace: a move holds the job's GPUs for
	// this long on the node it leaves (the checkpoint), then the job
	// resumes elsewhere from where it was. Zero: nothing moves.
	CheckpointOverhead time.Duration
	// Spot, when set, makes the pool's machines spot ones.
	Spot *Spot
}

// Result is what one policy cost and how long runs waited.
type Result struct {
	Policy string `json:"policy"`
	Jobs   int    `json:"jobs"`
	// Unscheduled jobs could never start (more GPUs than max_nodes offer).
	Unscheduled  int     `json:"unscheduled"`
	NodeHours    float64 `json:"node_hours"`
	PaidGPUHours float64 `json:"paid_gpu_hours"`
	// NodeHoursGPU is node-hours × GPUs per node, summed over pools; it is
	// what PaidGPUHours is computed from.
	NodeHoursGPU  float64 `json:"-"`
	UsedGPUHours  float64 `json:"used_gpu_hours"`
	Utilisation   float64 `json:"utilisation"`
	PaidOverUsed  float64 `json:"paid_over_used"`
	Cost          float64 `json:"cost"`
	QueueDelayP50 float64 `json:"queue_delay_p50_s"`
	QueueDelayP95 float64 `json:"queue_delay_p95_s"`
	QueueDelayMax float64 `json:"queue_delay_max_s"`
	QueueDelayAvg float64 `json:"queue_delay_mean_s"`
	// The paid GPU-hours that ran nothing, by cause: machines booting,
	// empty nodes, and free GPUs on nodes that held some work.
	BootGPUHours float64 `json:"boot_gpu_hours"`
	IdleGPUHours float64 `json:"idle_gpu_hours"`
	FragGPUHours float64 `json:"fragmented_gpu_hours"`
	Boots        int     `json:"machines_created"`
	PeakNodes    int     `json:"peak_nodes"`
	Decisions    int     `json:"decisions"`
	// EligibilityChanges counts nodes marked eligible or ineligible: the
	// Nomad API calls consolidation and scale-in cost.
	EligibilityChanges int `json:"eligibility_changes"`
	// Violations counts nodes removed while holding work; always 0 for a
	// correct policy.
	Violations int `json:"violations"`
	// Moves counts jobs moved while running, and MoveGPUHours the GPU
	// time they held checkpointing instead of running (paid, not used).
	Moves        int     `json:"moves"`
	MoveGPUHours float64 `json:"move_gpu_hours"`
	// With spot machines: SpotGPUHours are the paid GPU-hours on them,
	// PreemptedGPUHours the GPU time preemptions threw away (paid, not
	// used), OnDemandPaidGPUHours what the same policy paid for the same
	// trace on on-demand machines alone, and SpotCostOverOnDemand the
	// spot run's cost as a fraction of that one's.
	SpotGPUHours         float64 `json:"spot_gpu_hours"`
	PreemptedGPUHours    float64 `json:"preempted_gpu_hours"`
	Preemptions          int     `json:"preemptions"`
	OnDemandPaidGPUHours float64 `json:"on_demand_only_paid_gpu_hours,omitempty"`
	SpotCostOverOnDemand float64 `json:"spot_cost_over_on_demand,omitempty"`
	// pricedGPUHours are the paid GPU-hours weighted by their price as a
	// fraction of on-demand (spot ones at the spot price).
	pricedGPUHours float64

	// ResumeWaitP95 and ResumeWaitMax are how long jobs that were moved
	// or preempted waited to start again.
	ResumeWaitP95 float64 `json:"resume_wait_p95_s"`
	ResumeWaitMax float64 `json:"resume_wait_max_s"`

	// delays are the queueing delays of started jobs, sorted, kept so
	// that results of several pools can be merged; resumes the waits of
	// jobs started again after a move or a preemption.
	delays, resumes []float64
}

// controller is a scaling policy as the simulator drives it: after the
// events at now, look at the cluster and change it.
type controller interface {
	name() string
	// control acts on c and returns when it wants to be called again
	// even if nothing happens (zero: no timer).
	control(c *cluster, now time.Time) (time.Time, error)
}

// finishHeap orders running jobs by end time.
type finishHeap []*simJob

func (h finishHeap) Len() int { return len(h) }
func (h finishHeap) Less(i, j int) bool {
	if !h[i].end.Equal(h[j].end) {
		return h[i].end.Before(h[j].end)
	}
	return h[i].idx < h[j].idx
}
func (h finishHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hidx, h[j].hidx = i, j
}
func (h *finishHeap) Push(x any) {
	j := x.(*simJob)
	j.hidx = len(*h)
	*h = append(*h, j)
}
func (h *finishHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	x.hidx = -1
	*h = old[:len(old)-1]
	return x
}

func validate(cfg Config) error {
	if cfg.Pool == nil || cfg.Pool.GPUsPerNode <= 0 {
		return fmt.Errorf("simulation needs a pool with gpus_per_node > 0: set it in the pool block or with -gpus-per-node")
	}
	if cfg.Boot < 0 {
		return fmt.Errorf("boot delay %s is negative", cfg.Boot)
	}
	return cfg.Spot.Validate()
}

// simulate replays jobs through ctl. Jobs must be sorted by Submit.
func simulate(cfg Config, jobs []Job, ctl controller, initial int) (Result, error) {
	if err := validate(cfg); err != nil {
		return Result{}, err
	}
	res := Result{Policy: ctl.name(), Jobs: len(jobs)}
	start := Epoch
	if len(jobs) > 0 {
		start = Epoch.Add(jobs[0].Submit)
	}
	c := newCluster(cfg, initial, start)
	runnable := admit(jobs, cfg.Pool, &res)
	last, err := c.run(ctl, runnable, start, &res)
	if err != nil {
		return res, err
	}
	c.settle(cfg, last, &res)
	return res, nil
}

// newCluster is the pool at start: initial static nodes, none booting.
func newCluster(cfg Config, initial int, start time.Time) *cluster {
	c := &cluster{gpn: cfg.Pool.GPUsPerNode, boot: cfg.Boot, overhead: cfg.CheckpointOverhead, spot: newSpotState(cfg.Spot, initial > 0)}
	for i := range initial {
		c.nodes = append(c.nodes, &simNode{name: fmt.Sprintf("static-%d", i+1), requestedAt: start, createdAt: start, eligible: true, preemptAt: c.spot.draw(start)})
	}
	c.peak = initial
	return c
}

// admit turns the trace's jobs into the simulator's, a job wider than a
// node spread over whole nodes; a job wider than max_nodes allow is counted
// unscheduled and left out.
func admit(jobs []Job, pool *spec.Pool, res *Result) []*simJob {
	gpn := pool.GPUsPerNode
	sj := make([]simJob, len(jobs))
	var runnable []*simJob
	for i, j := range jobs {
		s := &sj[i]
		s.Job, s.idx, s.left = j, i, j.Duration
		s.nodes, s.gpus = 1, j.GPUs
		if j.GPUs > gpn {
			s.nodes = (j.GPUs + gpn - 1) / gpn
			s.gpus = gpn
		}
		if pool.MaxNodes > 0 && s.nodes > pool.MaxNodes {
			res.Unscheduled++
			continue
		}
		runnable = append(runnable, s)
		res.UsedGPUHours += float64(j.GPUs) * j.Duration.Hours()
	}
	return runnable
}

// run plays the events in time order until nothing is left to happen, and
// returns the time of the last one.
func (c *cluster) run(ctl controller, runnable []*simJob, start time.Time, res *Result) (time.Time, error) {
	next := 0
	var wake time.Time
	last := start
	for {
		t := c.nextEvent(runnable, next, wake)
		if t.IsZero() {
			return last, nil
		}
		c.account(t.Sub(last))
		c.now, last = t, t
		for len(c.running) > 0 && !c.running[0].end.After(t) {
			c.finish(heap.Pop(&c.running).(*simJob), t)
		}
		if c.spot != nil {
			c.preempt(t)
		}
		for next < len(runnable) && !Epoch.Add(runnable[next].Submit).After(t) {
			c.queue = append(c.queue, runnable[next])
			next++
		}
		c.register(t)
		c.place(t)
		if wake.IsZero() || !wake.After(t) {
			wake = time.Time{}
		}
		w, err := ctl.control(c, t)
		if err != nil {
			return last, err
		}
		res.Decisions++
		if !w.IsZero() {
			wake = w
		}
		c.place(t)
		if next >= len(runnable) && len(c.running) == 0 && len(c.queue) == 0 && wake.IsZero() && len(c.booting) == 0 {
			return last, nil
		}
	}
}

// nextEvent is the earliest of a submission, a run ending, a boot
// completing, a preemption and the policy's timer; zero when none is left.
func (c *cluster) nextEvent(runnable []*simJob, next int, wake time.Time) time.Time {
	var t time.Time
	consider := func(x time.Time) {
		if !x.IsZero() && (t.IsZero() || x.Before(t)) {
			t = x
		}
	}
	if next < len(runnable) {
		consider(Epoch.Add(runnable[next].Submit))
	}
	if len(c.running) > 0 {
		consider(c.running[0].end)
	}
	for _, m := range c.booting {
		consider(m.readyAt)
	}
	consider(wake)
	consider(c.nextPreemption())
	return t
}

// settle pays for every machine up to the last event and fills in res.
func (c *cluster) settle(cfg Config, last time.Time, res *Result) {
	for _, n := range c.nodes {
		c.paidNode += last.Sub(n.requestedAt)
	}
	for _, m := range c.booting {
		c.paidNode += last.Sub(m.requestedAt)
	}
	res.Unscheduled += len(c.queue)
	res.NodeHours = c.paidNode.Hours()
	res.NodeHoursGPU = res.NodeHours * float64(c.gpn)
	res.Cost = res.NodeHours * cfg.Pool.PricePerHour
	res.BootGPUHours = c.bootGPU.Hours()
	res.IdleGPUHours = c.idleGPU.Hours()
	res.FragGPUHours = c.fragGPU.Hours()
	res.Boots = c.boots
	res.PeakNodes = c.peak
	res.Violations = c.violations
	res.EligibilityChanges = c.flips
	res.Moves = c.moves
	res.MoveGPUHours = c.moveGPU.Hours()
	res.pricedGPUHours = res.NodeHoursGPU
	if cfg.Spot != nil {
		res.SpotGPUHours = res.NodeHoursGPU
		res.PreemptedGPUHours = c.spot.lost.Hours()
		res.Preemptions = c.spot.preemptions
		res.pricedGPUHours = res.NodeHoursGPU * cfg.Spot.Price
		res.Cost *= cfg.Spot.Price
	}
	res.delays, res.resumes = c.delays, c.resumes
	res.finish()
}

// finish derives the ratios and delay statistics from the sums.
func (res *Result) finish() {
	res.PaidGPUHours = res.NodeHoursGPU
	if res.PaidGPUHours > 0 {
		res.Utilisation = res.UsedGPUHours / res.PaidGPUHours
	}
	if res.UsedGPUHours > 0 {
		res.PaidOverUsed = res.PaidGPUHours / res.UsedGPUHours
	}
	if res.SpotGPUHours > 0 && res.OnDemandPaidGPUHours > 0 {
		res.SpotCostOverOnDemand = res.pricedGPUHours / res.OnDemandPaidGPUHours
	}
	if len(res.resumes) > 0 {
		slices.Sort(res.resumes)
		res.ResumeWaitP95 = quantile(res.resumes, 0.95)
		res.ResumeWaitMax = res.resumes[len(res.resumes)-1]
	}
	if len(res.delays) > 0 {
		slices.Sort(res.delays)
		res.QueueDelayP50 = quantile(res.delays, 0.50)
		res.QueueDelayP95 = quantile(res.delays, 0.95)
		res.QueueDelayMax = res.delays[len(res.delays)-1]
		sum := 0.0
		for _, d := range res.delays {
			sum += d
		}
		res.QueueDelayAvg = sum / float64(len(res.delays))
	}
}

// quantile is the nearest-rank quantile of sorted xs.
func quantile(xs []float64, q float64) float64 {
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}

// peakNodes is the most nodes the trace keeps busy at once if every job
// started the moment it was submitted: concurrent GPUs of single-node
// jobs rounded up to nodes, plus the whole nodes of multi-node jobs.
func peakNodes(jobs []Job, gpn int) int {
	type ev struct {
		t     time.Duration
		gpus  int
		nodes int
	}
	evs := make([]ev, 0, 2*len(jobs))
	for _, j := range jobs {
		if j.GPUs > gpn {
			k := (j.GPUs + gpn - 1) / gpn
			evs = append(evs, ev{j.Submit, 0, k}, ev{j.Submit + j.Duration, 0, -k})
		} else {
			evs = append(evs, ev{j.Submit, j.GPUs, 0}, ev{j.Submit + j.Duration, -j.GPUs, 0})
		}
	}
	// Ends before starts at the same instant.
	sort.Slice(evs, func(a, b int) bool {
		if evs[a].t != evs[b].t {
			return evs[a].t < evs[b].t
		}
		return evs[a].gpus+evs[a].nodes < evs[b].gpus+evs[b].nodes
	})
	gpus, nodes, peak := 0, 0, 0
	for _, e := range evs {
		gpus += e.gpus
		nodes += e.nodes
		peak = max(peak, nodes+(gpus+gpn-1)/gpn)
	}
	return peak
}
