package query

import (
	"cmp"
	"slices"
	"sort"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
)

// CostReport is what GPU time and nodes cost over [From, To], as `caravan
// cost -json` prints it: figures in base units (seconds, dollars).
type CostReport struct {
	From  time.Time  `json:"from"`
	To    time.Time  `json:"to"`
	Pools []PoolCost `json:"pools"`
	Runs  []RunCost  `json:"runs"`
	// RunsApproximate: per-run figures are kept per day, so a window
	// that starts mid-day counts the whole of that day's run time.
	RunsApproximate bool `json:"runs_approximate"`
	// Project, when set, is the project whose runs Runs lists; Pools
	// are every project's.
	Project string `json:"project,omitempty"`
	// Source says where the figures come from: "autoscaler" (its hourly
	// cost records: node-hours paid and GPU-hours used) or "runs" (the
	// runs' records and jobs, where no autoscaler keeps cost records:
	// GPU-hours used only; nothing says what the nodes cost).
	Source string `json:"source"`
}

// OnlyRuns keeps the cost rows of the runs whose records are listed; it
// reuses costs' array.
func OnlyRuns(costs []RunCost, refs []record.Ref) []RunCost {
	keep := make(map[string]bool, len(refs))
	for _, r := range refs {
		keep[r.RunID] = true
	}
	out := costs[:0]
	for _, c := range costs {
		if keep[c.Run] {
			out = append(out, c)
		}
	}
	return out
}

// PoolCost is one caravan pool's figures in a CostReport.
type PoolCost struct {
	Pool                string  `json:"pool"`
	NodeSeconds         float64 `json:"node_seconds"`
	GPUSeconds          float64 `json:"gpu_seconds"`
	AllocatedGPUSeconds float64 `json:"allocated_gpu_seconds"`
	IdleGPUSeconds      float64 `json:"idle_gpu_seconds"`
	Dollars             float64 `json:"dollars"`
	Utilisation         float64 `json:"utilisation"` // allocated / paid GPU time, 0-1
}

// RunCost is one run's GPU time in a CostReport.
type RunCost struct {
	Run        string  `json:"run"`
	Pool       string  `json:"pool"`
	GPUSeconds float64 `json:"gpu_seconds"`
	Dollars    float64 `json:"dollars"` // GPU time × the pool's price per GPU
}

// SumCost is cost from the autoscaler's records: it adds up the hourly
// figures of the hours that overlap [from, to], and the per-run figures of
// the days that do.
func SumCost(recs []record.Cost, from, to time.Time) CostReport {
	rep := CostReport{From: from.UTC(), To: to.UTC(), Pools: []PoolCost{}, Runs: []RunCost{}, Source: CostFromAutoscalerSource}
	pools := map[string]*record.CostFigures{}
	runs := map[[2]string]*RunCost{}
	for _, r := range recs {
		day, err := time.Parse(time.DateOnly, r.Date)
		if err != nil {
			continue
		}
		f := pools[r.Pool]
		if f == nil {
			f = &record.CostFigures{}
			pools[r.Pool] = f
		}
		for h, hf := range r.Hours {
			start := day.Add(time.Duration(h) * time.Hour)
			if start.Add(time.Hour).After(from) && start.Before(to) {
				f.Add(hf)
			}
		}
		if day.Before(from.UTC().Truncate(24 * time.Hour)) {
			continue
		}
		if day.Before(from.UTC()) {
			rep.RunsApproximate = true
		}
		perGPU := 0.0
		if r.GPUsPerNode > 0 {
			perGPU = r.Price / float64(r.GPUsPerNode) / 3600
		}
		for run, s := range r.RunGPUSeconds {
			k := [2]string{r.Pool, run}
			rc := runs[k]
			if rc == nil {
				rc = &RunCost{Run: run, Pool: r.Pool}
				runs[k] = rc
			}
			rc.GPUSeconds += s
			rc.Dollars += s * perGPU
		}
	}
	for name, f := range pools {
		pc := PoolCost{Pool: name, NodeSeconds: f.NodeSeconds, GPUSeconds: f.GPUSeconds,
			AllocatedGPUSeconds: f.AllocatedGPUSeconds, IdleGPUSeconds: f.IdleGPUSeconds(), Dollars: f.Dollars}
		if f.GPUSeconds > 0 {
			pc.Utilisation = f.AllocatedGPUSeconds / f.GPUSeconds
		}
		rep.Pools = append(rep.Pools, pc)
	}
	sort.Slice(rep.Pools, func(i, j int) bool { return rep.Pools[i].Pool < rep.Pools[j].Pool })
	for _, rc := range runs {
		rep.Runs = append(rep.Runs, *rc)
	}
	sort.Slice(rep.Runs, func(i, j int) bool {
		if rep.Runs[i].Dollars != rep.Runs[j].Dollars {
			return rep.Runs[i].Dollars > rep.Runs[j].Dollars
		}
		return rep.Runs[i].Run < rep.Runs[j].Run
	})
	return rep
}

