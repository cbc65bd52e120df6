package sim

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/spec"
)

// Report is the comparison of all policies over one trace, all pools
// together.
type Report struct {
	Jobs  int      `json:"jobs"`
	Pools []string `json:"pools"`
	Boot  float64  `json:"boot_s"`
	// LowerBound is LowerBound summed over pools (paid/used).
	LowerBound float64 `json:"lower_bound_paid_over_used"`
	// InstantMachines is the paid/used ratio of Nomad's best-fit placement
	// alone: caravan's policy with machines that boot and leave at once.
	// What separates it from LowerBound is work left where it was placed
	// (no policy that never moves running work recovers it); what a
	// policy pays above it is the autoscaler's own overhead.
	InstantMachines float64 `json:"instant_machines_paid_over_used"`
	// Results per policy, in Policies order.
	Results []Result `json:"-"`
}

// ComparePools splits jobs by pool (jobs naming no pool go to
// defaultPool), simulates each pool with every policy, and merges the
// figures per policy.
func ComparePools(pools map[string]*spec.Pool, defaultPool string, jobs []Job, boot time.Duration, opts Options) (*Report, error) {
	byPool := map[string][]Job{}
	for _, j := range jobs {
		p := j.Pool
		if p == "" {
			p = defaultPool
		}
		if _, ok := pools[p]; !ok {
			return nil, fmt.Errorf("job %s asks for pool %q, which is not declared: add a pool %q block to the pools file or fix the trace's pool column", j.ID, p, p)
		}
		byPool[p] = append(byPool[p], j)
	}
	rep := &Report{Jobs: len(jobs), Boot: boot.Seconds()}
	for p := range byPool {
		rep.Pools = append(rep.Pools, p)
	}
	sort.Strings(rep.Pools)
	merged := make([]Result, len(Policies))
	var lbPaid, instPaid, used float64
	for _, name := range rep.Pools {
		pj := byPool[name]
		rs, inst, err := comparePool(pools[name], pj, boot, opts)
		if err != nil {
			return nil, fmt.Errorf("pool %s: %w", name, err)
		}
		for i, r := range rs {
			merged[i].add(r)
		}
		u := rs[0].UsedGPUHours
		lbPaid += LowerBound(fitting(pj, pools[name]), pools[name].GPUsPerNode) * u
		instPaid += inst.PaidGPUHours
		used += u
	}
	for i := range merged {
		merged[i].finish()
	}
	if used > 0 {
		rep.LowerBound = lbPaid / used
		rep.InstantMachines = instPaid / used
	}
	rep.Results = merged
	return rep, nil
}

// comparePool runs every policy over one pool's jobs, and the placement
// floor beside them. With spot machines the jobs that checkpoint (those of
// one node, with a checkpoint overhead) run on a spot twin of the pool and
// the others on the pool itself, as caravan keeps runs that cannot resume
// off spot pools; each policy is also replayed on the pool alone, on
// on-demand machines, for the spot run's cost to be compared with.
func comparePool(pool *spec.Pool, jobs []Job, boot time.Duration, opts Options) ([]Result, Result, error) {
	var inst Result
	var instErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		inst, instErr = instantMachines(pool, jobs, opts)
	}()
	cfg := Config{Pool: pool, Boot: boot, CheckpointOverhead: opts.CheckpointOverhead}
	rs, err := Compare(cfg, jobs, opts)
	<-done
	if err == nil {
		err = instErr
	}
	if err != nil || opts.Spot == nil {
		return rs, inst, err
	}
	var spotJobs, rest []Job
	for _, j := range jobs {
		if opts.CheckpointOverhead > 0 && j.GPUs <= pool.GPUsPerNode {
			spotJobs = append(spotJobs, j)
		} else {
			rest = append(rest, j)
		}
	}
	twin := *pool
	twin.Name, twin.Spot = pool.Name+"-spot", true
	onSpot, err := Compare(Config{Pool: &twin, Boot: boot, CheckpointOverhead: opts.CheckpointOverhead, Spot: opts.Spot}, spotJobs, opts)
	if err != nil {
		return nil, inst, err
	}
	onDemand, err := Compare(cfg, rest, opts)
	if err != nil {
		return nil, inst, err
	}
	out := make([]Result, len(rs))
	for i := range rs {
		out[i].add(onSpot[i])
		out[i].add(onDemand[i])
		out[i].OnDemandPaidGPUHours = rs[i].PaidGPUHours
	}
	return out, inst, nil
}

// instantMachines runs the caravan policy over jobs with machines that boot
// in no time and leave the moment they are empty, so that only placement
// is left to pay for.
func instantMachines(pool *spec.Pool, jobs []Job, opts Options) (Result, error) {
	p := decide.DefaultPolicy()
	if opts.Caravan != nil {
		p = *opts.Caravan
	}
	p.WarmFraction, p.WarmMinGPUs = 0, 0
	if p.ScaleInGrace <= 0 {
		p.ScaleInGrace = time.Nanosecond
	}
	pl := *pool
	pl.MinIdle = time.Nanosecond
	pl.MinNodes = 0
	return Run(Config{Pool: &pl, Boot: 0}, jobs, "caravan", Options{Caravan: &p})
}

