package gitops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// A run that depends on others is not registered by apply: apply writes
// its gate (record.Gate), and caravan's controller registers the job once
// every run it waits for completed. Until then the run holds no allocation
// and no GPU and asks the autoscaler for nothing, and, unlike a Nomad job
// held back from placement, Nomad's garbage collector cannot collect it.

// gate writes the gate of job, a run that waits for others: the job goes in
// it exactly as it would have been registered, with its namespace made
// explicit (the controller registers it with a client of its own).
func gate(ctx context.Context, cl Cluster, it item, job *api.Job, project string) outcome {
	ns := deref(job.Namespace)
	if ns == "" {
		ns = cl.Namespace()
		job.Namespace = &ns
	}
	g, err := GateOf(job, project, ns, time.Now().UTC())
	if err != nil {
		return outcome{it: it, err: err}
	}
	err = cl.CreateGate(ctx, g)
	switch {
	case errors.Is(err, nomad.ErrConflict):
		return outcome{it: it, action: "present"}
	case err != nil:
		return outcome{it: it, err: fmt.Errorf("run %s: write its gate: %w", it.c.ID, err)}
	}
	return outcome{it: it, action: "waiting"}
}

// GateOf is the gate of job, a run of project in namespace ns that waits
// for the runs its meta names (record.MetaWaitFor).
func GateOf(job *api.Job, project, ns string, now time.Time) (*record.Gate, error) {
	b, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("run %s: encode its job: %w", deref(job.ID), err)
	}
	return &record.Gate{RunID: deref(job.ID), Project: project, Experiment: job.Meta[record.MetaExperiment],
		Namespace: ns, WaitFor: record.WaitForOf(job.Meta), Job: b, CreatedAt: now}, nil
}

// stopGated removes the gate of a run that is no longer declared and has
// not started: it never holds anything, so removing its gate is stopping
// it. The gate is read first, to check whose run it is, and removed only
// if unchanged since (a controller releasing it at that moment wins).
func stopGated(ctx context.Context, cl Cluster, it item, project string) outcome {
	ref := record.GateRef{Namespace: it.r.Namespace, Project: project, RunID: it.r.ID}
	g, idx, err := cl.Gate(ctx, ref)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
		return outcome{it: it, action: "stopped"} // released or removed since
	case err != nil:
		return outcome{it: it, err: fmt.Errorf("stop run %s: %w", it.r.ID, err)}
	case g.Project != project:
		return outcome{it: it, err: fmt.Errorf("stop run %s: its gate belongs to project %q, not %q", it.r.ID, g.Project, project)}
	}
	if err := cl.DeleteGate(ctx, ref, int64(idx)); err != nil {
		return outcome{it: it, err: fmt.Errorf("stop run %s: remove its gate: %w", it.r.ID, err)}
	}
	return outcome{it: it, action: "stopped"}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
