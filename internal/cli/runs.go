package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/caravan-ml/caravan/internal/gitops"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Shared by ls, status, show, logs, stop and rerun: what caravan knows of
// its runs, gathered from jobs, allocations and records.

// runRow is one run as ls prints it.
type runRow struct {
	ID         string            `json:"id"`
	Experiment string            `json:"experiment"`
	Namespace  string            `json:"namespace"`
	State      record.State      `json:"state"`
	Pool       string            `json:"pool"`
	NodePool   string            `json:"node_pool"`
	GPUs       int               `json:"gpus"`
	Submitted  time.Time         `json:"submitted"`
	Started    time.Time         `json:"started,omitzero"`
	Finished   time.Time         `json:"finished,omitzero"`
	Params     []gitops.Param    `json:"params"`
	RerunOf    string            `json:"rerun_of,omitempty"`
	HasJob     bool              `json:"has_job"`
	HasRecord  bool              `json:"has_record"`
	Allocs     []string          `json:"-"`
	Meta       map[string]string `json:"-"`
}

// runtime is how long the run has run (until now when it still runs).
func (r runRow) runtime(now time.Time) time.Duration {
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

// recordReadParallelism bounds concurrent record reads for runs whose job
// is gone.
const recordReadParallelism = 8

// listRuns gathers every caravan run visible in namespace (AllNamespaces
// for all): jobs with their allocations, and runs known only from their
// records. Records that cannot be decoded are returned as corrupt (their
// runs still listed, state unknown) so the caller can warn and exit
// non-zero.
func listRuns(ctx context.Context, cl *nomad.Client, namespace string) (rows []runRow, corrupt []error, err error) {
	v, err := gatherRuns(ctx, cl, namespace)
	if err != nil {
		return nil, nil, err
	}
	return v.rows, v.corrupt, nil
}

// runsView is what gatherRuns found.
type runsView struct {
	rows    []runRow
	corrupt []error
	allocs  []*api.AllocationListStub
}

func gatherRuns(ctx context.Context, cl *nomad.Client, namespace string) (*runsView, error) {
	var rows []runRow
	var corrupt []error
	jobs, err := cl.CaravanJobs(ctx, namespace)
	if err != nil {
		return nil, err
	}
	allocs, err := cl.Allocations(ctx, namespace)
	if err != nil {
		return nil, err
	}
	ids, err := recordRefs(ctx, cl, namespace)
	if err != nil {
		return nil, err
	}
	byJob := map[string][]*api.AllocationListStub{}
	for _, a := range allocs {
		byJob[a.Namespace+"/"+a.JobID] = append(byJob[a.Namespace+"/"+a.JobID], a)
	}
	seen := make(map[string]bool, len(jobs))
	for _, j := range jobs {
		seen[j.ID] = true
		rows = append(rows, rowFromJob(j, byJob[j.Namespace+"/"+j.ID]))
	}
	hasRecord := make(map[string]bool, len(ids))
	var missing []recordRef
	for _, ref := range ids {
		hasRecord[ref.id] = true
		if !seen[ref.id] {
			missing = append(missing, ref)
		}
	}
	recs, errs := readRecords(ctx, cl, missing)
	for i, ref := range missing {
		id := ref.id
		if errs[i] != nil {
			if errors.Is(errs[i], nomad.ErrCorrupt) {
				corrupt = append(corrupt, errs[i])
				rows = append(rows, runRow{ID: id, Experiment: gitops.ExperimentOf(id), Namespace: ref.ns, State: record.StateUnknown, HasRecord: true})
				continue
			}
			if errors.Is(errs[i], nomad.ErrNotFound) {
				continue // deleted between listing and reading
			}
			return nil, errs[i]
		}
		rows = append(rows, rowFromRecord(recs[i]))
	}
	for i := range rows {
		rows[i].HasRecord = hasRecord[rows[i].ID]
	}
	return &runsView{rows: rows, corrupt: corrupt, allocs: allocs}, nil
}

// recordRef is a run record's place: namespace and run ID.
type recordRef struct{ ns, id string }

// recordRefs lists the run records under caravan/runs/ in namespace
// (AllNamespaces for all), skipping usage summaries.
func recordRefs(ctx context.Context, cl *nomad.Client, namespace string) ([]recordRef, error) {
	metas, err := cl.Variables(ctx, namespace, record.Prefix)
	if err != nil {
		return nil, err
	}
	out := make([]recordRef, 0, len(metas))
	for _, m := range metas {
		id := strings.TrimPrefix(m.Path, record.Prefix)
		if id == "" || strings.Contains(id, "/") {
			continue
		}
		out = append(out, recordRef{ns: m.Namespace, id: id})
	}
	return out, nil
}

// readRecords reads records with bounded parallelism; recs[i] and errs[i]
// belong to ids[i].
func readRecords(ctx context.Context, cl *nomad.Client, refs []recordRef) ([]*record.Run, []error) {
	recs := make([]*record.Run, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, recordReadParallelism)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			recs[i], _, errs[i] = cl.Record(ctx, ref.ns, ref.id)
		}()
	}
	wg.Wait()
	return recs, errs
}

