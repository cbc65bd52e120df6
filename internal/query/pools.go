package query

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// Pool is one Nomad node pool as status and pools show it: its runs, its
// nodes and free GPUs, and why its queued runs wait.
type Pool struct {
	NodePool    string         `json:"node_pool"`
	Pools       []string       `json:"pools"` // caravan pools whose runs went there
	Queued      int            `json:"queued_runs"`
	QueuedGPUs  int            `json:"queued_gpus"`
	Running     int            `json:"running_runs"` // starting, running or moving
	Moving      int            `json:"moving_runs"`  // of those, being moved to another node
	RunningGPUs int            `json:"running_gpus"`
	NodesReady  int            `json:"nodes_ready"`
	NodesDrain  int            `json:"nodes_draining"`
	NodesDown   int            `json:"nodes_down"`
	NodesOther  int            `json:"nodes_other"` // initializing, disconnected
	GPUsTotal   int            `json:"gpus_total"`  // on ready, eligible nodes
	GPUsFree    int            `json:"gpus_free"`
	OldestID    string         `json:"oldest_waiting,omitempty"`
	OldestWait  time.Duration  `json:"oldest_wait_ns,omitempty"`
	WaitReasons map[string]int `json:"wait_reasons,omitempty"` // reason → runs
	// Gated are the runs that wait for the runs they depend on (no job
	// yet, so not queued): ID and what they wait for, oldest first.
	Gated        []GatedRun `json:"gated,omitempty"`
	caravanPools map[string]bool
}

// GatedRun is a run waiting for others, as status shows it.
type GatedRun struct {
	ID   string       `json:"id"`
	Wait string       `json:"wait"`
	At   time.Time    `json:"submitted"`
	Stat record.State `json:"state"`
}

// Pools aggregates runs, nodes and blocked evaluations per node pool,
// sorted by node pool. It is pure so that tests can feed it recorded
// answers.
func Pools(view *Runs, nodes []*api.NodeListStub, blocked []*api.Evaluation, now time.Time) []*Pool {
	t := poolTally{}
	usedGPUs, jobPool := placements(view, nodes)
	reasons := blockedReasons(blocked, jobPool)
	for _, r := range view.Rows {
		t.addRun(r, jobPool, reasons, now)
	}
	for _, n := range nodes {
		t.pool(n.NodePool).addNode(n, usedGPUs[n.ID])
	}
	return t.sorted()
}

// poolTally is the pools seen so far, by node pool.
type poolTally map[string]*Pool

func (t poolTally) pool(name string) *Pool {
	p, ok := t[name]
	if !ok {
		p = &Pool{NodePool: name, WaitReasons: map[string]int{}, caravanPools: map[string]bool{}}
		t[name] = p
	}
	return p
}

// placements reads the live allocations: the GPUs each node holds for
// them (node ID → GPUs), and the node pool each placed run's job went to
// (job ID → node pool).
func placements(view *Runs, nodes []*api.NodeListStub) (usedGPUs map[string]int, jobPool map[string]string) {
	nodePool := map[string]string{}
	for _, n := range nodes {
		nodePool[n.ID] = n.NodePool
	}
	rowByJob := map[string]*Run{}
	for i := range view.Rows {
		rowByJob[view.Rows[i].ID] = &view.Rows[i]
	}
	usedGPUs, jobPool = map[string]int{}, map[string]string{}
	for _, a := range view.Allocs {
		if a.ClientStatus != "running" && a.ClientStatus != "pending" {
			continue
		}
		if a.DesiredStatus != "" && a.DesiredStatus != "run" {
			continue
		}
		usedGPUs[a.NodeID] += AllocGPUs(a, rowByJob[a.JobID])
		if np := nodePool[a.NodeID]; np != "" {
			jobPool[a.JobID] = np
		}
	}
	return usedGPUs, jobPool
}

// blockedReasons says why each job with a blocked evaluation waits (job ID
// → sentences), and records in jobPool the node pool it waits for.
func blockedReasons(blocked []*api.Evaluation, jobPool map[string]string) map[string][]string {
	reasons := map[string][]string{}
	for _, e := range blocked {
		for _, m := range e.FailedTGAllocs {
			if m == nil {
				continue
			}
			if m.NodePool != "" {
				jobPool[e.JobID] = m.NodePool
			}
			reasons[e.JobID] = append(reasons[e.JobID], WaitReasons(m)...)
		}
	}
	return reasons
}

