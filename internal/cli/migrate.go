package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

func init() {
	register(command{
		name:     "migrate",
		synopsis: "Move a queued run to another pool, or a checkpointing run to another machine",
		run:      runMigrate,
	})
}

// migrateFlags are migrate's flags.
type migrateFlags struct {
	pool, node, reason string
	wait               time.Duration
}

// runMigrate moves one run. A queued run is re-registered in another pool
// at once; a running one must declare a checkpoint block: it is signalled,
// given its grace, and started again on another machine, where it resumes
// from its checkpoint. Every move is appended to the run's moves.
func runMigrate(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "migrate", "RUN [-pool POOL] [-node NODE]")
	var f migrateFlags
	fs.StringVar(&f.pool, "pool", "", "move the run to this caravan `POOL` (its node pool comes from the pool catalogue)")
	fs.StringVar(&f.node, "node", "", "move the run to this Nomad node `NAME`")
	fs.StringVar(&f.reason, "reason", "", "why the run is moved; kept in its history")
	fs.DurationVar(&f.wait, "wait", 0, "wait up to this long for the run to run again where it was sent (0: return once Nomad has the move)")
	cat := addCatalogFlags(fs)
	nf := addNomadFlags(fs)
	cl, ri, code, ok := parseRunArg(ctx, env, fs, nf, args)
	if !ok {
		return code
	}
	if ri.Job == nil || (ri.Job.Stop != nil && *ri.Job.Stop) || cmp.Or(deref(ri.Job.Status), "") == "dead" {
		errorf(env, "run %s is not queued or running, so there is nothing to move (`caravan show %s` says how it ended)", ri.ID, ri.ID)
		return ExitError
	}
	cur, err := currentAlloc(ctx, cl, ri)
	if err != nil {
		return nomadError(env, err)
	}
	t, code, ok := f.target(ctx, env, cl, cat, ri, cur)
	if !ok {
		return code
	}
	m := record.Move{By: record.MovedByMigrate, Reason: f.reason, Running: started(cur), FromPool: ri.Job.Meta[record.MetaPool],
		ToPool: cmp.Or(f.pool, ri.Job.Meta[record.MetaPool]), ToNode: f.node}
	m.GPUs, _ = strconv.Atoi(ri.Job.Meta[record.MetaGPUs])
	if cur != nil {
		m.FromNode, m.FromAlloc = cur.NodeName, cur.ID
	}
	if who, err := cl.Self(ctx); err == nil && who.String() != "" {
		m.By += " (" + who.String() + ")"
	}
	m.At = time.Now().UTC()
	// The move is recorded before Nomad is asked: a move that happened
	// but is not in the history would make report's GPU-hours wrong.
	ref := record.Ref{Namespace: ri.Namespace, Project: ri.Project, RunID: ri.ID}
	if err := cl.AddMove(ctx, ref, m); err != nil {
		return nomadError(env, fmt.Errorf("record the move of run %s: %w", ri.ID, err))
	}
	if _, err := cl.MoveJob(ctx, ri.Namespace, ri.ID, t); err != nil {
		return nomadError(env, err)
	}
	describeMove(env, ri, m)
	if f.wait > 0 {
		return waitMoved(ctx, env, cl, ri, m, f.wait)
	}
	return ExitOK
}

