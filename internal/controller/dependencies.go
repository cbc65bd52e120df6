package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/query"
	"github.com/caravan-ml/caravan/internal/record"
)

// DependenciesNomad is what the dependency controller needs;
// *nomad.Client satisfies it.
type DependenciesNomad interface {
	query.Source
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	CreateJob(ctx context.Context, job *api.Job) (created bool, err error)
	CreateRecord(ctx context.Context, namespace string, r *record.Run) error
	PutGate(ctx context.Context, g *record.Gate, cas int64) (uint64, error)
	DeleteGate(ctx context.Context, ref record.GateRef, cas int64) error
	Events(ctx context.Context, namespace string, index uint64, topics ...api.Topic) (<-chan *api.Events, error)
}

// Defaults of DependenciesConfig.
const (
	DefaultDependencyResync = 30 * time.Second
	// DefaultUncertainAfter is how long after an interrupted release a
	// controller still registers the job when Nomad has neither it nor
	// its record. Within it, the job cannot have run and been garbage
	// collected: Nomad keeps a finished batch job for job_gc_threshold
	// (4h by default), so a missing job was never registered. Beyond it,
	// the controller cannot tell, and does not guess (see release).
	DefaultUncertainAfter = time.Hour
	// minPassGap spaces passes that events trigger: a sweep ending is
	// hundreds of allocation events, and one pass after them is enough.
	minPassGap = 2 * time.Second
)

// DependenciesConfig configures the dependency controller.
type DependenciesConfig struct {
	Nomad  DependenciesNomad
	Logger *slog.Logger
	// Resync is how often every gate is looked at (0:
	// DefaultDependencyResync); allocation events trigger passes between.
	Resync time.Duration
	// UncertainAfter: see DefaultUncertainAfter (0: that).
	UncertainAfter time.Duration
	// Namespace limits the controller to one namespace ("" means every
	// namespace the token sees).
	Namespace string
	Metrics   *Metrics
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Dependencies releases runs that wait for others (depends_on): when every
// run a gate waits for completed, it registers the gate's job, writes the
// run's record and removes the gate. It is safe to run twice and to stop
// at any moment:
//
//   - a gate is marked releasing (check-and-set) before its job is
//     registered, and registration is create-only with a deterministic
//     run ID, so two controllers never start a run twice;
//   - the gate goes only after the job and the record exist, so a
//     controller stopped half-way leaves the gate, and the next pass
//     finishes the release (registering the job if Nomad has none) or
//     removes the gate (if the job or its record is there);
//   - a release interrupted longer ago than UncertainAfter whose job and
//     record are both missing is not registered again (the job might have
//     run and been collected): the controller writes the run's record
//     from the gate, marked so, and removes the gate. The run shows in
//     listings, and `caravan rerun` starts it.
type Dependencies struct {
	cfg     DependenciesConfig
	log     *slog.Logger
	blocked map[string]string // run ID → the blockers last logged
}

// NewDependencies builds the dependency controller.
func NewDependencies(cfg DependenciesConfig) *Dependencies {
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultDependencyResync
	}
	if cfg.UncertainAfter <= 0 {
		cfg.UncertainAfter = DefaultUncertainAfter
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Namespace == "" {
		cfg.Namespace = nomad.AllNamespaces
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Dependencies{cfg: cfg, log: log.With("controller", "dependencies"), blocked: map[string]string{}}
}

// Run releases waiting runs until ctx ends: a pass at start, every
// Resync, and after allocations end (the event stream).
func (d *Dependencies) Run(ctx context.Context) error {
	ended := make(chan struct{}, 1)
	go d.follow(ctx, ended)
	resync := time.NewTimer(0)
	defer resync.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-resync.C:
		case <-ended:
			if wait := minPassGap - time.Since(last); wait > 0 {
				sleep(ctx, wait)
			}
		}
		last = time.Now()
		if _, err := d.Pass(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("dependency pass failed; retrying at the next one", "err", err, "next_in", d.cfg.Resync)
		}
		resync.Reset(d.cfg.Resync)
	}
}

