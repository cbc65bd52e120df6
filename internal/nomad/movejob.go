package nomad

import (
	"context"
	"errors"
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
	// FromAlloc is the allocation the run leaves, when it runs: the move
	// is refused unless Nomad still wants it running, so that a run that
	// ended meanwhile is never started again.
	FromAlloc string
	// RequireCheckpoint refuses to move a run that declares no
	// checkpoint block.
	RequireCheckpoint bool
}

// ErrNotMovable is returned by MoveJob for a run that must not move now.
var ErrNotMovable = errors.New("run not movable")

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
	if err := c.checkMovable(ctx, namespace, job, t); err != nil {
		return nil, err
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

// checkMovable refuses a move that would restart a run that ended, or
// move one that cannot resume.
func (c *Client) checkMovable(ctx context.Context, namespace string, job *api.Job, t MoveTarget) error {
	id := deref(job.ID)
	if (job.Stop != nil && *job.Stop) || deref(job.Status) == "dead" {
		return fmt.Errorf("move run %q: %w: it has ended", id, ErrNotMovable)
	}
	if t.RequireCheckpoint && job.Meta[record.MetaCheckpointGrace] == "" {
		return fmt.Errorf("move run %q: %w: it declares no checkpoint block", id, ErrNotMovable)
	}
	if t.FromAlloc == "" {
		return nil
	}
	a, err := c.Allocation(ctx, namespace, t.FromAlloc)
	if err != nil {
		return fmt.Errorf("move run %q: read allocation %s: %w", id, t.FromAlloc, err)
	}
	if a.DesiredStatus != api.AllocDesiredStatusRun || (a.ClientStatus != api.AllocClientStatusRunning && a.ClientStatus != api.AllocClientStatusPending) {
		return fmt.Errorf("move run %q: %w: allocation %s is %s (desired %s)", id, ErrNotMovable, t.FromAlloc, a.ClientStatus, a.DesiredStatus)
	}
	return nil
}