// add folds the figures of one pool into m.
func (m *Result) add(r Result) {
	m.Policy = r.Policy
	m.Jobs += r.Jobs
	m.Unscheduled += r.Unscheduled
	m.NodeHours += r.NodeHours
	m.NodeHoursGPU += r.NodeHoursGPU
	m.UsedGPUHours += r.UsedGPUHours
	m.Cost += r.Cost
	m.BootGPUHours += r.BootGPUHours
	m.IdleGPUHours += r.IdleGPUHours
	m.FragGPUHours += r.FragGPUHours
	m.Boots += r.Boots
	m.PeakNodes += r.PeakNodes
	m.Decisions += r.Decisions
	m.Violations += r.Violations
	m.EligibilityChanges += r.EligibilityChanges
	m.Moves += r.Moves
	m.MoveGPUHours += r.MoveGPUHours
	m.SpotGPUHours += r.SpotGPUHours
	m.PreemptedGPUHours += r.PreemptedGPUHours
	m.Preemptions += r.Preemptions
	m.OnDemandPaidGPUHours += r.OnDemandPaidGPUHours
	m.pricedGPUHours += r.pricedGPUHours
	m.delays = append(m.delays, r.delays...)
	m.resumes = append(m.resumes, r.resumes...)
}

// JSON is the report as `caravan simulate -json` prints it: one object
// with the trace-wide figures and one key per policy.
func (r *Report) JSON() map[string]any {
	out := map[string]any{
		"jobs":                            r.Jobs,
		"pools":                           r.Pools,
		"boot_s":                          r.Boot,
		"lower_bound_paid_over_used":      r.LowerBound,
		"instant_machines_paid_over_used": r.InstantMachines,
	}
	for _, res := range r.Results {
		out[res.Policy] = res
	}
	return out
}

// WriteTable prints the policies side by side.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "%d jobs, pool(s) %s, boot %s\n", r.Jobs, strings.Join(r.Pools, ", "), time.Duration(r.Boot*float64(time.Second)))
	fmt.Fprintf(w, "lower bound (instant boots, perfect repacking): paid/used %.3f\n", r.LowerBound)
	fmt.Fprintf(w, "best-fit placement with instant boots and removals (no running work moved): paid/used %.3f\n\n", r.InstantMachines)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "policy\tnode-h\tpaid GPU-h\tused GPU-h\tutil\tpaid/used\twait p50\tp95\tmax\tmean\tcost\tboots\t")
	for _, x := range r.Results {
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%.1f%%\t%.3f\t%s\t%s\t%s\t%s\t%.2f\t%d\t\n",
			x.Policy, x.NodeHours, x.PaidGPUHours, x.UsedGPUHours, 100*x.Utilisation, x.PaidOverUsed,
			secs(x.QueueDelayP50), secs(x.QueueDelayP95), secs(x.QueueDelayMax), secs(x.QueueDelayAvg), x.Cost, x.Boots)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	writeMovesAndSpot(w, r.Results)
	var never []string
	for _, x := range r.Results {
		if x.Unscheduled > 0 {
			never = append(never, fmt.Sprintf("%s %d", x.Policy, x.Unscheduled))
		}
	}
	if len(never) > 0 {
		fmt.Fprintf(w, "\njobs that never started (more GPUs than max_nodes offer, or still queued at the end): %s\n", strings.Join(never, ", "))
	}
	return nil
}

// writeMovesAndSpot says what moves and spot machines did, for the
// policies they did anything for.
func writeMovesAndSpot(w io.Writer, rs []Result) {
	for _, x := range rs {
		if x.Moves > 0 {
			fmt.Fprintf(w, "%s moved %d runs, losing %.1f GPU-h (%.2f%% of used)\n", x.Policy, x.Moves, x.MoveGPUHours, 100*x.MoveGPUHours/x.UsedGPUHours)
		}
	}
	for _, x := range rs {
		if x.SpotGPUHours > 0 {
			fmt.Fprintf(w, "%s on spot: %.0f of %.0f paid GPU-h on spot machines, %d preemptions losing %.1f GPU-h; cost %.3f× on demand alone\n",
				x.Policy, x.SpotGPUHours, x.PaidGPUHours, x.Preemptions, x.PreemptedGPUHours, x.SpotCostOverOnDemand)
		}
	}
}

func secs(s float64) string {
	return (time.Duration(s) * time.Second).String()
}

// fitting are the jobs that can run at all in the pool (a multi-node job
// needing more than max_nodes cannot).
func fitting(jobs []Job, pool *spec.Pool) []Job {
	if pool.MaxNodes <= 0 {
		return jobs
	}
	out := make([]Job, 0, len(jobs))
	for _, j := range jobs {
		if (j.GPUs+pool.GPUsPerNode-1)/pool.GPUsPerNode <= pool.MaxNodes {
			out = append(out, j)
		}
	}
	return out
}
