package report

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report/triage"
)

// Source is what a report reads from Nomad. internal/cli adapts
// *nomad.Client to it; tests use a hand-written fake. Errors that
// errors.Is nomad.ErrNotFound mean "absent", anything else a failed call.
type Source interface {
	// Record reads the run's record, wherever its project keeps it.
	Record(ctx context.Context, runID string) (*record.Run, error)
	// Usage reads the run's usage summary, next to its record.
	Usage(ctx context.Context, runID string) (*record.Usage, error)
	// JobAllocations lists a job's allocations, stopped ones included.
	JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error)
	// Allocation reads one allocation with task states and events.
	Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error)
	// StderrTail returns up to maxBytes from the end of a task's stderr.
	StderrTail(ctx context.Context, alloc *api.Allocation, task string, maxBytes int64) (string, error)
	// Outcome reads how the run ended, as the controller recorded it.
	Outcome(ctx context.Context, runID string) (*record.Outcome, error)
	// Stall reads the controller's stall marker of the run, if any.
	Stall(ctx context.Context, runID string) (*record.Stall, error)
}

// Gather limits: the newest MaxAllocs attempts are read in full, and the
// last StderrBytes of stderr, enough for a Python traceback.
const (
	MaxAllocs   = 10
	StderrBytes = 64 << 10
)

// ErrNoRun is returned by Gather when caravan has no record of the run.
var ErrNoRun = errors.New("no such run")

// Gather reads what Triage needs about runID. Only a missing record or a
// Nomad that cannot list the run's allocations is an error; missing usage,
// a garbage-collected job or unreadable logs become warnings in the input,
// since a partial diagnosis beats none.
func Gather(ctx context.Context, src Source, runID string) (triage.Input, error) {
	in := triage.Input{RunID: runID}
	rec, err := src.Record(ctx, runID)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
		return in, fmt.Errorf("run %q: %w: caravan has no record of it in Nomad Variables (check the ID with `caravan ls -all-projects`)",
			runID, ErrNoRun)
	case err != nil:
		return in, fmt.Errorf("read the record of run %q: %w", runID, err)
	}
	in.Record = rec
	jobID := cmp.Or(recordJobID(rec), runID)

	stubs, err := src.JobAllocations(ctx, rec.Namespace, jobID)
	gone := errors.Is(err, nomad.ErrNotFound)
	if err != nil && !gone {
		return in, fmt.Errorf("list the allocations of run %q (job %q): %w", runID, jobID, err)
	}
	if len(stubs) == 0 {
		// Nomad collected the job (a 404, or, for a purged job, an empty
		// list), or it has not placed the run: the recorded outcome tells.
		if o, err := src.Outcome(ctx, runID); err == nil {
			in.Outcome = o
		} else if gone {
			in.Warnings = append(in.Warnings, fmt.Sprintf("Nomad no longer knows job %q (garbage-collected?) and no controller recorded how it ended: the report uses the run's record and usage only", jobID))
		}
	}
	slices.SortFunc(stubs, func(a, b *api.AllocationListStub) int { return cmp.Compare(b.CreateIndex, a.CreateIndex) })
	if len(stubs) > MaxAllocs {
		in.Warnings = append(in.Warnings, fmt.Sprintf("the run has %d allocations; only the newest %d were read", len(stubs), MaxAllocs))
		stubs = stubs[:MaxAllocs]
	}
	for _, s := range stubs {
		a, err := src.Allocation(ctx, cmp.Or(s.Namespace, rec.Namespace), s.ID)
		if err != nil {
			in.Warnings = append(in.Warnings, fmt.Sprintf("could not read allocation %s: %v", triage.ShortID(s.ID), err))
			continue
		}
		in.Allocs = append(in.Allocs, a)
	}

	gatherMoves(ctx, src, &in)
	u, err := src.Usage(ctx, runID)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
	case err != nil:
		in.Warnings = append(in.Warnings, fmt.Sprintf("could not read the usage summary of run %q: %v", runID, err))
	default:
		in.Usage = u
	}

	switch st, err := src.Stall(ctx, runID); {
	case err == nil:
		in.Stall = st
	case !errors.Is(err, nomad.ErrNotFound):
		in.Warnings = append(in.Warnings, fmt.Sprintf("could not read whether run %q stalled: %v", runID, err))
	}

	if latest := triage.LatestFirst(in.Allocs); len(latest) > 0 && latest[0].ClientStatus != api.AllocClientStatusPending {
		a := latest[0]
		task := triage.MainTask(a)
		tail, err := src.StderrTail(ctx, a, task, StderrBytes)
		if err != nil {
			in.Warnings = append(in.Warnings, fmt.Sprintf("could not read the stderr of task %q in allocation %s (its node may be gone): %v", task, triage.ShortID(a.ID), err))
		} else {
			in.Stderr, in.StderrAlloc = tail, a.ID
		}
	}
	return in, nil
}

// recordJobID is the ID of the job compiled into rec, in either the bare
// api.Job JSON or the {"Job": {...}} form.
func recordJobID(rec *record.Run) string {
	if rec == nil || len(rec.Job) == 0 {
		return ""
	}
	var j struct {
		ID  *string
		Job *struct{ ID *string }
	}
	if json.Unmarshal(rec.Job, &j) != nil {
		return ""
	}
	if j.ID != nil {
		return *j.ID
	}
	if j.Job != nil && j.Job.ID != nil {
		return *j.Job.ID
	}
	return ""
}
