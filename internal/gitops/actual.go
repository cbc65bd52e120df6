package gitops

import (
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
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

// Actual merges Nomad's caravan jobs (listed with meta) and the run IDs
// that have records into ActualRuns, one per run ID. Jobs whose meta does
// not mark them as caravan's are skipped: caravan never touches them.
func Actual(jobs []*api.JobListStub, recordIDs []string) []ActualRun {
	out := make([]ActualRun, 0, len(jobs)+len(recordIDs))
	index := make(map[string]int, len(jobs)+len(recordIDs))
	for _, j := range jobs {
		if j == nil || !nomad.IsCaravanJob(j.Meta) {
			continue
		}
		id := j.ID
		exp := j.Meta[record.MetaExperiment]
		if exp == "" {
			exp = ExperimentOf(id)
		}
		a := ActualRun{
			ID: id, Experiment: exp, Namespace: j.Namespace, Status: j.Status, Stopped: j.Stop, HasJob: true,
			AdHoc: isAdHoc(j.Meta),
		}
		if i, ok := index[id]; ok {
			out[i] = mergeActual(out[i], a)
			continue
		}
		index[id] = len(out)
		out = append(out, a)
	}
	for _, id := range recordIDs {
		if i, ok := index[id]; ok {
			out[i].HasRecord = true
			continue
		}
		index[id] = len(out)
		out = append(out, ActualRun{ID: id, Experiment: ExperimentOf(id), HasRecord: true})
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
