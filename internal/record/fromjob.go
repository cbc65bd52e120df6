package record

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"
)

// FromJob is the record of the run that job is, derived from the job as
// Nomad keeps it: everything a record holds at submit time is in the job
// (its meta, its task, its submit time), so that apply registers jobs only
// and the controller writes the record that outlives the job.
func FromJob(job *api.Job) (*Run, error) {
	if job == nil || job.ID == nil {
		return nil, errors.New("record of a job: the job has no ID")
	}
	m := job.Meta
	r := &Run{
		RunID:       *job.ID,
		Project:     m[MetaProject],
		Experiment:  m[MetaExperiment],
		Pool:        m[MetaPool],
		NodePool:    deref(job.NodePool),
		Namespace:   deref(job.Namespace),
		SpecHash:    m[MetaSpecHash],
		SubmittedBy: m[MetaSubmittedBy],
		RerunOf:     m[MetaRerunOf],
		Config: ConfigProvenance{
			Dir:    m[MetaConfigDir],
			File:   m[MetaFile],
			Commit: m[MetaConfigCommit],
			Dirty:  m[MetaConfigDirty] == "true",
		},
	}
	if id := m[MetaRunID]; id != "" {
		r.RunID = id
	}
	if r.Experiment == "" {
		r.Experiment = ExperimentOf(r.RunID)
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	r.GPUs, _ = strconv.Atoi(m[MetaGPUs])
	r.Config.Line, _ = strconv.Atoi(m[MetaLine])
	r.GPUsPerNode, _ = strconv.Atoi(m[MetaGPUsPerNode])
	r.PricePerHour, _ = strconv.ParseFloat(m[MetaPricePerHour], 64)
	if job.SubmitTime != nil && *job.SubmitTime > 0 {
		r.SubmittedAt = time.Unix(0, *job.SubmitTime).UTC()
	}
	if err := json.Unmarshal([]byte(m[MetaParams]), &r.Params); err != nil || r.Params == nil {
		r.Params = map[string]any{}
	}
	if o := m[MetaOrigin]; o != "" {
		r.Extra = map[string]string{"origin": o}
	}
	b, err := json.Marshal(job)
	if err != nil {
		return nil, err
	}
	r.Job = b
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
