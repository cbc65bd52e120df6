package query

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// Source is what listing runs needs from Nomad; *nomad.Client satisfies it.
type Source interface {
	Jobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	Allocations(ctx context.Context, namespace string) ([]*api.AllocationListStub, error)
	RecordRefs(ctx context.Context, namespace string, scope nomad.RecordScope) ([]record.Ref, error)
	Record(ctx context.Context, ref record.Ref) (*record.Run, uint64, error)
	Outcome(ctx context.Context, ref record.Ref) (*record.Outcome, error)
	GateRefs(ctx context.Context, namespace string) ([]record.GateRef, error)
	Gate(ctx context.Context, ref record.GateRef) (*record.Gate, uint64, error)
}

// Scope says which runs a listing covers.
type Scope struct {
	// Namespace is one namespace, or nomad.AllNamespaces.
	Namespace string
	// AllProjects lists the runs of every project and of none; otherwise
	// only Project's ("" meaning the runs of no project).
	AllProjects bool
	Project     string
}

func (s Scope) covers(project string) bool { return s.AllProjects || s.Project == project }

func (s Scope) records() nomad.RecordScope {
	return nomad.RecordScope{All: s.AllProjects, Project: s.Project}
}

// Detail says how much a listing reads beyond the listings themselves.
type Detail int

const (
	// Brief reads jobs and record paths: enough to know which runs exist,
	// whose they are and whether they are active (what a plan needs).
	Brief Detail = iota
	// Full also reads every allocation (for precise states and run
	// times) and the record of each run whose job is gone (for its
	// experiment, pool and params).
	Full
	// Live reads jobs and allocations only: the runs that hold or wait for
	// resources (what status shows), none of the history.
	Live
)

// Run is one run as the listings show it.
type Run struct {
	ID         string         `json:"id"`
	Project    string         `json:"project,omitempty"`
	Experiment string         `json:"experiment"`
	Namespace  string         `json:"namespace"`
	State      record.State   `json:"state"`
	Pool       string         `json:"pool"`
	NodePool   string         `json:"node_pool"`
	GPUs       int            `json:"gpus"`
	Submitted  time.Time      `json:"submitted"`
	Started    time.Time      `json:"started,omitzero"`
	Finished   time.Time      `json:"finished,omitzero"`
	Params     []record.Param `json:"params"`
	RerunOf    string         `json:"rerun_of,omitempty"`
	HasJob     bool           `json:"has_job"`
	HasRecord  bool           `json:"has_record"`
	// HasGate says the run has a gate (record.Gate): it waits for the
	// runs it depends on, and Wait says how far they are. A gate beside a
	// job or record is one the controller has yet to remove.
	HasGate bool  `json:"has_gate,omitempty"`
	Wait    *Wait `json:"wait,omitempty"`
	// Gate and GateIndex are the gate and its ModifyIndex, when HasGate.
	Gate      *record.Gate `json:"-"`
	GateIndex uint64       `json:"-"`
	// JobStatus is Nomad's job status (pending, running, dead), and
	// Stopped whether the job was stopped; both zero without a job.
	JobStatus string            `json:"-"`
	Stopped   bool              `json:"-"`
	Allocs    []string          `json:"-"`
	Meta      map[string]string `json:"-"`
	// Priority is the job's Nomad priority (0 when unknown), CreateIndex
	// the Raft index its job was registered at: together the order in
	// which Nomad considers queued runs.
	Priority    int    `json:"-"`
	CreateIndex uint64 `json:"-"`
	// PricePerHour and GPUsPerNode are the pool's node price and size
	// when the run was submitted (0 when unknown), for cost.
	PricePerHour float64 `json:"-"`
	GPUsPerNode  int     `json:"-"`
	// GPUSeconds is the GPU time of every attempt, from the run's outcome;
	// 0 when no outcome was read (see Runtime).
	GPUSeconds float64 `json:"-"`
}

