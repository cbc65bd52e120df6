package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// queue is the demand Observe found: allocations waiting, by job.
type queue struct {
	// waiting[job][group] is how many allocations of the task group
	// wait; a job is "<namespace>/<id>".
	waiting map[string]map[string]int
	refs    map[string]jobRef
	// listed are the jobs the job list showed. Their summary is the
	// authority on how many allocations wait: Nomad updates it with the
	// evaluation that blocks.
	listed map[string]bool
}

// jobRef is where to read a job's spec, and the modify index it had.
type jobRef struct {
	ns, id string
	modify uint64
}

func (q *queue) set(key, group string, n int) {
	if q.waiting[key] == nil {
		q.waiting[key] = map[string]int{}
	}
	q.waiting[key][group] = n
}

// observeDemand turns queued allocations (job summaries) and blocked
// evaluations into Requests of the pools whose node pool the job targets.
func (o *Observer) observeDemand(ctx context.Context, ns string, ob *observation) error {
	jobs, err := o.Nomad.Jobs(ctx, ns)
	if err != nil {
		return fmt.Errorf("observe jobs: %w", err)
	}
	evals, err := o.blockedEvaluations(ctx, ns, ob.now)
	if err != nil {
		return err
	}
	q := queueOf(jobs)
	ob.addBlocked(q, evals)
	seen := map[string]bool{}
	for _, key := range slices.Sorted(maps.Keys(q.waiting)) {
		if err := o.addRequests(ctx, ob, key, q.refs[key], q.waiting[key], seen); err != nil {
			return err
		}
	}
	for id := range o.pendingSince {
		if !seen[id] {
			delete(o.pendingSince, id)
		}
	}
	return nil
}

// blockedEvaluations lists the blocked evaluations, reusing the last list
// for EvalMaxAge.
func (o *Observer) blockedEvaluations(ctx context.Context, ns string, now time.Time) ([]*api.Evaluation, error) {
	if o.evalsAt.IsZero() || !now.Before(o.evalsAt.Add(o.EvalMaxAge)) || now.Before(o.evalsAt) {
		evals, err := o.Nomad.BlockedEvaluations(ctx, ns)
		if err != nil {
			return nil, fmt.Errorf("observe blocked evaluations: %w", err)
		}
		o.evals, o.evalsAt = evals, now
	}
	return o.evals, nil
}

// queueOf reads the allocations waiting from the summaries of the jobs
// that still run.
func queueOf(jobs []*api.JobListStub) *queue {
	q := &queue{waiting: map[string]map[string]int{}, refs: map[string]jobRef{}, listed: map[string]bool{}}
	for _, j := range jobs {
		key := j.Namespace + "/" + j.ID
		q.listed[key] = true
		if j.Stop || j.Status == "dead" || j.JobSummary == nil {
			continue
		}
		for g, s := range j.JobSummary.Summary {
			if s.Queued > 0 {
				q.set(key, g, s.Queued)
			}
		}
		// The list does not say which node pool a job targets; the
		// spec does, read by addRequests for jobs that wait.
		q.refs[key] = jobRef{ns: j.Namespace, id: j.ID, modify: j.JobModifyIndex}
	}
	return q
}

// addBlocked counts Nomad's reasons for the blocked placements in the
// observed node pools, and adds to q the allocations of blocked jobs the
// job list did not show.
func (ob *observation) addBlocked(q *queue, evals []*api.Evaluation) {
	for _, e := range evals {
		key := e.Namespace + "/" + e.JobID
		for g, m := range e.FailedTGAllocs {
			pools, ok := ob.byNodePool[nodePoolName(m.NodePool)]
			if !ok {
				continue
			}
			if q.listed[key] && q.waiting[key][g] == 0 {
				// Placed, stopped or purged since: a stale evaluation
				// (the list may be a few seconds old) is no demand.
				continue
			}
			for _, p := range pools {
				for _, why := range blockedReasons(m) {
					ob.views[p].Blocked[why]++
				}
			}
			if q.listed[key] {
				continue
			}
			// A job the list does not show yet (registered after it was
			// read, or in a namespace it left out): the evaluation stands
			// for CoalescedFailures+1 allocations.
			q.set(key, g, max(q.waiting[key][g], m.CoalescedFailures+1))
			if _, ok := q.refs[key]; !ok {
				q.refs[key] = jobRef{ns: e.Namespace, id: e.JobID, modify: e.JobModifyIndex}
			}
		}
	}
}

// addRequests reads the spec of a job (key) with allocations waiting in
// groups, and adds one Request per allocation to each pool of the node
// pool the job targets; seen collects the requests' IDs.
func (o *Observer) addRequests(ctx context.Context, ob *observation, key string, ref jobRef, groups map[string]int, seen map[string]bool) error {
	job, err := o.job(ctx, ref.ns, ref.id, ref.modify)
	if err != nil {
		return fmt.Errorf("observe queued job %s: %w", key, err)
	}
	if job == nil {
		return nil // purged between the two reads
	}
	jobPool := "default"
	if job.NodePool != nil && *job.NodePool != "" {
		jobPool = *job.NodePool
	}
	run := job.Meta[record.MetaRunID]
	names := slices.Sorted(maps.Keys(groups))
	for _, p := range ob.byNodePool[jobPool] {
		pool := ob.st.Pools[p]
		dev := gpuDevice(pool.Pool)
		for _, g := range names {
			tg := findGroup(job, g)
			if tg == nil {
				continue
			}
			res := groupResources(tg, dev)
			for i := 0; i < groups[g]; i++ {
				id := fmt.Sprintf("%s/%s/%d", key, g, i)
				since, ok := o.pendingSince[id]
				if !ok {
					since = ob.now
					o.pendingSince[id] = ob.now
				}
				seen[id] = true
				pool.Pending = append(pool.Pending, decide.Request{ID: id, RunID: run, JobID: ref.id, Resources: res, Since: since})
			}
		}
		ob.st.Pools[p] = pool
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