// The sources of a CostReport.
const (
	// CostFromAutoscalerSource: the autoscaler's hourly cost records.
	CostFromAutoscalerSource = "autoscaler"
	// CostFromRunsSource: the runs' records and jobs.
	CostFromRunsSource = "runs"
)

// CostFromRuns is cost without an autoscaler: the GPU time each run held
// in [from, to] (its outcome's, for every attempt, when it ran wholly in
// the window; else its latest attempt's overlap with it, times its GPUs),
// priced at its pool's price per GPU when the run's record knows one. It
// is pure.
func CostFromRuns(rows []Run, from, to, now time.Time) CostReport {
	rep := CostReport{From: from.UTC(), To: to.UTC(), Pools: []PoolCost{}, Runs: []RunCost{}, Source: CostFromRunsSource}
	pools := map[string]*PoolCost{}
	for _, r := range rows {
		rc, ok := runCostIn(r, from, to, now)
		if !ok {
			continue
		}
		rep.Runs = append(rep.Runs, rc)
		p := pools[r.Pool]
		if p == nil {
			p = &PoolCost{Pool: r.Pool}
			pools[r.Pool] = p
		}
		p.AllocatedGPUSeconds += rc.GPUSeconds
		p.Dollars += rc.Dollars
	}
	for _, p := range pools {
		rep.Pools = append(rep.Pools, *p)
	}
	sort.Slice(rep.Pools, func(i, j int) bool { return rep.Pools[i].Pool < rep.Pools[j].Pool })
	sort.Slice(rep.Runs, func(i, j int) bool {
		if rep.Runs[i].GPUSeconds != rep.Runs[j].GPUSeconds {
			return rep.Runs[i].GPUSeconds > rep.Runs[j].GPUSeconds
		}
		return rep.Runs[i].Run < rep.Runs[j].Run
	})
	return rep
}

// GPUSecondsIn is the GPU time run r held within [from, to].
func GPUSecondsIn(r Run, from, to, now time.Time) float64 {
	if r.Started.IsZero() || r.GPUs == 0 {
		return 0
	}
	end := r.Finished
	if end.IsZero() || !r.State.Terminal() {
		end = now
	}
	if r.GPUSeconds > 0 && !r.Started.Before(from) && !end.After(to) {
		return r.GPUSeconds
	}
	lo, hi := r.Started, end
	if lo.Before(from) {
		lo = from
	}
	if hi.After(to) {
		hi = to
	}
	if !hi.After(lo) {
		return 0
	}
	return hi.Sub(lo).Seconds() * float64(r.GPUs)
}

// runCostIn is the GPU time run r held in [from, to] and what it cost at
// its pool's price per GPU, when its record knows one; ok is false when it
// held none.
func runCostIn(r Run, from, to, now time.Time) (rc RunCost, ok bool) {
	s := GPUSecondsIn(r, from, to, now)
	if s <= 0 {
		return RunCost{}, false
	}
	rc = RunCost{Run: r.ID, Pool: r.Pool, GPUSeconds: s}
	if r.PricePerHour > 0 && r.GPUsPerNode > 0 {
		rc.Dollars = s * r.PricePerHour / float64(r.GPUsPerNode) / 3600
	}
	return rc, true
}

// NodePoolUse is the GPU time runs held on one node pool in a window, what
// it cost where their pools have a price, and the caravan pools of those
// runs.
type NodePoolUse struct {
	Pools      []string
	GPUSeconds float64
	Dollars    float64
}

// UseByNodePool groups the GPU time runs held in [from, to] by the node
// pool each run went to (a caravan pool maps to the node pool of its name
// unless a pool block says otherwise): one caravan pool's runs may have
// run on several node pools, and its GPU time belongs to each in turn.
func UseByNodePool(rows []Run, from, to, now time.Time) map[string]*NodePoolUse {
	out := map[string]*NodePoolUse{}
	for _, r := range rows {
		rc, ok := runCostIn(r, from, to, now)
		if !ok {
			continue
		}
		np := cmp.Or(r.NodePool, r.Pool)
		u := out[np]
		if u == nil {
			u = &NodePoolUse{Pools: []string{}}
			out[np] = u
		}
		u.GPUSeconds += rc.GPUSeconds
		u.Dollars += rc.Dollars
		if r.Pool != "" && !slices.Contains(u.Pools, r.Pool) {
			u.Pools = append(u.Pools, r.Pool)
		}
	}
	for _, u := range out {
		slices.Sort(u.Pools)
	}
	return out
}
