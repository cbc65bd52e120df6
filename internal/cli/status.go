package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

func init() {
	register(command{
		name:     "status",
		synopsis: "Show the queues per pool: waiting and running runs, GPUs, nodes, and why runs wait",
		run:      runStatus,
	})
}

// poolStatus is one Nomad node pool as status prints it.
type poolStatus struct {
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
	Gated        []gatedRun `json:"gated,omitempty"`
	caravanPools map[string]bool
}

// gatedRun is a run waiting for others, as status shows it.
type gatedRun struct {
	ID   string       `json:"id"`
	Wait string       `json:"wait"`
	At   time.Time    `json:"submitted"`
	Stat record.State `json:"state"`
}

// maxGatedShown bounds the waiting runs status names per pool.
const maxGatedShown = 5

func runStatus(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "status", "")
	asJSON := fs.Bool("json", false, "print the pools as JSON")
	pf := addProjectFlags(fs)
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		errorf(env, "status takes no arguments, got %q", pos)
		return ExitUsage
	}
	cl, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	if err := nf.checkNamespace(ctx, cl); err != nil {
		return nomadError(env, err)
	}
	ns := nomad.AllNamespaces
	if nf.namespace != "" {
		ns = ""
	}
	scope, err := pf.scope(env, ns)
	if err != nil {
		errorf(env, "%v", err)
		return ExitUsage
	}
	view, err := query.List(ctx, cl, scope, query.Live)
	if err != nil {
		return nomadError(env, err)
	}
	nodes, err := cl.Nodes(ctx)
	if err != nil {
		return nomadError(env, err)
	}
	blocked, err := cl.BlockedEvaluations(ctx, ns)
	if err != nil {
		return nomadError(env, err)
	}
	pools := poolStatuses(view, nodes, blocked, time.Now())
	if *asJSON {
		return writeJSON(env, pools, "write status")
	}
	writeStatus(env.Stdout, pools)
	return ExitOK
}

// poolStatuses aggregates runs, nodes and blocked evaluations per node
// pool. It is pure so that tests can feed it recorded answers.
func poolStatuses(view *query.Runs, nodes []*api.NodeListStub, blocked []*api.Evaluation, now time.Time) []*poolStatus {
	byPool := map[string]*poolStatus{}
	pool := func(name string) *poolStatus {
		p, ok := byPool[name]
		if !ok {
			p = &poolStatus{NodePool: name, WaitReasons: map[string]int{}, caravanPools: map[string]bool{}}
			byPool[name] = p
		}
		return p
	}
	nodePool := map[string]string{}
	usedGPUs := map[string]int{} // node ID → GPUs held by live allocations
	rowByJob := map[string]*query.Run{}
	for i := range view.Rows {
		rowByJob[view.Rows[i].ID] = &view.Rows[i]
	}
	for _, n := range nodes {
		nodePool[n.ID] = n.NodePool
	}
	jobPool := map[string]string{} // job ID → node pool, where known
	for _, a := range view.Allocs {
		if a.ClientStatus != "running" && a.ClientStatus != "pending" {
			continue
		}
		if a.DesiredStatus != "" && a.DesiredStatus != "run" {
			continue
		}
		usedGPUs[a.NodeID] += allocGPUs(a, rowByJob[a.JobID])
		if np := nodePool[a.NodeID]; np != "" {
			jobPool[a.JobID] = np
		}
	}
	reasons := map[string][]string{} // job ID → why it waits
	for _, e := range blocked {
		for _, m := range e.FailedTGAllocs {
			if m == nil {
				continue
			}
			if m.NodePool != "" {
				jobPool[e.JobID] = m.NodePool
			}
			reasons[e.JobID] = append(reasons[e.JobID], waitReasons(m)...)
		}
	}
	for _, r := range view.Rows {
		if (r.State == record.StateWaiting || r.State == record.StateBlocked) && r.Wait != nil {
			p := pool(r.Pool)
			p.caravanPools[r.Pool] = true
			p.Gated = append(p.Gated, gatedRun{ID: r.ID, Wait: r.Wait.Text(), At: r.Submitted, Stat: r.State})
			continue
		}
		if r.State != record.StateQueued && r.State != record.StateStarting && r.State != record.StateRunning && r.State != record.StateMoving {
			continue
		}
		np := jobPool[r.ID]
		if np == "" {
			np = r.Pool // a caravan pool maps to the node pool of its name unless a pool block says otherwise
		}
		p := pool(np)
		if r.Pool != "" {
			p.caravanPools[r.Pool] = true
		}
		if r.State == record.StateQueued {
			p.addQueued(r, reasons[r.ID], now)
			continue
		}
		p.Running++
		p.RunningGPUs += r.GPUs
		if r.State == record.StateMoving {
			p.Moving++
		}
	}
	for _, n := range nodes {
		p := pool(n.NodePool)
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
			continue
		}
		total := nodeGPUs(n)
		p.GPUsTotal += total
		p.GPUsFree += max(0, total-usedGPUs[n.ID])
	}
	out := make([]*poolStatus, 0, len(byPool))
	for _, p := range byPool {
		p.Pools = slices.Sorted(maps.Keys(p.caravanPools))
		if len(p.WaitReasons) == 0 {
			p.WaitReasons = nil
		}
		slices.SortFunc(p.Gated, func(a, b gatedRun) int {
			if c := a.At.Compare(b.At); c != 0 {
				return c
			}
			return strings.Compare(a.ID, b.ID)
		})
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].NodePool < out[j].NodePool })
	return out
}

