package autoscale

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
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
	st := decide.State{Now: now, Pools: map[string]decide.PoolState{}}
	views := map[string]PoolView{}
	byNodePool := map[string][]string{} // node pool -> caravan pools
	owner := map[string]string{}        // node name in state -> caravan pool
	for name, pi := range in {
		byNodePool[nodePoolOf(name, pi.Pool)] = append(byNodePool[nodePoolOf(name, pi.Pool)], name)
		for _, n := range pi.InState {
			owner[n] = name
		}
		// A name asked for but not in state yet (an apply cut short)
		// that registers is ours all the same.
		for n := range pi.Requested {
			owner[n] = name
		}
		st.Pools[name] = decide.PoolState{Pool: pi.Pool, History: pi.History}
		views[name] = PoolView{Blocked: map[string]int{}, RunGPUs: map[string]int{}}
	}

	nodes, err := o.Nomad.Nodes(ctx)
	if err != nil {
		return decide.State{}, nil, fmt.Errorf("observe nodes: %w", err)
	}
	registered := map[string]bool{}
	for _, n := range nodes {
		pool, ours := owner[n.Name]
		if !ours {
			if n.Status == string(decide.NodeDown) {
				// Old machines (ours, already destroyed) stay listed as
				// down until Nomad's node GC; they are nobody's now.
				continue
			}
			for _, p := range byNodePool[nodePoolName(n.NodePool)] {
				v := views[p]
				v.Foreign = append(v.Foreign, n.Name)
				views[p] = v
			}
			continue
		}
		if nodePoolName(n.NodePool) != nodePoolOf(pool, in[pool].Pool) {
			continue
		}
		allocs, err := o.Nomad.NodeAllocations(ctx, n.ID)
		if err != nil {
			return decide.State{}, nil, fmt.Errorf("observe allocations of node %s: %w", n.Name, err)
		}
		pi := in[pool]
		node := buildNode(n, allocs, gpuDevice(pi.Pool), now)
		node.CreatedAt = now
		if t, ok := pi.Seen[n.Name]; ok {
			node.CreatedAt = t
		}
		v := views[pool]
		for run, g := range runGPUs(allocs, gpuDevice(pi.Pool)) {
			v.RunGPUs[run] += g
		}
		views[pool] = v
		ps := st.Pools[pool]
		ps.Nodes = append(ps.Nodes, node)
		st.Pools[pool] = ps
		registered[n.Name] = true
	}
	for name, pi := range in {
		ps := st.Pools[name]
		for _, m := range bootingNames(pi, registered) {
			at, ok := pi.Requested[m]
			if !ok {
				// In state but never asked for by this record (an
				// older record, or adopted state): the boot clock
				// starts now.
				at = now
			}
			ps.Booting = append(ps.Booting, decide.Machine{Name: m, RequestedAt: at})
		}
		sort.Slice(ps.Nodes, func(i, j int) bool { return ps.Nodes[i].Name < ps.Nodes[j].Name })
		st.Pools[name] = ps
	}

	if err := o.observeDemand(ctx, ns, now, byNodePool, st, views); err != nil {
		return decide.State{}, nil, err
	}
	return st, views, nil
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

