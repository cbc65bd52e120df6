package autoscale

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/spec"
)

// ClusterReader is what Observe reads from Nomad. *nomad.Client satisfies
// it; tests use a hand-written fake.
type ClusterReader interface {
	Nodes(ctx context.Context) ([]*api.NodeListStub, error)
	NodeAllocations(ctx context.Context, nodeID string) ([]*api.Allocation, error)
	Jobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	BlockedEvaluations(ctx context.Context, namespace string) ([]*api.Evaluation, error)
}

// PoolInput is what the loop knows about a pool beside Nomad: its
// configuration, the names Terraform holds, names asked for but not yet in
// state, when names first registered, and Decide's history.
type PoolInput struct {
	Pool *spec.Pool
	// InState are the node names in the pool's Terraform state.
	InState []string
	// Requested are names caravan asked Terraform for (possibly not yet
	// applied, e.g. after a crash mid-apply), with the time it did.
	Requested map[string]time.Time
	// Seen is when each node name was first seen registered.
	Seen    map[string]time.Time
	History decide.History
}

// PoolView is what Observe saw of a pool beyond the State: figures for
// `caravan pools` and metrics.
type PoolView struct {
	// Foreign are nodes of the node pool that are not in Terraform state
	// (someone else's machines, or a zombie caravan lost track of).
	Foreign []string
	// Misplaced are the pool's own machines (in its Terraform state, or
	// asked for) that registered with another node pool.
	Misplaced []MisplacedNode
	// Blocked are Nomad's reasons for blocked placements, with counts.
	Blocked map[string]int
	// RunGPUs is the GPUs each run holds on the pool's nodes now.
	RunGPUs map[string]int
}

// Observer builds autoscale States from Nomad. It remembers job specs by
// modify index and when each queued request was first seen, so it is kept
// for the life of the process.
type Observer struct {
	Nomad ClusterReader
	// Namespace to read jobs and evaluations from; "" means all ("*").
	Namespace string
	// EvalMaxAge is how long the list of blocked evaluations is reused.
	// Job summaries carry every queued allocation at once; the blocked
	// evaluations add Nomad's reasons and the rare allocation a summary
	// does not show yet, and their list is the costliest read (Nomad
	// keeps evaluations until GC), so event-triggered decisions may reuse
	// a recent one. Zero reads it every time.
	EvalMaxAge time.Duration

	jobs         map[string]cachedJob
	pendingSince map[string]time.Time
	evals        []*api.Evaluation
	evalsAt      time.Time
}

type cachedJob struct {
	modify uint64
	job    *api.Job
}

// observation is one Observe in progress: the pools asked about, what was
// seen of them so far, and how Nomad's node pools map to them.
type observation struct {
	now   time.Time
	in    map[string]PoolInput
	st    decide.State
	views map[string]PoolView
	// byNodePool lists the caravan pools of each Nomad node pool; owner
	// is the caravan pool of each name in a pool's Terraform state.
	byNodePool map[string][]string
	owner      map[string]string
	// registered are the owned names that have a Nomad node.
	registered map[string]bool
}

func newObservation(now time.Time, in map[string]PoolInput) *observation {
	ob := &observation{
		now: now, in: in,
		st:         decide.State{Now: now, Pools: map[string]decide.PoolState{}},
		views:      map[string]PoolView{},
		byNodePool: map[string][]string{},
		owner:      map[string]string{},
		registered: map[string]bool{},
	}
	for name, pi := range in {
		ob.byNodePool[nodePoolOf(name, pi.Pool)] = append(ob.byNodePool[nodePoolOf(name, pi.Pool)], name)
		for _, n := range pi.InState {
			ob.owner[n] = name
		}
		// A name asked for but not in state yet (an apply cut short)
		// that registers is ours all the same.
		for n := range pi.Requested {
			ob.owner[n] = name
		}
		ob.st.Pools[name] = decide.PoolState{Pool: pi.Pool, History: pi.History}
		ob.views[name] = PoolView{Blocked: map[string]int{}, RunGPUs: map[string]int{}}
	}
	return ob
}

