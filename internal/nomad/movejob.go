package nomad

import (
	"context"
	"fmt"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// NodeNameTarget is the constraint target a move places a run with.
const NodeNameTarget = "${node.unique.name}"

// MoveTarget says where a run goes.
type MoveTarget struct {
	// AvoidNode keeps the run off the node it leaves.
	AvoidNode string
	// Node sends it to this node (by name); it overrides AvoidNode.
	Node string
	// NodePool and Pool send it to another node pool and caravan pool.
	NodePool, Pool string
}

// MoveJob re-registers the caravan job jobID with the placement of t: the
// constraint of an earlier move is replaced, and the node pool changed if
// t names one. A changed placement is a destructive update in Nomad: a
// queued run is placed by the new one at once; a running one is sent its
// kill_signal, given its kill_timeout, and its replacement starts only
// once it has stopped (Nomad's replacement waits for the allocation it
// replaces), so a run never writes its checkpoint from two places. The
// register is conditional on the job being unchanged since it was read.
// It returns the job as registered.
func (c *Client) MoveJob(ctx context.Context, namespace, jobID string, t MoveTarget) (*api.Job, error) {
	job, err := c.Job(ctx, namespace, jobID)
	if err != nil {
		return nil, err
	}
	if job.Meta[record.MetaManagedBy] != record.ManagedByValue {
		return nil, fmt.Errorf("move job %q: it is not a caravan run (no %s meta); caravan moves only its own runs", jobID, record.MetaManagedBy)
	}
	moved := MovedJob(job, t)
	var index uint64
	if job.JobModifyIndex != nil {
		index = *job.JobModifyIndex
	}
	if _, err := c.RegisterJob(ctx, moved, true, index); err != nil {
		return nil, fmt.Errorf("move run %q: %w", jobID, err)
	}
	return moved, nil
}

// MovedJob is job with the placement of t (see MoveJob); job is not
// changed.
func MovedJob(job *api.Job, t MoveTarget) *api.Job {
	cp := *job
	cp.Meta = cloneMap(job.Meta)
	if t.NodePool != "" {
		cp.NodePool = &t.NodePool
	}
	if t.Pool != "" {
		cp.Meta[record.MetaPool] = t.Pool
	}
	cp.TaskGroups = make([]*api.TaskGroup, len(job.TaskGroups))
	for i, tg := range job.TaskGroups {
		g := *tg
		g.Constraints = nil
		for _, c := range tg.Constraints {
			if c.LTarget != NodeNameTarget {
				g.Constraints = append(g.Constraints, c)
			}
		}
		switch {
		case t.Node != "":
			g.Constraints = append(g.Constraints, &api.Constraint{LTarget: NodeNameTarget, Operand: "=", RTarget: t.Node})
		case t.AvoidNode != "":
			g.Constraints = append(g.Constraints, &api.Constraint{LTarget: NodeNameTarget, Operand: "!=", RTarget: t.AvoidNode})
		}
		cp.TaskGroups[i] = &g
	}
	return &cp
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+1)
	for k, v := range m {
		out[k] = v
	}
	return out
}