// Runtime is how long the run has run (until now when it still runs).
func (r Run) Runtime(now time.Time) time.Duration {
	if r.Started.IsZero() {
		return 0
	}
	end := r.Finished
	if end.IsZero() || r.State == record.StateRunning {
		end = now
	}
	if end.Before(r.Started) {
		return 0
	}
	return end.Sub(r.Started)
}

// Runs is the answer of List.
type Runs struct {
	Rows []Run
	// Corrupt are records that could not be decoded; their runs are
	// still listed, in state unknown, and the caller should warn.
	Corrupt []error
	// Allocs are the allocations read (Full only), for status.
	Allocs []*api.AllocationListStub
	// Foreign are the jobs in scope's namespaces that caravan does not
	// own, by ID: a declared run whose ID one of them holds cannot be
	// submitted, and caravan never touches them.
	Foreign map[string]*api.JobListStub
}

// recordReadParallelism bounds concurrent record reads for runs whose job
// is gone.
const recordReadParallelism = 8

// List gathers the caravan runs in scope: those with a job, and those
// known only from their records.
func List(ctx context.Context, src Source, scope Scope, detail Detail) (*Runs, error) {
	jobs, err := src.Jobs(ctx, scope.Namespace)
	if err != nil {
		return nil, err
	}
	gates, err := src.GateRefs(ctx, scope.Namespace)
	if err != nil {
		return nil, err
	}
	gates = slices.DeleteFunc(gates, func(g record.GateRef) bool { return !scope.covers(g.Project) })
	var allocs []*api.AllocationListStub
	// Whether a waiting run may start depends on how its upstream runs
	// ended, which only allocations tell exactly (a run stopped at its
	// timeout is "complete" in a job's summary).
	if detail == Full || detail == Live || len(gates) > 0 {
		allocs, err = src.Allocations(ctx, scope.Namespace)
		switch {
		case err != nil && detail == Brief && errors.Is(err, nomad.ErrPermission):
			// A token that may list jobs only (plan's): the summaries'
			// counts stand in for the allocations.
			allocs = nil
		case err != nil:
			return nil, err
		}
	}
	var refs []record.Ref
	if detail != Live {
		if refs, err = src.RecordRefs(ctx, scope.Namespace, scope.records()); err != nil {
			return nil, err
		}
	}
	byJob := map[string][]*api.AllocationListStub{}
	for _, a := range allocs {
		byJob[a.Namespace+"/"+a.JobID] = append(byJob[a.Namespace+"/"+a.JobID], a)
	}
	out := &Runs{Allocs: allocs, Foreign: map[string]*api.JobListStub{}}
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		if !nomad.IsCaravanJob(j.Meta) {
			out.Foreign[j.ID] = j
			continue
		}
		if !scope.covers(j.Meta[record.MetaProject]) {
			continue
		}
		seen[j.ID] = true
		out.Rows = append(out.Rows, rowFromJob(j, byJob[j.Namespace+"/"+j.ID]))
	}
	hasRecord := make(map[string]bool, len(refs))
	var missing []record.Ref
	for _, ref := range refs {
		hasRecord[ref.RunID] = true
		if !seen[ref.RunID] {
			missing = append(missing, ref)
		}
	}
	if err := out.addRecordOnly(ctx, src, missing, detail); err != nil {
		return nil, err
	}
	for i := range out.Rows {
		out.Rows[i].HasRecord = hasRecord[out.Rows[i].ID]
	}
	if err := out.addGates(ctx, src, gates); err != nil {
		return nil, err
	}
	return out, nil
}

