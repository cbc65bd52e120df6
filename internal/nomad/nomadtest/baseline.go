package nomadtest

import (
	"fmt"

	"github.com/hashicorp/nomad/api"
)

// RegisterAll is the baseline that caravan apply is measured against: a
// plain loop of api.Jobs().Register, one job after another, nothing else.
func RegisterAll(c *api.Client, jobs []*api.Job) error {
	for _, j := range jobs {
		if _, _, err := c.Jobs().Register(j, nil); err != nil {
			return fmt.Errorf("register %s: %w", *j.ID, err)
		}
	}
	return nil
}

// BatchJobs builds n small caravan-like batch jobs (one task group, one
// raw_exec task asking for gpus nvidia/gpu devices in node pool pool) for
// benchmarks and load tests.
func BatchJobs(n int, pool string, gpus int) []*api.Job {
	out := make([]*api.Job, n)
	for i := range out {
		id := fmt.Sprintf("bench-%06d", i)
		j := api.NewBatchJob(id, id, "global", 50)
		j.NodePool = &pool
		j.Meta = map[string]string{"caravan_managed_by": "caravan", "caravan_run_id": id}
		tg := api.NewTaskGroup("run", 1)
		t := api.NewTask("train", "raw_exec")
		t.Config = map[string]any{"command": "/bin/true"}
		cpu, mem := 100, 64
		t.Resources = &api.Resources{CPU: &cpu, MemoryMB: &mem}
		if gpus > 0 {
			c := uint64(gpus)
			t.Resources.Devices = []*api.RequestedDevice{{Name: "nvidia/gpu", Count: &c}}
		}
		tg.AddTask(t)
		j.AddTaskGroup(tg)
		out[i] = j
	}
	return out
}
