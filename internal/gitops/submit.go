package gitops

import (
	"context"
	"fmt"
	"maps"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// submitted copies job with how and by whom it was submitted in its meta,
// leaving the plan's job as is. Neither is part of the run's identity.
func submitted(job *api.Job, origin, by, nomadVersion, snapshot string) *api.Job {
	if job == nil {
		return nil
	}
	cp := *job
	cp.Meta = maps.Clone(job.Meta)
	if cp.Meta == nil {
		cp.Meta = map[string]string{}
	}
	cp.Meta[record.MetaOrigin] = origin
	if by != "" {
		cp.Meta[record.MetaSubmittedBy] = by
	}
	if nomadVersion != "" {
		cp.Meta[record.MetaNomadVersion] = nomadVersion
	}
	if snapshot != "" {
		cp.Meta[record.MetaConfigSnapshot] = snapshot
	}
	return &cp
}

// keepSnapshot writes the plan's configuration snapshot into every
// namespace it creates runs in, and returns its hash for the jobs' meta;
// "" and why when it could not.
func keepSnapshot(ctx context.Context, cl Cluster, plan *RunPlan) (string, error) {
	hash := plan.Snapshot.Hash()
	done := map[string]bool{}
	for _, e := range plan.Experiments {
		for _, c := range e.Create {
			ns := c.Namespace
			if c.Job != nil && c.Job.Namespace != nil && *c.Job.Namespace != "" {
				ns = *c.Job.Namespace
			}
			if ns == "" {
				ns = cl.Namespace()
			}
			if done[ns] {
				continue
			}
			done[ns] = true
			if err := cl.CreateSnapshot(ctx, record.SnapshotRef{Namespace: ns, Project: plan.Project, Hash: hash}, plan.Snapshot); err != nil {
				return "", fmt.Errorf("keep the configuration snapshot in namespace %s: %w", ns, err)
			}
		}
	}
	return hash, nil
}
