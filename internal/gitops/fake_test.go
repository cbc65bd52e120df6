package gitops

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// fakeCluster is a hand-written Cluster keeping jobs in a map; records
// holds the runs the controller has recorded (tests seed it to stand for
// runs whose job Nomad collected).
type fakeCluster struct {
	mu        sync.Mutex
	jobs      map[string]*api.Job
	records   map[string]*record.Run
	stopped   []string
	creates   int
	failJobAt int // the n-th CreateJob call (1-based) fails; 0 never
	jobErr    error
	foreign   map[string]bool // IDs taken by jobs caravan does not own
	gates     map[string]*record.Gate
	order     []string // job IDs in the order they were registered
	snapshots map[string]*record.ConfigSnapshot
}

func newFake() *fakeCluster {
	return &fakeCluster{jobs: map[string]*api.Job{}, records: map[string]*record.Run{}, foreign: map[string]bool{}, gates: map[string]*record.Gate{}}
}

func (f *fakeCluster) Namespace() string { return "default" }

func (f *fakeCluster) CreateSnapshot(_ context.Context, ref record.SnapshotRef, s *record.ConfigSnapshot) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.snapshots == nil {
		f.snapshots = map[string]*record.ConfigSnapshot{}
	}
	f.snapshots[ref.Namespace+"/"+ref.Path()] = s
	return nil
}

func (f *fakeCluster) CreateGate(_ context.Context, g *record.Gate) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.gates[g.RunID]; ok {
		return &nomad.Error{Kind: nomad.ErrConflict}
	}
	f.gates[g.RunID] = g
	return nil
}

func (f *fakeCluster) Gate(_ context.Context, ref record.GateRef) (*record.Gate, uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	g, ok := f.gates[ref.RunID]
	if !ok {
		return nil, 0, fmt.Errorf("gate %s: %w", ref.RunID, nomad.ErrNotFound)
	}
	return g, 1, nil
}

func (f *fakeCluster) DeleteGate(_ context.Context, ref record.GateRef, _ int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.gates, ref.RunID)
	return nil
}

func (f *fakeCluster) CreateJob(_ context.Context, job *api.Job) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if f.failJobAt > 0 && f.creates >= f.failJobAt {
		if f.jobErr != nil {
			return false, f.jobErr
		}
		return false, fmt.Errorf("register job %q: Nomad returned an internal error: boom", *job.ID)
	}
	id := *job.ID
	if f.foreign[id] {
		return false, &nomad.Error{Kind: nomad.ErrConflict}
	}
	if _, ok := f.jobs[id]; ok {
		return false, nil
	}
	f.jobs[id] = job
	f.order = append(f.order, id)
	return true, nil
}

func (f *fakeCluster) Job(_ context.Context, _, id string) (*api.Job, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return nil, fmt.Errorf("job %s: %w", id, nomad.ErrNotFound)
	}
	return j, nil
}

func (f *fakeCluster) StopJob(_ context.Context, _, id string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	j, ok := f.jobs[id]
	if !ok {
		return "", errors.New("not found")
	}
	j.Stop = new(true)
	f.stopped = append(f.stopped, id)
	return "eval", nil
}

// actual lists the fake's state the way the CLI lists Nomad's.
func (f *fakeCluster) actual() []ActualRun {
	f.mu.Lock()
	defer f.mu.Unlock()
	var stubs []*api.JobListStub
	for id, j := range f.jobs {
		status := "running"
		if j.Status != nil {
			status = *j.Status
		}
		stubs = append(stubs, &api.JobListStub{ID: id, Namespace: "default", Status: status, Stop: j.Stop != nil && *j.Stop, Meta: j.Meta})
	}
	var refs []record.Ref
	for id, r := range f.records {
		refs = append(refs, record.Ref{Namespace: "default", Project: r.Project, RunID: id})
	}
	var gates []*record.Gate
	for _, g := range f.gates {
		gates = append(gates, g)
	}
	// The CLI lists through internal/query; so does the fake, with the
	// same code.
	runs, err := query.List(context.Background(), listing{stubs, refs, gates}, query.Scope{Namespace: "*", AllProjects: true}, query.Brief)
	if err != nil {
		panic(err)
	}
	return Actual(runs.Rows)
}

// listing answers query.Source from fixed job stubs and record refs.
type listing struct {
	jobs  []*api.JobListStub
	refs  []record.Ref
	gates []*record.Gate
}

func (l listing) Jobs(context.Context, string) ([]*api.JobListStub, error) { return l.jobs, nil }
func (l listing) Allocations(context.Context, string) ([]*api.AllocationListStub, error) {
	return nil, nil
}
func (l listing) GateRefs(context.Context, string) ([]record.GateRef, error) {
	var refs []record.GateRef
	for _, g := range l.gates {
		refs = append(refs, record.GateRef{Namespace: "default", Project: g.Project, RunID: g.RunID})
	}
	return refs, nil
}

func (l listing) Gate(_ context.Context, ref record.GateRef) (*record.Gate, uint64, error) {
	for _, g := range l.gates {
		if g.RunID == ref.RunID {
			return g, 1, nil
		}
	}
	return nil, 0, nomad.ErrNotFound
}

func (l listing) RecordRefs(context.Context, string, nomad.RecordScope) ([]record.Ref, error) {
	return l.refs, nil
}
func (l listing) Record(context.Context, record.Ref) (*record.Run, uint64, error) {
	return nil, 0, nomad.ErrNotFound
}

// desired makes n runs of experiment exp with compile-shaped jobs.
func desired(exp string, n int) []DesiredRun {
	out := make([]DesiredRun, n)
	for i := range out {
		id := fmt.Sprintf("%s-%08x", exp, i)
		meta := map[string]string{
			record.MetaManagedBy: record.ManagedByValue, record.MetaRunID: id, record.MetaExperiment: exp,
			record.MetaSpecHash: fmt.Sprintf("%064x", i), record.MetaPool: "gpu", record.MetaGPUs: "1",
			record.MetaParams: fmt.Sprintf(`{"lr":0.%d,"opt":"adam"}`, i+1),
		}
		job := &api.Job{ID: new(id), Name: new(id), Type: new("batch"), Meta: meta,
			TaskGroups: []*api.TaskGroup{{Name: new("run"), Tasks: []*api.Task{{Name: "train", Driver: "docker", Config: map[string]any{"image": "train:1"}}}}}}
		out[i] = DesiredRun{ID: id, Experiment: exp, SpecHash: meta[record.MetaSpecHash], Summary: SummaryOf(job), Job: job}
	}
	return out
}

func jobStubs(d []DesiredRun) []*api.JobListStub {
	out := make([]*api.JobListStub, len(d))
	for i, r := range d {
		out[i] = &api.JobListStub{ID: r.ID, Namespace: "default", Status: "running", Meta: r.Job.Meta}
	}
	return out
}

func foreignStub(id string) *api.JobListStub {
	return &api.JobListStub{ID: id, Namespace: "default", Status: "running", Meta: map[string]string{"owner": "someone"}}
}
func (l listing) Outcome(context.Context, record.Ref) (*record.Outcome, error) {
	return nil, nomad.ErrNotFound
}