// observeDemand turns queued allocations (job summaries) and blocked
// evaluations into Requests of the pools whose node pool the job targets.
func (o *Observer) observeDemand(ctx context.Context, ns string, now time.Time, byNodePool map[string][]string, st decide.State, views map[string]PoolView) error {
	jobs, err := o.Nomad.Jobs(ctx, ns)
	if err != nil {
		return fmt.Errorf("observe jobs: %w", err)
	}
	if o.evalsAt.IsZero() || !now.Before(o.evalsAt.Add(o.EvalMaxAge)) || now.Before(o.evalsAt) {
		evals, err := o.Nomad.BlockedEvaluations(ctx, ns)
		if err != nil {
			return fmt.Errorf("observe blocked evaluations: %w", err)
		}
		o.evals, o.evalsAt = evals, now
	}
	evals := o.evals
	// queued[job][group] = allocations waiting.
	type jobRef struct {
		ns, id string
		modify uint64
		pool   string
	}
	queued := map[string]map[string]int{}
	refs := map[string]jobRef{}
	// listed jobs have a summary, which is the authority on how many
	// allocations wait: Nomad updates it with the evaluation that blocks.
	listed := map[string]bool{}
	for _, j := range jobs {
		key := j.Namespace + "/" + j.ID
		listed[key] = true
		if j.Stop || j.Status == "dead" || j.JobSummary == nil {
			continue
		}
		for g, s := range j.JobSummary.Summary {
			if s.Queued > 0 {
				if queued[key] == nil {
					queued[key] = map[string]int{}
				}
				queued[key][g] = s.Queued
			}
		}
		// The list does not say which node pool a job targets; the
		// spec does, read below for jobs that wait.
		refs[key] = jobRef{ns: j.Namespace, id: j.ID, modify: j.JobModifyIndex}
	}
	for _, e := range evals {
		key := e.Namespace + "/" + e.JobID
		for g, m := range e.FailedTGAllocs {
			pool := nodePoolName(m.NodePool)
			pools, ok := byNodePool[pool]
			if !ok {
				continue
			}
			if listed[key] && queued[key][g] == 0 {
				// Placed, stopped or purged since: a stale evaluation
				// (the list may be a few seconds old) is no demand.
				continue
			}
			for _, p := range pools {
				for _, why := range blockedReasons(m) {
					views[p].Blocked[why]++
				}
			}
			if listed[key] {
				continue
			}
			// A job the list does not show yet (registered after it was
			// read, or in a namespace it left out): the evaluation stands
			// for CoalescedFailures+1 allocations.
			if queued[key] == nil {
				queued[key] = map[string]int{}
			}
			queued[key][g] = max(queued[key][g], m.CoalescedFailures+1)
			if _, ok := refs[key]; !ok {
				refs[key] = jobRef{ns: e.Namespace, id: e.JobID, modify: e.JobModifyIndex, pool: pool}
			}
		}
	}
	seen := map[string]bool{}
	keys := make([]string, 0, len(queued))
	for k := range queued {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		ref := refs[key]
		job, err := o.job(ctx, ref.ns, ref.id, ref.modify)
		if err != nil {
			return fmt.Errorf("observe queued job %s: %w", key, err)
		}
		if job == nil {
			continue // purged between the two reads
		}
		ref.pool = "default"
		if job.NodePool != nil && *job.NodePool != "" {
			ref.pool = *job.NodePool
		}
		if _, ok := byNodePool[ref.pool]; !ok {
			continue
		}
		run := job.Meta[record.MetaRunID]
		groups := make([]string, 0, len(queued[key]))
		for g := range queued[key] {
			groups = append(groups, g)
		}
		sort.Strings(groups)
		for _, p := range byNodePool[ref.pool] {
			pool := st.Pools[p]
			dev := gpuDevice(pool.Pool)
			for _, g := range groups {
				tg := findGroup(job, g)
				if tg == nil {
					continue
				}
				res := groupResources(tg, dev)
				for i := 0; i < queued[key][g]; i++ {
					id := fmt.Sprintf("%s/%s/%d", key, g, i)
					since, ok := o.pendingSince[id]
					if !ok {
						since = now
						o.pendingSince[id] = now
					}
					seen[id] = true
					pool.Pending = append(pool.Pending, decide.Request{ID: id, RunID: run, JobID: ref.id, Resources: res, Since: since})
				}
			}
			st.Pools[p] = pool
		}
	}
	for id := range o.pendingSince {
		if !seen[id] {
			delete(o.pendingSince, id)
		}
	}
	return nil
}

// job reads a job spec, from the cache when its modify index is unchanged:
// a thousand queued runs of one sweep are one read each, once.
func (o *Observer) job(ctx context.Context, ns, id string, modify uint64) (*api.Job, error) {
	key := ns + "/" + id
	if c, ok := o.jobs[key]; ok && c.modify == modify && modify != 0 {
		return c.job, nil
	}
	j, err := o.Nomad.Job(ctx, ns, id)
	if err != nil {
		if errors.Is(err, nomad.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	m := modify
	if j.JobModifyIndex != nil {
		m = *j.JobModifyIndex
	}
	o.jobs[key] = cachedJob{modify: m, job: j}
	return j, nil
}
