package autoscale

import (
	"context"
	"sort"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// maxAccountGap bounds the time one accounting step covers: after a longer
// gap (the autoscaler was down, or the clock jumped) the figures would be a
// guess, so only this much is counted.
const maxAccountGap = 10 * time.Minute

// account adds the time since the last observation to the pool's cost
// figures: machines in Terraform state are paid, GPUs held by allocations
// are used, the difference is idle.
func (l *Loop) account(ctx context.Context, p *poolRun, now time.Time) {
	if p.lastAccount.IsZero() || now.Before(p.lastAccount) {
		p.lastAccount = now
		return
	}
	dt := now.Sub(p.lastAccount)
	if dt > maxAccountGap {
		dt = maxAccountGap
	}
	p.lastAccount = now
	secs := dt.Seconds()
	nodes := len(p.inState)
	gpusPerNode := p.pool.GPUsPerNode
	busy := 0
	totalGPUs := 0
	for _, n := range p.state.Nodes {
		busy += n.Used.GPUs
		totalGPUs += n.Total.GPUs
	}
	paidGPUs := float64(nodes * gpusPerNode)
	if gpusPerNode == 0 {
		paidGPUs = float64(totalGPUs)
	}
	f := CostFigures{
		NodeSeconds:         float64(nodes) * secs,
		GPUSeconds:          paidGPUs * secs,
		AllocatedGPUSeconds: float64(busy) * secs,
	}
	f.Dollars = f.NodeSeconds * p.pool.PricePerHour / 3600
	l.met.nodeSeconds.WithLabelValues(p.name).Add(f.NodeSeconds)
	l.met.gpuSeconds.WithLabelValues(p.name).Add(f.GPUSeconds)
	l.met.allocSeconds.WithLabelValues(p.name).Add(f.AllocatedGPUSeconds)
	l.met.idleSeconds.WithLabelValues(p.name).Add(f.IdleGPUSeconds())
	l.met.costDollars.WithLabelValues(p.name).Add(f.Dollars)

	date := now.UTC().Format(time.DateOnly)
	if p.cost != nil && p.cost.Date != date {
		// The day turned: the finished day is written once more below
		// by save, then a fresh record starts.
		l.saveCost(ctx, p, l.active)
		p.cost = nil
	}
	if p.cost == nil {
		p.cost = &CostRecord{Pool: p.name, Date: date, RunGPUSeconds: map[string]float64{}}
		p.costIndex = 0 // a new record: created only if no other process did
	}
	c := p.cost
	c.Price, c.GPUsPerNode = p.pool.PricePerHour, gpusPerNode
	c.CostFigures.Add(f)
	c.Hours[now.UTC().Hour()].Add(f)
	if c.RunGPUSeconds == nil {
		c.RunGPUSeconds = map[string]float64{}
	}
	for run, g := range p.view.RunGPUs {
		s := float64(g) * secs
		l.met.runGPUSeconds.WithLabelValues(p.name, run).Add(s)
		c.RunGPUSeconds[run] += s
	}
	trimRuns(c.RunGPUSeconds, maxRunsPerDay)
}

// trimRuns keeps the n runs with the most GPU time, so that a day's record
// stays under Nomad's variable size limit.
func trimRuns(m map[string]float64, n int) {
	if len(m) <= n {
		return
	}
	type kv struct {
		k string
		v float64
	}
	all := make([]kv, 0, len(m))
	for k, v := range m {
		all = append(all, kv{k, v})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].v > all[j].v || (all[i].v == all[j].v && all[i].k < all[j].k) })
	for _, e := range all[n:] {
		delete(m, e.k)
	}
}

// record builds the PoolRecord of p.
func (l *Loop) record(p *poolRun, now time.Time) PoolRecord {
	r := PoolRecord{
		Pool: p.name, NodePool: nodePoolOf(p.name, p.pool), Updated: now, Holder: l.cfg.Holder,
		Last: p.last, InState: p.inState, Requested: p.requested, Seen: p.seen, History: p.history,
		Nodes: nodeCounts(p.state), Queued: len(p.state.Pending), Blocked: p.view.Blocked,
		Foreign: p.view.Foreign, Misplaced: p.view.Misplaced, Terraform: p.tf, PricePerHour: p.pool.PricePerHour, DryRun: l.cfg.DryRun,
	}
	if r.InState == nil {
		r.InState = []string{}
	}
	for _, n := range p.state.Nodes {
		if n.Misplaced {
			continue // its GPUs serve another node pool
		}
		r.GPUsBusy += n.Used.GPUs
		if n.Status == decide.NodeReady {
			r.GPUsFree += n.Free().GPUs
		}
	}
	nodeCap := decide.NodeCapacity(p.pool)
	for _, q := range p.state.Pending {
		r.QueuedGPUs += q.Resources.GPUs
		if !nodeCap.Fits(q.Resources) {
			r.Unschedulable++
		}
	}
	if p.cost != nil && p.cost.Date == now.UTC().Format(time.DateOnly) {
		r.SpendToday = p.cost.Dollars
	}
	switch {
	case p.applying:
		r.Next = "terraform apply running"
	case !p.tf.NextRetryAt.IsZero() && p.tf.NextRetryAt.After(now):
		r.Next, r.NextAt = "retry terraform apply after failure", p.tf.NextRetryAt
	default:
		r.Next, r.NextAt = l.policy.NextPlanned(p.pool, p.state, p.history)
		if r.Next == "" && !p.wakeAt.IsZero() {
			r.Next, r.NextAt = "re-decide when a timer falls due", p.wakeAt
		}
	}
	return r
}
