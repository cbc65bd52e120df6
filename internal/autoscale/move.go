package autoscale

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// RunMover moves runs off a node and keeps their history of moves.
// *nomad.Client satisfies it.
type RunMover interface {
	MoveJob(ctx context.Context, namespace, jobID string, t nomad.MoveTarget) (*api.Job, error)
	AddMove(ctx context.Context, ref record.Ref, m record.Move) error
}

// moveWork carries out a Move action: each checkpointing run on the node
// is recorded as moving, then its job is re-registered to avoid the node,
// which Nomad turns into the run's signal, its grace and a start
// elsewhere. Only allocations with a grace are ever touched, whatever the
// action says, and only while the leadership is confirmed: a move cannot
// be undone.
func (l *Loop) moveWork(ctx context.Context, p *poolRun, a decide.Action, t *term) error {
	if l.cfg.Mover == nil || len(a.Nodes) != 1 {
		return nil
	}
	node := a.Nodes[0]
	var errs []error
	for _, w := range a.Work {
		if w.Grace <= 0 {
			continue
		}
		if !l.holds(t) {
			return errors.Join(append(errs, fmt.Errorf("pool %q: move %s off %s: %w", p.name, w.JobID, node, errNotLeading))...)
		}
		if err := l.moveOne(ctx, p, a, node, w); err != nil {
			errs = append(errs, err)
			continue
		}
		l.log.Info("moved run to empty its node", "pool", p.name, "node", node, "run", w.RunID, "alloc", w.ID,
			"grace", w.Grace, "expected_saving_gpu_hours", a.SavingGPUHours, "reason", a.Reason)
	}
	return errors.Join(errs...)
}

func (l *Loop) moveOne(ctx context.Context, p *poolRun, a decide.Action, node string, w decide.Alloc) error {
	// Bounded like a node operation: nothing is on its way to Nomad for
	// longer than it takes a standby to take over.
	opCtx, cancel := context.WithTimeout(ctx, l.cfg.LeaderPoll)
	defer cancel()
	m := record.Move{At: l.cfg.Now().UTC(), By: record.MovedByAutoscaler, Reason: a.Reason, Running: true,
		FromNode: node, FromAlloc: w.ID, FromPool: p.name, ToPool: p.name, GPUs: w.Resources.GPUs,
		ExpectedSavingGPUHours: a.SavingGPUHours / float64(max(1, len(a.Work)))}
	if w.RunID != "" {
		ref := record.Ref{Namespace: w.Namespace, Project: w.Project, RunID: w.RunID}
		if err := l.cfg.Mover.AddMove(opCtx, ref, m); err != nil {
			return fmt.Errorf("pool %q: record the move of run %s: %w", p.name, w.RunID, err)
		}
	}
	_, err := l.cfg.Mover.MoveJob(opCtx, w.Namespace, w.JobID, nomad.MoveTarget{AvoidNode: node, FromAlloc: w.ID, RequireCheckpoint: true})
	if err != nil {
		return fmt.Errorf("pool %q: move run %s off %s: %w", p.name, w.JobID, node, err)
	}
	return nil
}

// moves carries out the decision's Move actions on the nodes whose cordon
// succeeded: work moved off a node that still takes new work would be
// replaced by more.
func (l *Loop) moves(ctx context.Context, p *poolRun, actions []decide.Action, failed map[string]decide.ActionKind, t *term) error {
	var errs []error
	for _, a := range actions {
		if a.Kind != decide.Move || len(a.Nodes) != 1 {
			continue
		}
		if _, bad := failed[a.Nodes[0]]; bad {
			continue
		}
		errs = append(errs, l.moveWork(ctx, p, a, t))
	}
	return errors.Join(errs...)
}

// workOf is what Decide's moves need of an active allocation. A run
// whose job declares no checkpoint grace gets none, so Decide never
// moves it.
func workOf(a *api.Allocation, gpu string) decide.Alloc {
	w := decide.Alloc{ID: a.ID, JobID: a.JobID, Namespace: a.Namespace, Resources: allocResources(a, gpu),
		Stopping: a.DesiredStatus != api.AllocDesiredStatusRun}
	if a.Job != nil {
		w.RunID, w.Project = a.Job.Meta[record.MetaRunID], a.Job.Meta[record.MetaProject]
		if g, err := time.ParseDuration(a.Job.Meta[record.MetaCheckpointGrace]); err == nil && g > 0 {
			w.Grace = g
		}
	}
	for _, ts := range a.TaskStates {
		if ts != nil && !ts.StartedAt.IsZero() && (w.StartedAt.IsZero() || ts.StartedAt.Before(w.StartedAt)) {
			w.StartedAt = ts.StartedAt
		}
	}
	return w
}
