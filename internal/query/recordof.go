package query

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// RecordOf is the record of the run that job is, derived from the job as
// Nomad keeps it: everything a record holds at submit time is in the job
// (its meta, its task, its submit time), so that apply registers jobs only
// and the controller writes the record that outlives the job.
func RecordOf(job *api.Job) (*record.Run, error) {
	if job == nil || job.ID == nil {
		return nil, errors.New("record of a job: the job has no ID")
	}
	m := job.Meta
	r := &record.Run{
		RunID:       *job.ID,
		Project:     m[record.MetaProject],
		Experiment:  m[record.MetaExperiment],
		Pool:        m[record.MetaPool],
		NodePool:    deref(job.NodePool),
		Namespace:   deref(job.Namespace),
		SpecHash:    m[record.MetaSpecHash],
		SubmittedBy: m[record.MetaSubmittedBy],
		RerunOf:     m[record.MetaRerunOf],
		Config: record.ConfigProvenance{
			Dir:      m[record.MetaConfigDir],
			File:     m[record.MetaFile],
			Commit:   m[record.MetaConfigCommit],
			Dirty:    m[record.MetaConfigDirty] == "true",
			Snapshot: m[record.MetaConfigSnapshot],
		},
		ClonedFrom: m[record.MetaClonedFrom],
		Changed:    record.ChangesOf(m),
	}
	if id := m[record.MetaRunID]; id != "" {
		r.RunID = id
	}
	if r.Experiment == "" {
		r.Experiment = record.ExperimentOf(r.RunID)
	}
	if r.Namespace == "" {
		r.Namespace = "default"
	}
	r.GPUs, _ = strconv.Atoi(m[record.MetaGPUs])
	r.Config.Line, _ = strconv.Atoi(m[record.MetaLine])
	r.GPUsPerNode, _ = strconv.Atoi(m[record.MetaGPUsPerNode])
	r.PricePerHour, _ = strconv.ParseFloat(m[record.MetaPricePerHour], 64)
	if job.SubmitTime != nil && *job.SubmitTime > 0 {
		r.SubmittedAt = time.Unix(0, *job.SubmitTime).UTC()
	}
	if err := json.Unmarshal([]byte(m[record.MetaParams]), &r.Params); err != nil || r.Params == nil {
		r.Params = map[string]any{}
	}
	if g := m[record.MetaSourceGit]; g != "" {
		r.Source = &record.Source{Git: g, Commit: m[record.MetaSourceCommit], Path: m[record.MetaSourcePath]}
	}
	r.Image, r.ImageDigest, r.ImagePinning = m[record.MetaImage], m[record.MetaImageDigest], m[record.MetaImagePinning]
	r.CaravanVersion, r.NomadVersion = m[record.MetaCaravanVersion], m[record.MetaNomadVersion]
	r.WaitFor = record.WaitForOf(m)
	if o := m[record.MetaOrigin]; o != "" {
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
