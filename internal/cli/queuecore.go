package cli

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// queueEntry is one waiting run as `caravan queue` shows it.
type queueEntry struct {
	// NodePool is the Nomad node pool the run waits for.
	NodePool string `json:"node_pool"`
	// Position counts from 1 within the node pool in the order Nomad
	// considers queued runs: priority, then registration. Runs that wait
	// for others (depends_on) have no job yet, so no position: 0.
	Position   int          `json:"position"`
	ID         string       `json:"id"`
	Project    string       `json:"project,omitempty"`
	Experiment string       `json:"experiment"`
	State      record.State `json:"state"`
	Priority   int          `json:"priority"`
	Submitted  time.Time    `json:"submitted"`
	WaitingS   float64      `json:"waiting_s"`
	GPUs       int          `json:"gpus"`
	Reason     string       `json:"reason"`
	// Until is when enough GPUs free up for the run if every run holding
	// one ends at its timeout; zero when some has none.
	Until time.Time `json:"until,omitzero"`
}

// poolLimit is what the autoscaler says of a caravan pool: its node pool,
// its max_nodes and whether it is at it.
type poolLimit struct {
	NodePool string
	MaxNodes int
	Nodes    int
	AtMax    bool
}

// queueInput is everything queueOf reads.
type queueInput struct {
	view    *query.Runs
	nodes   []*api.NodeListStub
	blocked []*api.Evaluation
	pools   map[string]poolLimit // by caravan pool; empty without an autoscaler
	now     time.Time
}

// nodePoolState is the capacity of one node pool.
type nodePoolState struct {
	ready, total, free, largest int
	// releases are the GPUs held by running allocations and when each
	// would end at its run's timeout (zero: no timeout).
	releases []release
}

type release struct {
	at   time.Time
	gpus int
}

// queueOf orders the waiting runs as Nomad considers them, per node pool,
// and says in words why each waits. It is pure.
func queueOf(in queueInput) []queueEntry {
	rowByID := map[string]*query.Run{}
	for i := range in.view.Rows {
		rowByID[in.view.Rows[i].ID] = &in.view.Rows[i]
	}
	evals := map[string]*api.AllocationMetric{}
	blockedAt := map[string]uint64{} // job → its blocked evaluation's index
	for _, e := range in.blocked {
		blockedAt[e.JobID] = e.CreateIndex
		for _, m := range e.FailedTGAllocs {
			if m != nil {
				evals[e.JobID] = m
			}
		}
	}
	pools := nodePools(in, rowByID)
	var queued []*query.Run
	var entries []queueEntry
	for i := range in.view.Rows {
		r := &in.view.Rows[i]
		switch {
		case r.State == record.StateQueued:
			queued = append(queued, r)
		case (r.State == record.StateWaiting || r.State == record.StateBlocked) && r.Wait != nil:
			entries = append(entries, queueEntry{NodePool: nodePoolOf(r, evals[r.ID], in.pools), ID: r.ID, Project: r.Project,
				Experiment: r.Experiment, State: r.State, Priority: r.Priority, Submitted: r.Submitted,
				WaitingS: waited(r, in.now), GPUs: r.GPUs, Reason: r.Wait.Text()})
		}
	}
	// Nomad hands freed capacity to blocked evaluations by priority, then
	// by when they were blocked (their index), which follows registration
	// order; a run not evaluated yet joins behind them.
	slices.SortStableFunc(queued, func(a, b *query.Run) int {
		ia, oka := blockedAt[a.ID]
		ib, okb := blockedAt[b.ID]
		byBlock := 0
		switch {
		case oka && okb:
			byBlock = cmp.Compare(ia, ib)
		case oka:
			byBlock = -1
		case okb:
			byBlock = 1
		}
		return cmp.Or(cmp.Compare(b.Priority, a.Priority), byBlock, cmp.Compare(a.CreateIndex, b.CreateIndex),
			a.Submitted.Compare(b.Submitted), strings.Compare(a.ID, b.ID))
	})
	ahead := map[string]int{}    // node pool → GPUs of the runs before
	position := map[string]int{} // node pool → runs before
	var out []queueEntry
	for _, r := range queued {
		np := nodePoolOf(r, evals[r.ID], in.pools)
		position[np]++
		e := queueEntry{NodePool: np, Position: position[np], ID: r.ID, Project: r.Project, Experiment: r.Experiment,
			State: r.State, Priority: r.Priority, Submitted: r.Submitted, WaitingS: waited(r, in.now), GPUs: r.GPUs}
		e.Reason, e.Until = whyQueued(r, evals[r.ID], pools[np], in.pools[r.Pool], ahead[np], np)
		ahead[np] += r.GPUs
		out = append(out, e)
	}
	slices.SortStableFunc(entries, func(a, b queueEntry) int {
		return cmp.Or(strings.Compare(a.NodePool, b.NodePool), a.Submitted.Compare(b.Submitted), strings.Compare(a.ID, b.ID))
	})
	out = append(out, entries...)
	slices.SortStableFunc(out, func(a, b queueEntry) int { return strings.Compare(a.NodePool, b.NodePool) })
	return out
}