func rowFromJob(j *api.JobListStub, allocs []*api.AllocationListStub) runRow {
	job := &api.Job{ID: &j.ID, Status: &j.Status, Stop: &j.Stop}
	r := runRow{
		ID: j.ID, Experiment: j.Meta[record.MetaExperiment], Namespace: j.Namespace,
		State:   record.RunState(job, j.JobSummary, allocs),
		Pool:    j.Meta[record.MetaPool],
		GPUs:    atoiOr0(j.Meta[record.MetaGPUs]),
		Params:  gitops.ParamsOf(j.Meta),
		RerunOf: j.Meta[record.MetaRerunOf],
		HasJob:  true,
		Meta:    j.Meta,
	}
	if j.SubmitTime > 0 {
		r.Submitted = time.Unix(0, j.SubmitTime).UTC()
	}
	if r.Experiment == "" {
		r.Experiment = gitops.ExperimentOf(j.ID)
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

func rowFromRecord(rec *record.Run) runRow {
	r := runRow{
		ID: rec.RunID, Experiment: rec.Experiment, Namespace: rec.Namespace, State: record.StateUnknown,
		Pool: rec.Pool, NodePool: rec.NodePool, GPUs: rec.GPUs, Submitted: rec.SubmittedAt, RerunOf: rec.RerunOf,
		HasRecord: true,
	}
	for k, v := range rec.Params {
		r.Params = append(r.Params, gitops.Param{Name: k, Value: fmt.Sprint(v)})
	}
	slices.SortFunc(r.Params, func(a, b gitops.Param) int { return strings.Compare(a.Name, b.Name) })
	return r
}

func atoiOr0(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// runInfo is one run looked up by ID, for show, logs, stop and rerun.
type runInfo struct {
	ID        string
	Namespace string
	Job       *api.Job    // nil when Nomad no longer has the job
	Record    *record.Run // nil when there is none
	RecordErr error       // why Record is nil: ErrNotFound, ErrCorrupt, ...
}

// parseRunArg parses the flags of logs, rerun and show and resolves their
// single RUN argument to its run, so that the three refuse a wrong argument
// count and report an unknown run in the same words. ok=false comes with
// the exit code.
func parseRunArg(ctx context.Context, env Env, fs *flag.FlagSet, nf *nomadFlags, args []string) (cl *nomad.Client, ri *runInfo, code int, ok bool) {
	pos, code, ok := parseFlags(fs, args)
	if !ok {
		return nil, nil, code, false
	}
	if len(pos) != 1 {
		errorf(env, "%s takes one run ID (see `caravan ls`)", fs.Name())
		return nil, nil, ExitUsage, false
	}
	cl, err := nf.client(env)
	if err != nil {
		return nil, nil, nomadError(env, err), false
	}
	ri, err = findRun(ctx, cl, pos[0])
	if err != nil {
		return nil, nil, nomadError(env, err), false
	}
	return cl, ri, ExitOK, true
}

// findRun looks a run up by ID in the client's namespace, then in every
// namespace the token may list. Neither a job nor a record is an error
// naming the ID; a job that caravan does not own is refused.
func findRun(ctx context.Context, cl *nomad.Client, id string) (*runInfo, error) {
	ri, err := findRunIn(ctx, cl, "", id)
	if err != nil || ri != nil {
		return ri, err
	}
	jobs, err := cl.CaravanJobs(ctx, nomad.AllNamespaces)
	if err != nil {
		return nil, err
	}
	for _, j := range jobs {
		if j.ID == id && j.Namespace != cl.Namespace() {
			ri, err := findRunIn(ctx, cl, j.Namespace, id)
			if err != nil || ri != nil {
				return ri, err
			}
		}
	}
	return nil, fmt.Errorf("no run %q in Nomad at %s: no caravan job and no record by that ID (list runs with `caravan ls`; pass -namespace for another namespace)", id, cl.Address())
}

func findRunIn(ctx context.Context, cl *nomad.Client, namespace, id string) (*runInfo, error) {
	ri := &runInfo{ID: id, Namespace: namespace}
	if ri.Namespace == "" {
		ri.Namespace = cl.Namespace()
	}
	job, err := cl.Job(ctx, namespace, id)
	switch {
	case errors.Is(err, nomad.ErrNotFound):
	case err != nil:
		return nil, err
	case !nomad.IsCaravanJob(job.Meta):
		return nil, fmt.Errorf("job %q in namespace %q at %s is not a caravan run (its meta lacks %s=%s); caravan does not touch it: use the nomad CLI",
			id, ri.Namespace, cl.Address(), record.MetaManagedBy, record.ManagedByValue)
	default:
		ri.Job = job
	}
	rec, _, err := cl.Record(ctx, namespace, id)
	switch {
	case err == nil:
		ri.Record = rec
	case errors.Is(err, nomad.ErrNotFound), errors.Is(err, nomad.ErrCorrupt):
		ri.RecordErr = err
	default:
		return nil, err
	}
	if ri.Job == nil && ri.Record == nil && errors.Is(ri.RecordErr, nomad.ErrNotFound) {
		return nil, nil
	}
	return ri, nil
}
