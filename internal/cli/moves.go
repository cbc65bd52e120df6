package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

// Moves reads the moves of runID for report (report.MoveSource).
func (s *nomadReportSource) Moves(ctx context.Context, runID string) ([]record.Move, error) {
	ref := record.Ref{RunID: runID}
	if s.found != nil && s.found.ID == runID {
		ref = s.found.RecordRef
	}
	ms, _, err := s.c.Moves(ctx, ref)
	return ms, err
}

var _ report.MoveSource = (*nomadReportSource)(nil)

// writeMoveLines lists a run's moves for show.
func writeMoveLines(w io.Writer, moves []record.Move) {
	if len(moves) == 0 {
		return
	}
	fmt.Fprintln(w, "Moves:")
	for _, m := range moves {
		what := "moved while queued"
		if m.Running {
			what = "checkpointed and moved off " + cmpOr(m.FromNode, "its node")
		}
		fmt.Fprintf(w, "  %s  %s", m.At.UTC().Format("2006-01-02T15:04:05Z"), what)
		if m.ToPool != m.FromPool {
			fmt.Fprintf(w, " to pool %s", m.ToPool)
		}
		if m.ToNode != "" {
			fmt.Fprintf(w, " to node %s", m.ToNode)
		}
		fmt.Fprintf(w, ", by %s", m.By)
		if m.Reason != "" {
			fmt.Fprintf(w, ": %s", m.Reason)
		}
		fmt.Fprintln(w)
	}
}
