package query

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// Finder is what looking a run up by ID needs; *nomad.Client satisfies it.
type Finder interface {
	Address() string
	Namespace() string
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	CaravanJobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	FindRecord(ctx context.Context, namespace, runID string) (record.Ref, error)
	Record(ctx context.Context, ref record.Ref) (*record.Run, uint64, error)
	Outcome(ctx context.Context, ref record.Ref) (*record.Outcome, error)
	GateRefs(ctx context.Context, namespace string) ([]record.GateRef, error)
	Gate(ctx context.Context, ref record.GateRef) (*record.Gate, uint64, error)
}

// Found is one run looked up by ID, for show, logs, stop, rerun and report.
type Found struct {
	ID        string
	Namespace string
	Project   string      // from the job's meta, else the record's place
	Job       *api.Job    // nil when Nomad no longer has the job
	Record    *record.Run // nil when there is none
	RecordRef record.Ref  // where the record is, or would be
	RecordErr error       // why Record is nil: ErrNotFound, ErrCorrupt, ...
	// Outcome is how the run ended, as the controller recorded it; nil
	// while it runs, or when no controller saw it end.
	Outcome *record.Outcome
	// Gate is the run's gate when it waits for others and has no job and
	// no record yet; GateIndex is its ModifyIndex.
	Gate      *record.Gate
	GateIndex uint64
}

// RecordOrJob is the run's record, or, while no controller has written
// it yet (none runs, or the run is seconds old) and a corrupt record is not
// the reason, the record the controller would write from the job. It is
// nil with RecordErr when there is neither.
func (f *Found) RecordOrJob() (*record.Run, error) {
	if f.Record != nil {
		return f.Record, nil
	}
	if f.Job != nil && !errors.Is(f.RecordErr, nomad.ErrCorrupt) {
		return RecordOf(f.Job)
	}
	return nil, f.RecordErr
}

// Find looks a run up by ID in the client's namespace, then in every
// namespace the token may list. Run IDs are unique across projects (the
// project is part of what an ID hashes), so no project is needed. Neither
// a job nor a record is an error naming the ID; a job that caravan does
// not own is refused.
func Find(ctx context.Context, src Finder, id string) (*Found, error) {
	f, err := findIn(ctx, src, "", id)
	if err != nil || f != nil {
		return f, err
	}
	jobs, err := src.CaravanJobs(ctx, nomad.AllNamespaces)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.ID == id && j.Namespace != src.Namespace() {
			f, err := findIn(ctx, src, j.Namespace, id)
			if err != nil || f != nil {
				return f, err
			}
		}
	}
	// A run whose job is gone from every namespace: its record, wherever
	// it is.
	ref, err := src.FindRecord(ctx, nomad.AllNamespaces, id)
	switch {
	case err == nil:
		return withRecord(ctx, src, &Found{ID: id, Namespace: ref.Namespace, Project: ref.Project}, ref)
	case !errors.Is(err, nomad.ErrNotFound):
		return nil, err
	}
	// A run that waits for others: only its gate.
	gates, err := src.GateRefs(ctx, nomad.AllNamespaces)
	if err != nil {
		return nil, err
	}
	for _, ref := range gates {
		if ref.RunID != id {
			continue
		}
		g, idx, err := src.Gate(ctx, ref)
		if errors.Is(err, nomad.ErrNotFound) {
			break // released meanwhile: look again
		}
		if err != nil {
			return nil, err
		}
		return &Found{ID: id, Namespace: ref.Namespace, Project: ref.Project, Gate: g, GateIndex: idx,
			RecordRef: record.Ref{Namespace: ref.Namespace, Project: ref.Project, RunID: id}, RecordErr: nomad.ErrNotFound}, nil
	}
	return nil, &NoRunError{ID: id, Address: src.Address()}
}

// NoRunError says that neither a caravan job nor a record has the ID; it
// errors.Is nomad.ErrNotFound.
type NoRunError struct{ ID, Address string }

func (e *NoRunError) Error() string {
	return fmt.Sprintf("no run %q in Nomad at %s: no caravan job and no record by that ID (list runs with `caravan ls -all-projects`; pass -namespace for another namespace)", e.ID, e.Address)
}

func (e *NoRunError) Unwrap() error { return nomad.ErrNotFound }

func findIn(ctx context.Context, src Finder, namespace, id string) (*Found, error) {
	f := &Found{ID: id, Namespace: namespace}
	if f.Namespace == "" {
		f.Namespace = src.Namespace()
	}
	job, err := src.Job(ctx, namespace, id)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
	case err != nil:
		return nil, err
	case !nomad.IsCaravanJob(job.Meta):
		return nil, fmt.Errorf("job %q in namespace %q at %s is not a caravan run (its meta lacks %s=%s); caravan does not touch it: use the nomad CLI",
			id, f.Namespace, src.Address(), record.MetaManagedBy, record.ManagedByValue)
	default:
		f.Job = job
		f.Project = job.Meta[record.MetaProject]
		return withRecord(ctx, src, f, record.Ref{Namespace: f.Namespace, Project: f.Project, RunID: id})
	}
	ref, err := src.FindRecord(ctx, f.Namespace, id)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	}
	f.Project = ref.Project
	return withRecord(ctx, src, f, ref)
}

// withRecord reads the record at ref into f; a missing or corrupt record
// is kept in f.RecordErr, other errors end the lookup.
func withRecord(ctx context.Context, src Finder, f *Found, ref record.Ref) (*Found, error) {
	f.RecordRef = ref
	rec, _, err := src.Record(ctx, ref)
	switch {
	case err == nil:
		f.Record = rec
		if f.Job == nil || deref(f.Job.Status) == "dead" {
			if o, err := src.Outcome(ctx, ref); err == nil {
				f.Outcome = o
			} else if !errors.Is(err, nomad.ErrNotFound) && !errors.Is(err, nomad.ErrCorrupt) {
				return nil, err
			}
		}
	case errors.Is(err, nomad.ErrNotFound), errors.Is(err, nomad.ErrCorrupt):
		f.RecordErr = err
	default:
		return nil, err
	}
	return f, nil
}