// Observe reads the cluster once and returns the State for the pools of in.
// Any failed read fails the whole observation: deciding on half a picture
// could remove a node whose allocations were not read.
func (o *Observer) Observe(ctx context.Context, now time.Time, in map[string]PoolInput) (decide.State, map[string]PoolView, error) {
	if o.jobs == nil {
		o.jobs = map[string]cachedJob{}
		o.pendingSince = map[string]time.Time{}
	}
	ns := o.Namespace
	if ns == "" {
		ns = "*"
	}
	ob := newObservation(now, in)
	if err := o.observeNodes(ctx, ob); err != nil {
		return decide.State{}, nil, err
	}
	ob.addBooting()
	if err := o.observeDemand(ctx, ns, ob); err != nil {
		return decide.State{}, nil, err
	}
	return ob.st, ob.views, nil
}

// observeNodes reads Nomad's nodes: those in a pool's Terraform state, with
// their allocations, become the pool's Nodes; the others of a pool's node
// pool are listed as foreign.
func (o *Observer) observeNodes(ctx context.Context, ob *observation) error {
	nodes, err := o.Nomad.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("observe nodes: %w", err)
	}
	for _, n := range nodes {
		pool, ours := ob.owner[n.Name]
		if !ours {
			if n.Status == string(decide.NodeDown) {
				// Old machines (ours, already destroyed) stay listed as
				// down until Nomad's node GC; they are nobody's now.
				continue
			}
			for _, p := range ob.byNodePool[nodePoolName(n.NodePool)] {
				v := ob.views[p]
				v.Foreign = append(v.Foreign, n.Name)
				ob.views[p] = v
			}
			continue
		}
		pi := ob.in[pool]
		allocs, err := o.Nomad.NodeAllocations(ctx, n.ID)
		if err != nil {
			return fmt.Errorf("observe allocations of node %s: %w", n.Name, err)
		}
		node := buildNode(n, allocs, gpuDevice(pi.Pool), ob.now)
		node.CreatedAt = ob.now
		if t, ok := pi.Seen[n.Name]; ok {
			node.CreatedAt = t
		}
		v := ob.views[pool]
		if np := nodePoolName(n.NodePool); np != nodePoolOf(pool, pi.Pool) {
			// Ours, but registered with another node pool (a module
			// that ignores node_pool): registered all the same, so
			// that it is never taken for a machine that failed to
			// boot; Decide leaves it alone.
			node.Misplaced = true
			v.Misplaced = append(v.Misplaced, MisplacedNode{Name: n.Name, NodePool: np, Allocs: node.Allocs})
		} else {
			for run, g := range runGPUs(allocs, gpuDevice(pi.Pool)) {
				v.RunGPUs[run] += g
			}
		}
		ob.views[pool] = v
		ps := ob.st.Pools[pool]
		ps.Nodes = append(ps.Nodes, node)
		ob.st.Pools[pool] = ps
		ob.registered[n.Name] = true
	}
	return nil
}

// addBooting lists, in each pool, the names in state or requested that
// have not registered, and sorts the pool's nodes by name.
func (ob *observation) addBooting() {
	for name, pi := range ob.in {
		ps := ob.st.Pools[name]
		for _, m := range bootingNames(pi, ob.registered) {
			at, ok := pi.Requested[m]
			if !ok {
				// In state but never asked for by this record (an
				// older record, or adopted state): the boot clock
				// starts now.
				at = ob.now
			}
			ps.Booting = append(ps.Booting, decide.Machine{Name: m, RequestedAt: at})
		}
		sort.Slice(ps.Nodes, func(i, j int) bool { return ps.Nodes[i].Name < ps.Nodes[j].Name })
		ob.st.Pools[name] = ps
	}
}

// bootingNames are the names in state or requested that have no node yet.
func bootingNames(pi PoolInput, registered map[string]bool) []string {
	set := map[string]bool{}
	for _, n := range pi.InState {
		set[n] = true
	}
	for n := range pi.Requested {
		set[n] = true
	}
	var out []string
	for n := range set {
		if !registered[n] {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}
