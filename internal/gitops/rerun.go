package gitops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"strconv"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// RerunID is the run ID of the n-th rerun (n >= 1) of run origID:
// "<experiment>-<first 8 hex of sha256("caravan-rerun\x00" + origID +
// "\x00" + n)>". It is deterministic, so the first rerun of a run always
// has the same ID and two people rerunning at once get ordinals 1 and 2
// (registration is only-if-absent), and it cannot equal a declared run's
// ID, whose hash covers a spec document instead.
func RerunID(origID string, n int) string {
	sum := sha256.Sum256([]byte("caravan-rerun\x00" + origID + "\x00" + strconv.Itoa(n)))
	return record.ExperimentOf(origID) + "-" + hex.EncodeToString(sum[:])[:8]
}

// Rerun builds the job that reproduces a recorded run under newID: the
// recorded job exactly (image, commit, params, resources), with only its
// identity changed (ID, name, caravan_run_id, CARAVAN_RUN_ID) and
// caravan_rerun_of naming the run it reproduces. It never reads files.
// Like every job caravan submits, it carries what its record will hold.
func Rerun(rec *record.Run, newID string) (*api.Job, error) {
	if rec == nil || len(rec.Job) == 0 {
		return nil, fmt.Errorf("the record of run %s holds no job, so it cannot be reproduced exactly", recID(rec))
	}
	var job api.Job
	if err := json.Unmarshal(rec.Job, &job); err != nil {
		return nil, fmt.Errorf("the record of run %s holds a job caravan cannot decode (%v); it cannot be reproduced exactly", rec.RunID, err)
	}
	if job.ID == nil || len(job.TaskGroups) == 0 {
		return nil, fmt.Errorf("the record of run %s holds an incomplete job (no ID or no task group); it cannot be reproduced exactly", rec.RunID)
	}
	job.ID, job.Name = &newID, &newID
	job.Meta = maps.Clone(job.Meta)
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[record.MetaRunID] = newID
	job.Meta[record.MetaRerunOf] = rec.RunID
	job.Meta[record.MetaOrigin] = record.OriginRerun
	for _, tg := range job.TaskGroups {
		for _, t := range tg.Tasks {
			if _, ok := t.Env[compile.EnvRunID]; ok {
				t.Env = maps.Clone(t.Env)
				t.Env[compile.EnvRunID] = newID
			}
		}
	}
	// What a job read back from Nomad holds about its own state is not
	// part of what to submit. Nor are the defaults Nomad filled in that a
	// batch job may not declare: the api client would copy the job's empty
	// update block into each group, which Nomad refuses for batch jobs.
	job.Status, job.StatusDescription, job.Stop, job.Stable = nil, nil, nil, nil
	job.Version, job.SubmitTime, job.CreateIndex, job.ModifyIndex, job.JobModifyIndex = nil, nil, nil, nil, nil
	if job.Type == nil || *job.Type == api.JobTypeBatch {
		job.Update = nil
		for _, tg := range job.TaskGroups {
			tg.Update, tg.Migrate = nil, nil
		}
	}
	return &job, nil
}

func recID(rec *record.Run) string {
	if rec == nil {
		return "?"
	}
	return rec.RunID
}
