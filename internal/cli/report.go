package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/controller"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

func init() {
	register(command{name: "report", synopsis: "Explain how a run went: why it ended, what it used and cost, memory leaks", run: runReport})
}

func runReport(ctx context.Context, env Env, args []string) int {
	fs := newFlagSet(env, "report", "RUN")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	pngFile := fs.String("png", "", "also write a plot of GPU utilisation, GPU memory and host memory over time to this PNG `file`")
	nf := addNomadFlags(fs)
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return code
	}
	if len(pos) != 1 {
		errorf(env, "report takes exactly one run ID, got %d arguments\n  Usage: caravan report [-json] [-png FILE] RUN", len(pos))
		return ExitUsage
	}
	c, err := nf.client(env)
	if err != nil {
		return nomadError(env, err)
	}
	in, err := report.Gather(ctx, &nomadReportSource{c: c}, pos[0])
	if err != nil {
		errorf(env, "%v", err)
		return ExitError
	}
	// A running run is judged at this moment; Triage itself reads no
	// clock (without one it would stop its runtime at the last event).
	in.Now = time.Now()
	r := report.Triage(in)

	if *pngFile != "" {
		if err := writePNGFile(*pngFile, r); err != nil {
			errorf(env, "%v", err)
			return ExitError
		}
	}
	if *asJSON {
		return writeJSON(env, r, "encode the report of run "+r.RunID+" as JSON")
	}
	if err := report.WriteText(env.Stdout, r); err != nil {
		errorf(env, "write the report: %v", err)
		return ExitError
	}
	if *pngFile != "" {
		fmt.Fprintf(env.Stdout, "\nPlot written to %s\n", *pngFile)
	}
	return ExitOK
}

// writePNGFile renders first and creates the file only then, so that a run
// without a timeline leaves no empty file behind.
func writePNGFile(path string, r report.Report) error {
	var b bytes.Buffer
	if err := report.WritePNG(&b, r); err != nil {
		if errors.Is(err, report.ErrNoTimeline) {
			return fmt.Errorf("-png %s: %w", path, err)
		}
		return err
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write the plot: %w (check that the directory of %s exists and is writable)", err, path)
	}
	return nil
}

// nomadReportSource adapts *nomad.Client to report.Source. Record looks
// the run up (its record's place depends on its project), falling back to
// the job's own meta, and Usage reads the summary next to the record.
type nomadReportSource struct {
	c     *nomad.Client
	found *query.Found
}

func (s *nomadReportSource) Record(ctx context.Context, runID string) (*record.Run, error) {
	f, err := query.Find(ctx, s.c, runID)
	if err != nil {
		return nil, err
	}
	s.found = f
	return f.RecordOrJob()
}

func (s *nomadReportSource) Outcome(ctx context.Context, runID string) (*record.Outcome, error) {
	if s.found != nil && s.found.ID == runID && s.found.Outcome != nil {
		return s.found.Outcome, nil
	}
	ref := record.Ref{RunID: runID}
	if s.found != nil && s.found.ID == runID {
		ref = s.found.RecordRef
	}
	return s.c.Outcome(ctx, ref)
}

func (s *nomadReportSource) Stall(ctx context.Context, runID string) (*record.Stall, error) {
	ref := record.Ref{RunID: runID}
	if s.found != nil && s.found.ID == runID {
		ref = s.found.RecordRef
	}
	return controller.ReadStall(ctx, s.c, ref)
}

func (s *nomadReportSource) Usage(ctx context.Context, runID string) (*record.Usage, error) {
	ref := record.Ref{RunID: runID}
	if s.found != nil && s.found.ID == runID {
		ref = s.found.RecordRef
	}
	return s.c.Usage(ctx, ref)
}

func (s *nomadReportSource) JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error) {
	return s.c.JobAllocations(ctx, namespace, jobID)
}

func (s *nomadReportSource) Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error) {
	return s.c.Allocation(ctx, namespace, allocID)
}

// StderrTail reads the last maxBytes of a task's stderr, in whole lines.
func (s *nomadReportSource) StderrTail(ctx context.Context, a *api.Allocation, task string, maxBytes int64) (string, error) {
	return s.c.LogTail(ctx, a.ID, task, true, maxBytes)
}
