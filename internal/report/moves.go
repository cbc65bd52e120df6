package report

import (
	"context"
	"fmt"
	"strings"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// MoveSource is what a report reads of a run's moves. It is a Source's
// optional extra: a source without it reports no moves.
type MoveSource interface {
	Moves(ctx context.Context, runID string) ([]record.Move, error)
}

// gatherMoves adds the run's moves to in when src can read them.
func gatherMoves(ctx context.Context, src Source, in *triage.Input) {
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

// writeMoves prints the run's moves, one line each.
func writeMoves(b *strings.Builder, r triage.Report) {
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
	return triage.Hours(h) + " GPU-hours"
}