// addRun counts a run that waits, is queued or runs in its node pool.
func (t poolTally) addRun(r Run, jobPool map[string]string, reasons map[string][]string, now time.Time) {
	if (r.State == record.StateWaiting || r.State == record.StateBlocked) && r.Wait != nil {
		p := t.pool(r.Pool)
		p.caravanPools[r.Pool] = true
		p.Gated = append(p.Gated, GatedRun{ID: r.ID, Wait: r.Wait.Text(), At: r.Submitted, Stat: r.State})
		return
	}
	if r.State != record.StateQueued && r.State != record.StateStarting && r.State != record.StateRunning && r.State != record.StateMoving {
		return
	}
	// A caravan pool maps to the node pool of its name unless a pool block
	// says otherwise.
	p := t.pool(cmp.Or(jobPool[r.ID], r.Pool))
	if r.Pool != "" {
		p.caravanPools[r.Pool] = true
	}
	if r.State != record.StateQueued {
		p.Running++
		p.RunningGPUs += r.GPUs
		if r.State == record.StateMoving {
			p.Moving++
		}
		return
	}
	p.Queued++
	p.QueuedGPUs += r.GPUs
	if !r.Submitted.IsZero() {
		if wait := now.Sub(r.Submitted); p.OldestID == "" || wait > p.OldestWait {
			p.OldestID, p.OldestWait = r.ID, wait
		}
	}
	rs := reasons[r.ID]
	if len(rs) == 0 {
		rs = []string{"no blocked evaluation yet (being scheduled)"}
	}
	for _, why := range dedupe(rs) {
		p.WaitReasons[why]++
	}
}

// addNode counts node n, whose live allocations hold used GPUs.
func (p *Pool) addNode(n *api.NodeListStub, used int) {
	switch {
	case n.Status == "down":
		p.NodesDown++
	case n.Drain:
		p.NodesDrain++
	case n.Status == "ready":
		p.NodesReady++
	default:
		p.NodesOther++
	}
	if n.Status != "ready" || n.Drain || n.SchedulingEligibility == "ineligible" {
		return
	}
	total := NodeGPUs(n)
	p.GPUsTotal += total
	p.GPUsFree += max(0, total-used)
}

// sorted are the pools by node pool, each with its caravan pools and gated
// runs in order.
func (t poolTally) sorted() []*Pool {
	out := make([]*Pool, 0, len(t))
	for _, p := range t {
		p.Pools = slices.Sorted(maps.Keys(p.caravanPools))
		if len(p.WaitReasons) == 0 {
			p.WaitReasons = nil
		}
		slices.SortFunc(p.Gated, func(a, b GatedRun) int {
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *Pool) int { return strings.Compare(a.NodePool, b.NodePool) })
	return out
}

// WaitReasons turns Nomad's placement metrics into sentences.
func WaitReasons(m *api.AllocationMetric) []string {
	var out []string
	if m == nil {
		return nil
	}
	if m.NodesInPool == 0 && m.NodesEvaluated == 0 {
		pool := m.NodePool
		if pool == "" {
			pool = "the job's node pool"
		}
		out = append(out, "no nodes in pool "+pool)
	}
	out = append(out, slices.Sorted(maps.Keys(m.ConstraintFiltered))...)
	for _, k := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
		if strings.HasPrefix(k, "devices") {
			// Nomad's "devices: no devices match request" reads as "no
			// such GPU"; it means every matching GPU is taken.
			out = append(out, "every matching GPU is busy (`caravan queue` says until when)")
			continue
		}
		out = append(out, "exhausted: "+k)
	}
	for _, q := range m.QuotaExhausted {
		out = append(out, "quota exhausted: "+q)
	}
	if len(out) == 0 && m.NodesEvaluated > 0 {
		out = append(out, fmt.Sprintf("%d nodes evaluated, none fit", m.NodesEvaluated))
	}
	return out
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// AllocGPUs is how many GPUs an allocation holds: its allocated device
// instances when Nomad reports them, else its run's declared GPUs (r may
// be nil).
func AllocGPUs(a *api.AllocationListStub, r *Run) int {
	if a.AllocatedResources != nil {
		n := 0
		for _, t := range a.AllocatedResources.Tasks {
			for _, d := range t.Devices {
				if d.Type == "gpu" {
					n += len(d.DeviceIDs)
				}
			}
		}
		return n
	}
	if r != nil {
		return r.GPUs
	}
	return 0
}

// NodeGPUs counts a node's healthy GPU instances.
func NodeGPUs(n *api.NodeListStub) int {
	if n.NodeResources == nil {
		return 0
	}
	total := 0
	for _, d := range n.NodeResources.Devices {
		if d.Type != "gpu" {
			continue
		}
		for _, inst := range d.Instances {
			if inst.Healthy {
				total++
			}
		}
	}
	return total
}