// target checks that the run may go where the flags send it and says
// where that is.
func (f migrateFlags) target(ctx context.Context, env Env, cl *nomad.Client, cat *catalogFlags, ri *query.Found, cur *api.AllocationListStub) (nomad.MoveTarget, int, bool) {
	var t nomad.MoveTarget
	if started(cur) {
		if ri.Job.Meta[record.MetaCheckpointGrace] == "" {
			errorf(env, "run %s is running and declares no checkpoint block, so it cannot resume elsewhere: caravan never moves it\n  Add a checkpoint block to the experiment for its next runs, or stop it (`caravan stop %s`) and rerun it where you want it.", ri.ID, ri.ID)
			return t, ExitError, false
		}
		t.AvoidNode, t.FromAlloc, t.RequireCheckpoint = cur.NodeName, cur.ID, true
	} else if f.pool == "" && f.node == "" {
		errorf(env, "run %s is queued: say where it goes with -pool POOL or -node NODE", ri.ID)
		return t, ExitUsage, false
	}
	t.Node = f.node
	if f.node != "" && cur != nil && f.node == cur.NodeName {
		errorf(env, "run %s already runs on node %s; name another node, or leave -node out to let Nomad choose one", ri.ID, f.node)
		return t, ExitUsage, false
	}
	if f.pool == "" {
		return t, ExitOK, true
	}
	c, diags := cat.load(ctx, env, cl, true)
	if diags.HasErrors() {
		writeDiags(env, nil, diags, false)
		return t, ExitError, false
	}
	t.Pool, t.NodePool = f.pool, f.pool
	if c != nil {
		p, ok := c.Pools[f.pool]
		if !ok {
			errorf(env, "pool %q is not in the pool catalogue; `caravan pools` lists the pools", f.pool)
			return t, ExitUsage, false
		}
		t.NodePool = cmp.Or(p.NodePool, f.pool)
		if p.Spot && ri.Job.Meta[record.MetaCheckpointGrace] == "" && ri.Job.Meta[record.MetaSpot] != record.SpotOK {
			errorf(env, "pool %q is a spot pool, and run %s neither checkpoints nor says spot = \"ok\": a preemption would lose its work", f.pool, ri.ID)
			return t, ExitUsage, false
		}
	}
	return t, ExitOK, true
}

// currentAlloc is the run's allocation that Nomad still wants running,
// nil when it has none (queued).
func currentAlloc(ctx context.Context, cl *nomad.Client, ri *query.Found) (*api.AllocationListStub, error) {
	stubs, err := cl.JobAllocations(ctx, ri.Namespace, ri.ID)
	if err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return nil, err
	}
	for _, a := range stubs {
		if a.DesiredStatus == api.AllocDesiredStatusRun && (a.ClientStatus == api.AllocClientStatusPending || a.ClientStatus == api.AllocClientStatusRunning) {
			return a, nil
		}
	}
	return nil, nil
}

// started reports whether the run's task has started in a: from then on,
// only a checkpoint lets it move without losing its work.
func started(a *api.AllocationListStub) bool {
	if a == nil {
		return false
	}
	if a.ClientStatus == api.AllocClientStatusRunning {
		return true
	}
	ts := a.TaskStates[compile.TaskName]
	return ts != nil && !ts.StartedAt.IsZero()
}

func describeMove(env Env, ri *query.Found, m record.Move) {
	where := "another node"
	switch {
	case m.ToNode != "":
		where = "node " + m.ToNode
	case m.ToPool != m.FromPool:
		where = "pool " + m.ToPool
	}
	if !m.Running {
		fmt.Fprintf(env.Stdout, "Moved queued run %s to %s.\n", ri.ID, where)
		return
	}
	grace := ri.Job.Meta[record.MetaCheckpointGrace]
	fmt.Fprintf(env.Stdout, "Moving run %s off node %s: it is signalled to checkpoint and has %s to stop; it then resumes on %s.\n", ri.ID, m.FromNode, grace, where)
}

// waitMoved polls until the run runs again in an allocation other than
// the one it left, or limit passes.
func waitMoved(ctx context.Context, env Env, cl *nomad.Client, ri *query.Found, m record.Move, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		cur, err := currentAlloc(ctx, cl, ri)
		if err != nil {
			return nomadError(env, err)
		}
		if cur != nil && cur.ID != m.FromAlloc && cur.ClientStatus == api.AllocClientStatusRunning {
			fmt.Fprintf(env.Stdout, "Run %s runs on node %s (allocation %s).\n", ri.ID, cur.NodeName, cur.ID[:8])
			return ExitOK
		}
		if time.Now().After(deadline) {
			errorf(env, "run %s does not run again within %s; `caravan show %s` says where it waits", ri.ID, limit, ri.ID)
			return ExitError
		}
		select {
		case <-ctx.Done():
			errorf(env, "interrupted while waiting for run %s to run again; the move goes on", ri.ID)
			return ExitError
		case <-time.After(time.Second):
		}
	}
}
