package plan

import (
	"fmt"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// desired makes n runs of experiment exp with compile-shaped jobs.
func desired(exp string, n int) []DesiredRun {
	out := make([]DesiredRun, n)
	for i := range out {
		id := fmt.Sprintf("%s-%08x", exp, i)
		meta := map[string]string{
			record.MetaManagedBy: record.ManagedByValue, record.MetaRunID: id, record.MetaExperiment: exp,
			record.MetaSpecHash: fmt.Sprintf("%064x", i), record.MetaPool: "gpu", record.MetaGPUs: "1",
			record.MetaParams: fmt.Sprintf(`{"lr":0.%d,"opt":"adam"}`, i+1),
		}
		job := &api.Job{ID: new(id), Name: new(id), Type: new("batch"), Meta: meta,
			TaskGroups: []*api.TaskGroup{{Name: new("run"), Tasks: []*api.Task{{Name: "train", Driver: "docker", Config: map[string]any{"image": "train:1"}}}}}}
		out[i] = DesiredRun{ID: id, Experiment: exp, SpecHash: meta[record.MetaSpecHash], Summary: SummaryOf(job), Job: job}
	}
	return out
}
