package gitops

import (
	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// Actual is the plan's view of runs that internal/query listed: the same
// listing ls and status print, so that plan and ls agree by construction.
func Actual(runs []query.Run) []plan.ActualRun {
	out := make([]plan.ActualRun, 0, len(runs))
	for _, r := range runs {
		out = append(out, plan.ActualRun{
			ID: r.ID, Project: r.Project, Experiment: r.Experiment, Namespace: r.Namespace,
			Status: r.JobStatus, Stopped: r.Stopped, HasJob: r.HasJob, HasRecord: r.HasRecord,
			AdHoc: (r.HasJob || r.HasGate) && isAdHoc(r.Meta), HasGate: r.HasGate, Wait: waitText(r),
		})
	}
	return out
}

func isAdHoc(meta map[string]string) bool {
	if meta[record.MetaRerunOf] != "" {
		return true
	}
	o := meta[record.MetaOrigin]
	return o == record.OriginRun || o == record.OriginRerun
}

func waitText(r query.Run) string {
	switch {
	case r.Wait != nil:
		return r.Wait.Text()
	case r.HasGate && !r.HasJob && !r.HasRecord:
		return "waiting for the runs it depends on"
	}
	return ""
}
