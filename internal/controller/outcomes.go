package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/report"
)

// StopSuffix follows a record's path for what `caravan stop` says of a
// stop (who, and why), which the outcome carries once the run has ended.
const StopSuffix = "/stop"

// Stop is who stopped a run and why.
type Stop struct {
	By     string `json:"by,omitempty"`
	Reason string `json:"reason,omitempty"`
}

// finishJob writes how the run of job ref ended, once its job is dead:
// the state, exit code and reason report gives, what it cost, and the end
// of its logs, into the outcome beside its record. A run still running, or
// whose outcome is recorded, is left alone.
func (c *Controller) finishJob(ctx context.Context, ref jobRef) error {
	c.mu.Lock()
	done := c.ended[key(ref.ns, ref.id)]
	c.mu.Unlock()
	if done {
		return nil
	}
	job, err := c.cfg.Nomad.Job(ctx, ref.ns, ref.id)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
		return nil // purged before it was seen ending: nothing left to read
	case err != nil:
		return err
	case !nomad.IsCaravanJob(job.Meta) || deref(job.Status) != "dead":
		return nil
	}
	if err := c.ensure(ctx, job); err != nil {
		return err
	}
	rref := record.Ref{Namespace: ref.ns, Project: job.Meta[record.MetaProject], RunID: runID(ref.id, job.Meta)}
	in, err := report.Gather(ctx, reportSource{c.cfg.Nomad, rref}, rref.RunID)
	if err != nil {
		return fmt.Errorf("gather how run %s ended: %w", rref.RunID, err)
	}
	// A stopped job is dead at once, while its allocation is still being
	// killed: the run ends when the allocation does, whose event brings
	// the job here again.
	for _, a := range in.Allocs {
		if !a.ClientTerminalStatus() {
			return nil
		}
	}
	o := outcomeOf(report.Triage(in), c.cfg.Now)
	c.addTails(ctx, &o, in.Allocs)
	if s, err := c.stopOf(ctx, rref); err == nil {
		o.StoppedBy, o.StopReason = s.By, s.Reason
	}
	err = c.cfg.Nomad.CreateOutcome(ctx, rref, &o)
	switch {
	case errors.Is(err, nomad.ErrConflict):
	case err != nil:
		return fmt.Errorf("write how run %s ended: %w", rref.RunID, err)
	default:
		c.cfg.Metrics.ended()
	}
	c.mu.Lock()
	c.ended[key(ref.ns, ref.id)] = true
	c.mu.Unlock()
	return nil
}

// outcomeOf keeps what a report says of how a run ended.
func outcomeOf(r report.Report, now func() time.Time) record.Outcome {
	o := record.Outcome{
		RunID: r.RunID, State: record.State(r.Outcome), ExitCode: r.ExitCode, Reason: r.Reason.Kind, Summary: r.Reason.Summary,
		Attempts: r.Attempts, GPUSeconds: r.GPUHours * 3600, Cost: r.Cost, RecordedAt: now().UTC(), Stall: r.Stall,
	}
	if r.StartedAt != nil {
		o.StartedAt = *r.StartedAt
	}
	if r.FinishedAt != nil {
		o.FinishedAt = *r.FinishedAt
	}
	if r.Alloc != nil {
		o.Node, o.AllocID = r.Alloc.Node, r.Alloc.ID
	}
	return o
}

// addTails reads the end of the latest attempt's stdout and stderr. Logs
// that cannot be read (the node is gone) are left out: an outcome without
// them beats none.
func (c *Controller) addTails(ctx context.Context, o *record.Outcome, allocs []*api.Allocation) {
	var latest *api.Allocation
	for _, a := range allocs {
		if latest == nil || a.CreateIndex > latest.CreateIndex {
			latest = a
		}
	}
	if latest == nil || latest.ClientStatus == api.AllocClientStatusPending {
		return
	}
	task := report.MainTask(latest)
	for _, stderr := range []bool{false, true} {
		tail, err := c.cfg.Nomad.LogTail(ctx, latest.ID, task, stderr, record.MaxLogTail)
		if err != nil {
			c.log.Debug("could not read a log tail for the outcome", "run", o.RunID, "alloc", latest.ID, "stderr", stderr, "err", err)
			continue
		}
		if stderr {
			o.Stderr = tail
		} else {
			o.Stdout = tail
		}
	}
}

// stopOf reads what `caravan stop` wrote of the run's stop, if anything.
func (c *Controller) stopOf(ctx context.Context, ref record.Ref) (Stop, error) {
	v, err := c.cfg.Nomad.Variable(ctx, ref.Namespace, ref.Path()+StopSuffix)
	if err != nil {
		return Stop{}, err
	}
	var s Stop
	err = json.Unmarshal([]byte(v.Items["stop"]), &s)
	return s, err
}

// reportSource serves report.Gather one run's history, from the record at
// ref and from Nomad.
type reportSource struct {
	n   Nomad
	ref record.Ref
}

func (s reportSource) Record(ctx context.Context, _ string) (*record.Run, error) {
	r, _, err := s.n.Record(ctx, s.ref)
	return r, err
}

func (s reportSource) Usage(ctx context.Context, _ string) (*record.Usage, error) {
	return s.n.Usage(ctx, s.ref)
}

func (s reportSource) JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error) {
	return s.n.JobAllocations(ctx, namespace, jobID)
}

func (s reportSource) Allocation(ctx context.Context, namespace, allocID string) (*api.Allocation, error) {
	return s.n.Allocation(ctx, namespace, allocID)
}

func (s reportSource) StderrTail(ctx context.Context, a *api.Allocation, task string, maxBytes int64) (string, error) {
	return s.n.LogTail(ctx, a.ID, task, true, maxBytes)
}

func (s reportSource) Stall(ctx context.Context, _ string) (*record.Stall, error) {
	return ReadStall(ctx, s.n, s.ref)
}

// ReadStall reads a run's stall marker; nomad.ErrNotFound when the
// controller never found it stalled.
func ReadStall(ctx context.Context, v interface {
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
}, ref record.Ref) (*record.Stall, error) {
	got, err := v.Variable(ctx, ref.Namespace, ref.StallPath())
	if err != nil {
		return nil, err
	}
	var st record.Stall
	if err := json.Unmarshal([]byte(got.Items["stall"]), &st); err != nil {
		return nil, fmt.Errorf("the stall marker of run %s (%s) is not valid JSON: %v: %w", ref.RunID, ref.StallPath(), err, nomad.ErrCorrupt)
	}
	return &st, nil
}

// Outcome is never there yet: the controller is the one writing it.
func (s reportSource) Outcome(context.Context, string) (*record.Outcome, error) {
	return nil, nomad.ErrNotFound
}
