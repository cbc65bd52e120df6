package report

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/record"
)

// MoveSource is what a report reads of a run's moves. It is a Source's
// optional extra: a source without it reports no moves.
type MoveSource interface {
	Moves(ctx context.Context, runID string) ([]record.Move, error)
}

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

// gatherMoves adds the run's moves to in when src can read them.
func gatherMoves(ctx context.Context, src Source, in *Input) {
	ms, ok := src.(MoveSource)
	if !ok {
		return
	}
	moves, err := ms.Moves(ctx, in.RunID)
	if err != nil {
		in.Warnings = append(in.Warnings, fmt.Sprintf("could not read the moves of run %q: %v", in.RunID, err))
		return
	}
	in.Moves = moves
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

// writeMoves prints the run's moves, one line each.
func writeMoves(b *strings.Builder, r Report) {
	if len(r.Moves) == 0 {
		return
	}
	fmt.Fprintf(b, "%-10s%d · %s spent moving\n", "Moves", len(r.Moves), gpuTime(r.MoveGPUHours))
	for _, m := range r.Moves {
		line := m.At.UTC().Format("2006-01-02 15:04:05") + " "
		if m.Running {
			line += "checkpointed and moved"
		} else {
			line += "moved while queued"
		}
		if m.FromNode != "" {
			line += " from " + m.FromNode
		}
		if m.ToNode != "" {
			line += " to " + m.ToNode
		}
		if m.ToPool != m.FromPool {
			line += " (pool " + m.FromPool + " → " + m.ToPool + ")"
		}
		cost := "under way"
		if m.GPUHours != nil {
			cost = gpuTime(*m.GPUHours)
		}
		line += " · " + cost + " · by " + m.By
		if m.Reason != "" {
			line += ": " + m.Reason
		}
		b.WriteString(hang(line, "  ", "    ", textWidth))
	}
}

// gpuTime is GPU time in GPU-hours, or GPU-seconds when under a minute's
// worth, which a move of a small run usually is.
func gpuTime(h float64) string {
	if h < 1.0/60 {
		return fmt.Sprintf("%.0f GPU-seconds", h*3600)
	}
	return hours(h) + " GPU-hours"
}
