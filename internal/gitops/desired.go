package gitops

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/caravan-ml/caravan/internal/compile"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/nomad/api"
)

// Desired pairs each run with its compiled job (jobs[i] is runs[i]'s, as
// the CLI's compile step returns them, IDs already disambiguated) and builds
// the record apply will write for it. It is pure: the caller fills opts
// (config commit and dirty flag) from the directory's git.
func Desired(runs []spec.Run, jobs []*api.Job, opts compile.Options) ([]DesiredRun, error) {
	if len(runs) != len(jobs) {
		return nil, fmt.Errorf("gitops: %d runs but %d compiled jobs", len(runs), len(jobs))
	}
	out := make([]DesiredRun, 0, len(runs))
	for i, run := range runs {
		d, err := desiredRun(run, jobs[i], opts)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

func desiredRun(run spec.Run, job *api.Job, opts compile.Options) (DesiredRun, error) {
	resolved, err := compile.ResolvedSpec(run, opts)
	if err != nil {
		return DesiredRun{}, err
	}
	e := run.Experiment
	id := deref(job.ID)
	meta := job.Meta
	rec := &record.Run{
		RunID:      id,
		Project:    e.Project,
		Experiment: e.Name,
		Pool:       e.Pool,
		NodePool:   deref(job.NodePool),
		Namespace:  e.Namespace,
		GPUs:       e.Resources.GPUs,
		Params:     paramValues(meta),
		SpecHash:   meta[record.MetaSpecHash],
		Spec:       json.RawMessage(resolved),
		Config: record.ConfigProvenance{
			Dir:    opts.ConfigDir,
			File:   meta[record.MetaFile],
			Line:   atoi(meta[record.MetaLine]),
			Commit: opts.ConfigCommit,
			Dirty:  opts.ConfigDirty,
		},
	}
	if p := opts.Pools[e.Pool]; p != nil {
		rec.PricePerHour = p.PricePerHour
		rec.GPUsPerNode = p.GPUsPerNode
	}
	return DesiredRun{
		ID:         id,
		Experiment: e.Name,
		Namespace:  e.Namespace,
		SpecHash:   rec.SpecHash,
		Summary:    SummaryOf(job),
		Job:        job,
		Record:     rec,
	}, nil
}

// SummaryOf reads a run's summary back from its compiled job's meta and
// task, so that a job listed from Nomad and a job just compiled summarise
// the same way.
func SummaryOf(job *api.Job) Summary {
	s := Summary{Pool: job.Meta[record.MetaPool], GPUs: atoi(job.Meta[record.MetaGPUs])}
	if len(job.TaskGroups) > 0 && len(job.TaskGroups[0].Tasks) > 0 {
		t := job.TaskGroups[0].Tasks[0]
		s.Driver = t.Driver
		if img, ok := t.Config["image"].(string); ok {
			s.Image = img
		}
	}
	s.Params = record.ParamsOf(job.Meta)
	return s
}

// paramValues decodes the caravan_params meta, which keeps each param's
// JSON type, into the record's params.
func paramValues(meta map[string]string) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal([]byte(meta[record.MetaParams]), &m)
	return m
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
