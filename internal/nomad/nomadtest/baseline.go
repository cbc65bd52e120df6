package nomadtest

import (
	"encoding/json"
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

// Seed registers jobs directly, without HTTP, exactly as PUT /v1/jobs
// would (same evaluation and placement): for setting up large clusters in
// benchmarks (e.g. plan against 10,000 existing runs).
func (s *Server) Seed(jobs ...*api.Job) error {
	for _, j := range jobs {
		raw, err := json.Marshal(j)
		if err != nil {
			return err
		}
		nj, err := parseJob(raw, "default")
		if err != nil {
			return err
		}
		s.mu.Lock()
		_, status, msg := s.register(nj, false, 0)
		s.mu.Unlock()
		if status != 0 {
			return fmt.Errorf("seed job %s: %d %s", nj.ID, status, msg)
		}
	}
	return nil
}