// addGates adds the runs that wait for others, with how far those are,
// and marks the rows of runs whose gate is left over.
func (out *Runs) addGates(ctx context.Context, src Source, refs []record.GateRef) error {
	if len(refs) == 0 {
		return nil
	}
	gs := make([]*record.Gate, len(refs))
	idx := make([]uint64, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, recordReadParallelism)
	var wg sync.WaitGroup
	for i, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			gs[i], idx[i], errs[i] = src.Gate(ctx, ref)
		})
	}
	wg.Wait()
	at := make(map[string]int, len(out.Rows))
	for i, r := range out.Rows {
		at[r.ID] = i
	}
	for i, ref := range refs {
		switch {
		case errors.Is(errs[i], nomad.ErrNotFound):
			continue // released between listing and reading
		case errors.Is(errs[i], nomad.ErrCorrupt):
			out.Corrupt = append(out.Corrupt, errs[i])
			continue
		case errors.Is(errs[i], nomad.ErrPermission):
			// A token that may list gates but not read them (plan's):
			// the run waits, for what it cannot tell.
			if _, ok := at[ref.RunID]; !ok {
				out.Rows = append(out.Rows, Run{ID: ref.RunID, Project: ref.Project, Experiment: record.ExperimentOf(ref.RunID),
					Namespace: ref.Namespace, State: record.StateWaiting, HasGate: true})
			}
			continue
		case errs[i] != nil:
			return errs[i]
		}
		if j, ok := at[ref.RunID]; ok {
			out.Rows[j].HasGate, out.Rows[j].Gate, out.Rows[j].GateIndex = true, gs[i], idx[i]
			continue
		}
		out.Rows = append(out.Rows, gateRow(gs[i], idx[i], ref))
	}
	byID := make(map[string]*Run, len(out.Rows))
	for i := range out.Rows {
		byID[out.Rows[i].ID] = &out.Rows[i]
	}
	reruns := RerunsOf(out.Rows)
	for i := range out.Rows {
		r := &out.Rows[i]
		if r.HasGate && r.Gate != nil && !r.HasJob && !r.HasRecord {
			w := WaitOf(r.Gate.WaitFor, byID, reruns)
			r.Wait, r.State = &w, w.State()
		}
	}
	return nil
}

// gateRow is the row of a run that waits: everything but its state comes
// from the job it will be registered with.
func gateRow(g *record.Gate, index uint64, ref record.GateRef) Run {
	r := Run{ID: ref.RunID, Project: ref.Project, Experiment: g.Experiment, Namespace: ref.Namespace,
		State: record.StateWaiting, Submitted: g.CreatedAt, HasGate: true, Gate: g, GateIndex: index}
	var job api.Job
	if json.Unmarshal(g.Job, &job) == nil {
		r.Pool, r.GPUs = job.Meta[record.MetaPool], atoiOr0(job.Meta[record.MetaGPUs])
		r.Params, r.RerunOf, r.Meta = record.ParamsOf(job.Meta), job.Meta[record.MetaRerunOf], job.Meta
		if job.NodePool != nil {
			r.NodePool = *job.NodePool
		}
		if job.Priority != nil {
			r.Priority = *job.Priority
		}
	}
	if r.Experiment == "" {
		r.Experiment = record.ExperimentOf(r.ID)
	}
	return r
}

// addRecordOnly adds the runs whose job is gone: from their records with
// Full detail, from their paths alone with Brief.
func (out *Runs) addRecordOnly(ctx context.Context, src Source, refs []record.Ref, detail Detail) error {
	if detail == Brief {
		for _, ref := range refs {
			out.Rows = append(out.Rows, bareRow(ref))
		}
		return nil
	}
	recs, outs, errs := readRecords(ctx, src, refs)
	for i, ref := range refs {
		switch {
		case errs[i] == nil:
			r := FromRecord(recs[i], ref)
			if o := outs[i]; o != nil {
				r.State, r.Started, r.Finished, r.GPUSeconds = o.State, o.StartedAt, o.FinishedAt, o.GPUSeconds
			}
			out.Rows = append(out.Rows, r)
		case errors.Is(errs[i], nomad.ErrCorrupt):
			out.Corrupt = append(out.Corrupt, errs[i])
			out.Rows = append(out.Rows, bareRow(ref))
		case errors.Is(errs[i], nomad.ErrNotFound):
			// deleted between listing and reading
		default:
			return errs[i]
		}
	}
	return nil
}

