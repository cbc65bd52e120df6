package triage

import (
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// MoveSummary is one move of the run as a report lists it.
type MoveSummary struct {
	At       time.Time `json:"at"`
	By       string    `json:"by"`
	Reason   string    `json:"reason,omitempty"`
	Running  bool      `json:"running"`
	FromNode string    `json:"from_node,omitempty"`
	ToNode   string    `json:"to_node,omitempty"`
	FromPool string    `json:"from_pool,omitempty"`
	ToPool   string    `json:"to_pool,omitempty"`
	// GPUHours is the GPU time the move held without running the run
	// (record.MoveCost); nil while the move is under way or when Nomad no
	// longer has the allocations.
	GPUHours *float64 `json:"gpu_hours,omitempty"`
	// ExpectedSavingGPUHours is what the autoscaler expected to save.
	ExpectedSavingGPUHours float64 `json:"expected_saving_gpu_hours,omitempty"`
}

// summariseMoves prices each move from the run's allocations and says
// where it went.
func summariseMoves(moves []record.Move, allocs []*api.Allocation) ([]MoveSummary, float64) {
	times := make([]record.AllocTimes, 0, len(allocs))
	for _, a := range allocs {
		at := record.AllocTimes{ID: a.ID, Previous: a.PreviousAllocation, Created: time.Unix(0, a.CreateTime)}
		if ts := a.TaskStates[MainTask(a)]; ts != nil {
			at.Started, at.Finished = ts.StartedAt, ts.FinishedAt
		}
		times = append(times, at)
	}
	var out []MoveSummary
	total := 0.0
	for _, m := range moves {
		s := MoveSummary{At: m.At, By: m.By, Reason: m.Reason, Running: m.Running, FromNode: m.FromNode, ToNode: m.ToNode,
			FromPool: m.FromPool, ToPool: m.ToPool, ExpectedSavingGPUHours: m.ExpectedSavingGPUHours}
		for _, a := range allocs {
			if m.FromAlloc != "" && a.PreviousAllocation == m.FromAlloc {
				s.ToNode = a.NodeName
			}
		}
		if secs, known := record.MoveCost(m, times); known {
			h := secs / 3600
			s.GPUHours = &h
			total += h
		}
		out = append(out, s)
	}
	return out, total
}
