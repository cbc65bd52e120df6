package gitops

import (
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// MetaOrigin is the job meta key saying how a run was submitted: "apply"
// (from a configuration directory), "run" (caravan run FILE) or "rerun".
// Runs not submitted by apply are ad hoc: no directory's plan lists them as
// no longer declared. It is set by gitops at submit time, after
// compilation, so it is not part of the run's identity.
const MetaOrigin = "caravan_origin"

// Origins of a run (values of MetaOrigin).
const (
	OriginApply = "apply"
	OriginRun   = "run"
	OriginRerun = "rerun"
)

// Actual is the plan's view of runs that internal/query listed: the same
// listing ls and status print, so that plan and ls agree by construction.
func Actual(runs []query.Run) []ActualRun {
	out := make([]ActualRun, 0, len(runs))
	for _, r := range runs {
		out = append(out, ActualRun{
			ID: r.ID, Project: r.Project, Experiment: r.Experiment, Namespace: r.Namespace,
			Status: r.JobStatus, Stopped: r.Stopped, HasJob: r.HasJob, HasRecord: r.HasRecord,
			AdHoc: r.HasJob && isAdHoc(r.Meta),
		})
	}
	return out
}

func isAdHoc(meta map[string]string) bool {
	if meta[record.MetaRerunOf] != "" {
		return true
	}
	o := meta[MetaOrigin]
	return o == OriginRun || o == OriginRerun
}