// whyQueued says why a queued run waits, given what the runs ahead of it
// in its node pool need, and when it may start.
func whyQueued(r *query.Run, m *api.AllocationMetric, p nodePoolState, lim poolLimit, ahead int, np string) (string, time.Time) {
	atMax := ""
	if lim.AtMax {
		atMax = fmt.Sprintf("; pool %s at max_nodes (%d)", r.Pool, lim.MaxNodes)
	}
	switch {
	case p.ready == 0 && lim.AtMax:
		return fmt.Sprintf("no ready node in pool %s, which is at max_nodes (%d)", np, lim.MaxNodes), time.Time{}
	case p.ready == 0 && lim.NodePool != "":
		return "no ready node in pool " + np + " yet: the autoscaler adds nodes for queued runs", time.Time{}
	case p.ready == 0:
		return "no ready node in pool " + np, time.Time{}
	case r.GPUs > p.largest:
		return fmt.Sprintf("no node has %s (the largest in pool %s has %d)%s", plural(r.GPUs, "GPU"), np, p.largest, atMax), time.Time{}
	}
	if m != nil {
		if c := constraintsOf(m); c != "" {
			return "no node matches " + c, time.Time{}
		}
	}
	short := ahead + r.GPUs - p.free
	if r.GPUs > 0 && short > 0 {
		why := fmt.Sprintf("%d of %d GPUs busy", p.total-p.free, p.total)
		if ahead > 0 {
			why += fmt.Sprintf(", %s ahead of it", plural(ahead, "GPU"))
		}
		until := freedAt(p.releases, short)
		if !until.IsZero() {
			why += " (until ≈ " + until.UTC().Format("15:04") + " UTC if runs end at their timeout)"
		}
		return why + atMax, until
	}
	if m != nil {
		if d := dimensionsOf(m); d != "" {
			return d + atMax, time.Time{}
		}
	}
	return "being placed: there is room for it", time.Time{}
}

// freedAt is when n GPUs have been released, the earliest releases
// first; zero when that takes a release of unknown time.
func freedAt(rs []release, n int) time.Time {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b release) int {
		switch {
		case a.at.IsZero() != b.at.IsZero() && a.at.IsZero():
			return 1
		case a.at.IsZero() != b.at.IsZero():
			return -1
		}
		return a.at.Compare(b.at)
	})
	got := 0
	for _, r := range rs {
		if r.at.IsZero() {
			return time.Time{}
		}
		if got += r.gpus; got >= n {
			return r.at
		}
	}
	return time.Time{}
}

// constraintsOf names the constraints that filtered nodes out, other than
// the GPU device checks (which the GPU counts explain).
func constraintsOf(m *api.AllocationMetric) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m.ConstraintFiltered)) {
		if strings.Contains(k, "device") || strings.Contains(k, "missing") {
			continue
		}
		out = append(out, k)
	}
	return strings.Join(out, ", ")
}

// dimensionsOf says which resources no node had enough of, in words.
func dimensionsOf(m *api.AllocationMetric) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
		switch {
		case strings.Contains(k, "device"):
			out = append(out, "no free GPU that matches")
		case strings.Contains(k, "memory"):
			out = append(out, "no node has enough memory free")
		case strings.Contains(k, "cpu"):
			out = append(out, "no node has enough CPU free")
		default:
			out = append(out, "no node has enough "+k)
		}
	}
	for _, q := range m.QuotaExhausted {
		out = append(out, "quota exhausted: "+q)
	}
	return strings.Join(out, "; ")
}

// nodePools sums each node pool's GPUs and the GPUs its running
// allocations hold, with when each would end at its timeout.
func nodePools(in queueInput, rowByID map[string]*query.Run) map[string]nodePoolState {
	out := map[string]nodePoolState{}
	poolOf := map[string]string{}
	for _, n := range in.nodes {
		poolOf[n.ID] = n.NodePool
		if n.Status != "ready" || n.Drain || n.SchedulingEligibility == "ineligible" {
			continue
		}
		p := out[n.NodePool]
		g := nodeGPUs(n)
		p.ready++
		p.total += g
		p.free += g
		p.largest = max(p.largest, g)
		out[n.NodePool] = p
	}
	for _, a := range in.view.Allocs {
		if (a.ClientStatus != "running" && a.ClientStatus != "pending") || (a.DesiredStatus != "" && a.DesiredStatus != "run") {
			continue
		}
		np, ok := poolOf[a.NodeID]
		if !ok {
			continue
		}
		p := out[np]
		r := rowByID[a.JobID]
		g := allocGPUs(a, r)
		p.free = max(0, p.free-g)
		if g > 0 {
			p.releases = append(p.releases, release{at: endAtTimeout(a, r), gpus: g})
		}
		out[np] = p
	}
	return out
}

// endAtTimeout is when an allocation ends if it runs to its run's timeout;
// zero when the run has none or has not started.
func endAtTimeout(a *api.AllocationListStub, r *query.Run) time.Time {
	if r == nil {
		return time.Time{}
	}
	d, err := time.ParseDuration(r.Meta[record.MetaTimeout])
	if err != nil || d <= 0 {
		return time.Time{}
	}
	var start time.Time
	for _, ts := range a.TaskStates {
		if ts != nil && !ts.StartedAt.IsZero() && (start.IsZero() || ts.StartedAt.Before(start)) {
			start = ts.StartedAt
		}
	}
	if start.IsZero() {
		return time.Time{}
	}
	return start.Add(d)
}

// nodePoolOf is the node pool a run waits for: its blocked evaluation
// says, else the autoscaler's pool record, else the pool's own name (a
// caravan pool maps to the node pool of its name unless declared
// otherwise).
func nodePoolOf(r *query.Run, m *api.AllocationMetric, pools map[string]poolLimit) string {
	switch {
	case m != nil && m.NodePool != "":
		return m.NodePool
	case r.NodePool != "":
		return r.NodePool
	case pools[r.Pool].NodePool != "":
		return pools[r.Pool].NodePool
	}
	return r.Pool
}

func waited(r *query.Run, now time.Time) float64 {
	if r.Submitted.IsZero() || now.Before(r.Submitted) {
		return 0
	}
	return now.Sub(r.Submitted).Seconds()
}
