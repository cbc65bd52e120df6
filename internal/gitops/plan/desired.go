package plan

import (
	"strconv"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Desired is the declared runs, one per compiled job (as the CLI's compile
// step returns them, IDs already disambiguated). It is pure.
func Desired(jobs []*api.Job) []DesiredRun {
	out := make([]DesiredRun, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, desiredRun(j))
	}
	return out
}

func desiredRun(job *api.Job) DesiredRun {
	return DesiredRun{
		ID:         deref(job.ID),
		Experiment: job.Meta[record.MetaExperiment],
		Namespace:  deref(job.Namespace),
		SpecHash:   job.Meta[record.MetaSpecHash],
		Summary:    SummaryOf(job),
		Job:        job,
	}
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
	if img := job.Meta[record.MetaImage]; img != "" {
		s.Image, s.Digest = img, job.Meta[record.MetaImageDigest]
	}
	s.Params = record.ParamsOf(job.Meta)
	return s
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