// readRecords reads records, and the outcomes of the runs that ended, with
// bounded parallelism; recs[i], outs[i] and errs[i] belong to refs[i]. An
// outcome that cannot be read leaves the run's state unknown.
func readRecords(ctx context.Context, src Source, refs []record.Ref) ([]*record.Run, []*record.Outcome, []error) {
	recs := make([]*record.Run, len(refs))
	outs := make([]*record.Outcome, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, recordReadParallelism)
	var wg sync.WaitGroup
	for i, ref := range refs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			recs[i], _, errs[i] = src.Record(ctx, ref)
			if errs[i] == nil && ref.Ended {
				outs[i], _ = src.Outcome(ctx, ref)
			}
		})
	}
	wg.Wait()
	return recs, outs, errs
}

func bareRow(ref record.Ref) Run {
	return Run{ID: ref.RunID, Project: ref.Project, Experiment: record.ExperimentOf(ref.RunID), Namespace: ref.Namespace,
		State: record.StateUnknown, HasRecord: true}
}

func rowFromJob(j *api.JobListStub, allocs []*api.AllocationListStub) Run {
	job := &api.Job{ID: &j.ID, Status: &j.Status, Stop: &j.Stop}
	r := Run{
		ID: j.ID, Project: j.Meta[record.MetaProject], Experiment: j.Meta[record.MetaExperiment], Namespace: j.Namespace,
		State:     RunState(job, j.JobSummary, allocs),
		Pool:      j.Meta[record.MetaPool],
		GPUs:      atoiOr0(j.Meta[record.MetaGPUs]),
		Params:    record.ParamsOf(j.Meta),
		RerunOf:   j.Meta[record.MetaRerunOf],
		HasJob:    true,
		JobStatus: j.Status,
		Stopped:   j.Stop,
		Meta:      j.Meta,
		Priority:  j.Priority, CreateIndex: j.CreateIndex,
		PricePerHour: parseFloat(j.Meta[record.MetaPricePerHour]), GPUsPerNode: atoiOr0(j.Meta[record.MetaGPUsPerNode]),
	}
	if j.SubmitTime > 0 {
		r.Submitted = time.Unix(0, j.SubmitTime).UTC()
	}
	if r.Experiment == "" {
		r.Experiment = record.ExperimentOf(j.ID)
	}
	for _, a := range allocs {
		r.Allocs = append(r.Allocs, a.ID)
		for _, ts := range a.TaskStates {
			if !ts.StartedAt.IsZero() && (r.Started.IsZero() || ts.StartedAt.Before(r.Started)) {
				r.Started = ts.StartedAt
			}
			if ts.FinishedAt.After(r.Finished) {
				r.Finished = ts.FinishedAt
			}
		}
	}
	return r
}

// FromRecord is the row of a run known only from its record.
func FromRecord(rec *record.Run, ref record.Ref) Run {
	r := Run{
		ID: rec.RunID, Project: rec.Project, Experiment: rec.Experiment, Namespace: ref.Namespace, State: record.StateUnknown,
		Pool: rec.Pool, NodePool: rec.NodePool, GPUs: rec.GPUs, Submitted: rec.SubmittedAt, RerunOf: rec.RerunOf,
		HasRecord: true, PricePerHour: rec.PricePerHour, GPUsPerNode: rec.GPUsPerNode, Priority: priorityOf(rec.Job),
	}
	for k, v := range rec.Params {
		r.Params = append(r.Params, record.Param{Name: k, Value: fmt.Sprint(v)})
	}
	slices.SortFunc(r.Params, func(a, b record.Param) int { return strings.Compare(a.Name, b.Name) })
	return r
}