// PassResult says what one pass saw and did.
type PassResult struct {
	Waiting, Blocked, Released int
}

// Pass looks at every gate once and releases those whose upstream runs all
// completed. Errors of single gates are logged and retried at the next
// pass; the first is returned after all were tried.
func (d *Dependencies) Pass(ctx context.Context) (PassResult, error) {
	var res PassResult
	refs, err := d.cfg.Nomad.GateRefs(ctx, d.cfg.Namespace)
	if err != nil {
		return res, err
	}
	if len(refs) == 0 {
		d.cfg.Metrics.gates(0, 0)
		return res, nil
	}
	// A run waits for runs of its own project: list each project with a
	// gate, not the cluster. Brief reads no record of a collected job
	// (their runs are long done), and a listing with gates reads the
	// allocations, which say exactly how each upstream run ended.
	var projects []string
	for _, r := range refs {
		if !slices.Contains(projects, r.Project) {
			projects = append(projects, r.Project)
		}
	}
	var firstErr error
	for _, p := range projects {
		runs, err := query.List(ctx, d.cfg.Nomad, query.Scope{Namespace: d.cfg.Namespace, Project: p}, query.Brief)
		if err != nil {
			return res, err
		}
		for i := range runs.Rows {
			r := &runs.Rows[i]
			if !r.HasGate || r.Gate == nil {
				continue
			}
			released, err := d.gate(ctx, r, &res)
			if err != nil {
				d.log.Warn("releasing a waiting run failed; the next pass retries", "run", r.ID, "namespace", r.Namespace, "err", err)
				if firstErr == nil {
					firstErr = err
				}
			}
			if released {
				res.Released++
			}
		}
	}
	d.cfg.Metrics.gates(res.Waiting, res.Blocked)
	return res, firstErr
}

// gate decides about one gated run.
func (d *Dependencies) gate(ctx context.Context, r *query.Run, res *PassResult) (bool, error) {
	g := r.Gate
	switch {
	case r.HasJob || r.HasRecord:
		// Released earlier; only the gate was left.
		return false, d.finish(ctx, g, r.GateIndex, nil)
	case !g.ReleasingAt.IsZero():
		return d.resume(ctx, g, r.GateIndex)
	case r.Wait != nil && r.Wait.Ready():
		return d.release(ctx, g, r.GateIndex)
	case r.Wait != nil && len(r.Wait.Blocked) > 0:
		res.Blocked++
		if text := r.Wait.Text(); d.blocked[r.ID] != text {
			d.blocked[r.ID] = text
			d.log.Warn("a waiting run is blocked: it starts once a rerun of each failed run completes", "run", r.ID, "namespace", r.Namespace, "why", text)
		}
	default:
		res.Waiting++
	}
	return false, nil
}

// release marks the gate releasing, then registers its job.
func (d *Dependencies) release(ctx context.Context, g *record.Gate, index uint64) (bool, error) {
	marked := *g
	marked.ReleasingAt = d.cfg.Now().UTC()
	idx, err := d.cfg.Nomad.PutGate(ctx, &marked, int64(index))
	if errors.Is(err, nomad.ErrConflict) {
		return false, nil // another controller got there first
	}
	if err != nil {
		return false, fmt.Errorf("mark run %s releasing: %w", g.RunID, err)
	}
	return d.register(ctx, &marked, idx)
}

// resume finishes a release that a controller began and did not finish.
func (d *Dependencies) resume(ctx context.Context, g *record.Gate, index uint64) (bool, error) {
	job, err := d.cfg.Nomad.Job(ctx, g.Namespace, g.RunID)
	switch {
	case err == nil:
		return false, d.finish(ctx, g, index, job)
	case !errors.Is(err, nomad.ErrNotFound):
		return false, err
	}
	if age := d.cfg.Now().Sub(g.ReleasingAt); age > d.cfg.UncertainAfter {
		d.log.Error("a release was interrupted long ago and Nomad has neither the job nor its record; not registering it again, since it may have run and been collected: its record says so, and `caravan rerun` starts it",
			"run", g.RunID, "namespace", g.Namespace, "releasing_since", g.ReleasingAt)
		return false, d.finish(ctx, g, index, nil, "interrupted release: registration not confirmed; rerun to start it")
	}
	return d.register(ctx, g, index)
}