// addQueued counts a queued run of the pool: its GPUs, how long the oldest
// has waited, and why each waits (reasons, from its blocked evaluations).
func (p *poolStatus) addQueued(r query.Run, reasons []string, now time.Time) {
	p.Queued++
	p.QueuedGPUs += r.GPUs
	if !r.Submitted.IsZero() {
		if wait := now.Sub(r.Submitted); p.OldestID == "" || wait > p.OldestWait {
			p.OldestID, p.OldestWait = r.ID, wait
		}
	}
	if len(reasons) == 0 {
		reasons = []string{"no blocked evaluation yet (being scheduled)"}
	}
	for _, why := range dedupe(reasons) {
		p.WaitReasons[why]++
	}
}

// waitReasons turns Nomad's placement metrics into sentences.
func waitReasons(m *api.AllocationMetric) []string {
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

// allocGPUs is how many GPUs an allocation holds: its allocated device
// instances when Nomad reports them, else its run's declared GPUs.
func allocGPUs(a *api.AllocationListStub, r *query.Run) int {
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

// nodeGPUs counts a node's healthy GPU instances.
func nodeGPUs(n *api.NodeListStub) int {
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

func writeStatus(w io.Writer, pools []*poolStatus) {
	if len(pools) == 0 {
		fmt.Fprintln(w, "No node pools with nodes or runs.")
		return
	}
	for i, p := range pools {
		if i > 0 {
			fmt.Fprintln(w)
		}
		head := "pool " + p.NodePool
		if len(p.Pools) > 0 && !(len(p.Pools) == 1 && p.Pools[0] == p.NodePool) {
			head += " (caravan pools: " + strings.Join(p.Pools, ", ") + ")"
		}
		fmt.Fprintln(w, head)
		fmt.Fprintf(w, "  queued:   %s waiting for %s\n", plural(p.Queued, "run"), plural(p.QueuedGPUs, "GPU"))
		if p.OldestID != "" {
			fmt.Fprintf(w, "  oldest:   %s, waiting %s\n", p.OldestID, shortDuration(p.OldestWait))
		}
		if len(p.WaitReasons) > 0 {
			keys := slices.Sorted(maps.Keys(p.WaitReasons))
			sort.SliceStable(keys, func(i, j int) bool { return p.WaitReasons[keys[i]] > p.WaitReasons[keys[j]] })
			parts := make([]string, len(keys))
			for i, k := range keys {
				parts[i] = fmt.Sprintf("%s (%s)", k, plural(p.WaitReasons[k], "run"))
			}
			fmt.Fprintf(w, "  why:      %s\n", strings.Join(parts, "; "))
		}
		fmt.Fprintf(w, "  running:  %s holding %s\n", plural(p.Running, "run"), plural(p.RunningGPUs, "GPU"))
		if p.Moving > 0 {
			fmt.Fprintf(w, "  moving:   %s checkpointing to start on another node\n", plural(p.Moving, "run"))
		}
		if len(p.Gated) > 0 {
			fmt.Fprintf(w, "  waiting:  %s for the runs they depend on (no job, no GPU held)\n", plural(len(p.Gated), "run"))
			for i, g := range p.Gated {
				if i == maxGatedShown {
					fmt.Fprintf(w, "            ... and %d more (caravan ls -state waiting)\n", len(p.Gated)-i)
					break
				}
				fmt.Fprintf(w, "            %s %s\n", g.ID, g.Wait)
			}
		}
		nodes := fmt.Sprintf("%d ready, %d draining, %d down", p.NodesReady, p.NodesDrain, p.NodesDown)
		if p.NodesOther > 0 {
			nodes += fmt.Sprintf(", %d other", p.NodesOther)
		}
		fmt.Fprintf(w, "  nodes:    %s; %d of %d GPUs free\n", nodes, p.GPUsFree, p.GPUsTotal)
	}
}