// register submits the gate's job (create-only), then finishes.
func (d *Dependencies) register(ctx context.Context, g *record.Gate, index uint64) (bool, error) {
	var job api.Job
	if err := json.Unmarshal(g.Job, &job); err != nil || job.ID == nil || *job.ID != g.RunID || !nomad.IsCaravanJob(job.Meta) {
		return false, fmt.Errorf("the gate of run %s holds no caravan job of that ID (%v); inspect it with `nomad var get -namespace %s %s`", g.RunID, err, g.Namespace, g.Ref().Path())
	}
	if ns := deref(job.Namespace); ns != g.Namespace {
		return false, fmt.Errorf("the gate of run %s in namespace %s holds a job for namespace %q; caravan registers a gate's job only in the gate's own namespace", g.RunID, g.Namespace, ns)
	}
	created, err := d.cfg.Nomad.CreateJob(ctx, &job)
	if err != nil {
		return false, fmt.Errorf("register run %s: %w", g.RunID, err)
	}
	if created {
		d.log.Info("released a waiting run: every run it waited for completed", "run", g.RunID, "namespace", g.Namespace, "waited_for", len(g.WaitFor))
		d.cfg.Metrics.released()
	}
	return created, d.finish(ctx, g, index, nil)
}

// finish writes the run's record (from the job in Nomad when there is one,
// else from the gate, with note in it) and removes the gate. The record
// comes first: while the gate is there, a later pass can still finish.
func (d *Dependencies) finish(ctx context.Context, g *record.Gate, index uint64, job *api.Job, note ...string) error {
	if job == nil && len(note) == 0 {
		j, err := d.cfg.Nomad.Job(ctx, g.Namespace, g.RunID)
		switch {
		case err == nil:
			job = j
		case !errors.Is(err, nomad.ErrNotFound):
			return err
		}
	}
	if job == nil {
		var fromGate api.Job
		if err := json.Unmarshal(g.Job, &fromGate); err != nil {
			return fmt.Errorf("decode the job in the gate of run %s: %w", g.RunID, err)
		}
		job = &fromGate
	}
	rec, err := query.RecordOf(job)
	if err != nil {
		return err
	}
	if len(note) > 0 {
		if rec.Extra == nil {
			rec.Extra = map[string]string{}
		}
		rec.Extra["release"] = strings.Join(note, "; ")
		rec.SubmittedAt = g.CreatedAt
	}
	if err := d.cfg.Nomad.CreateRecord(ctx, g.Namespace, rec); err != nil && !errors.Is(err, nomad.ErrConflict) {
		return fmt.Errorf("write the record of run %s: %w", g.RunID, err)
	}
	err = d.cfg.Nomad.DeleteGate(ctx, g.Ref(), int64(index))
	if err != nil && !errors.Is(err, nomad.ErrNotFound) && !errors.Is(err, nomad.ErrConflict) {
		return fmt.Errorf("remove the gate of run %s: %w", g.RunID, err)
	}
	delete(d.blocked, g.RunID)
	return nil
}

// follow signals ended whenever an allocation ends: an upstream run may
// have completed (or a rerun of one).
func (d *Dependencies) follow(ctx context.Context, ended chan<- struct{}) {
	nomad.Follow(ctx, d.cfg.Nomad, d.log, d.cfg.Namespace, []api.Topic{api.TopicAllocation},
		"releasing runs on resyncs only", func(evs []api.Event) bool {
			if slices.ContainsFunc(evs, allocEnded) {
				select {
				case ended <- struct{}{}:
				default:
				}
			}
			return true
		})
}

func allocEnded(ev api.Event) bool {
	a, err := ev.Allocation()
	if err != nil || a == nil {
		return false
	}
	switch a.ClientStatus {
	case api.AllocClientStatusComplete, api.AllocClientStatusFailed, api.AllocClientStatusLost:
		return true
	}
	return false
}
