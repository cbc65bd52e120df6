package gitops

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/caravan-ml/caravan/internal/gitops/plan"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
	"github.com/hashicorp/nomad/api"
)

// Cluster is what Apply needs from Nomad; *nomad.Client satisfies it.
type Cluster interface {
	// CreateJob registers job only if no job with its ID exists; created
	// is false without error when the same run is already there.
	CreateJob(ctx context.Context, job *api.Job) (created bool, err error)
	// Job reads a job; prune reads each run's job again before it stops
	// it, to check whose run it is.
	Job(ctx context.Context, namespace, jobID string) (*api.Job, error)
	// StopJob stops (never purges) a job.
	StopJob(ctx context.Context, namespace, jobID string) (string, error)
	// Namespace is where a job without a namespace of its own goes.
	Namespace() string
	// CreateGate writes a waiting run's gate only if none is there
	// (nomad.ErrConflict otherwise); Gate reads one, DeleteGate removes it.
	CreateGate(ctx context.Context, g *record.Gate) error
	Gate(ctx context.Context, ref record.GateRef) (*record.Gate, uint64, error)
	DeleteGate(ctx context.Context, ref record.GateRef, cas int64) error
	// CreateSnapshot keeps a configuration snapshot (content-addressed:
	// one already at its path is the same).
	CreateSnapshot(ctx context.Context, ref record.SnapshotRef, s *record.ConfigSnapshot) error
}

// DefaultParallelism bounds concurrent submissions when ApplyOptions does
// not say: enough to hide the round trip of each registration, few enough
// not to flood a Nomad leader.
const DefaultParallelism = 16

// ApplyOptions tune Apply.
type ApplyOptions struct {
	// Parallelism bounds concurrent Nomad writes; <= 0 means
	// DefaultParallelism.
	Parallelism int
	// Prune stops the plan's active runs that are no longer declared.
	Prune bool
	// Origin is written into each job's meta (record.MetaOrigin); ""
	// means record.OriginApply.
	Origin string
	// SubmittedBy is the caller's identity, written into each job's meta
	// (record.MetaSubmittedBy) when known.
	SubmittedBy string
	// NomadVersion is the Nomad servers' version, written into each job's
	// meta (record.MetaNomadVersion) when known.
	NomadVersion string
	// Progress, when set, is called after each finished item from the
	// goroutine that called Apply (never concurrently).
	Progress func(Progress)

	snapshot string // the hash of the plan's snapshot, once kept
}

// Progress reports one finished item of an apply.
type Progress struct {
	Done, Total int
	ID          string
	Action      string // "registered", "waiting" (gated), "present", "stopped"
	Err         error
}

// Failure is one item that failed.
type Failure struct {
	ID  string
	Err error
}

// ApplyResult says exactly what an apply did.
type ApplyResult struct {
	// Planned is the number of runs the plan had to create.
	Planned int
	// Registered are runs whose job this apply registered.
	Registered []string
	// Present are runs to create that another submitter registered first
	// (a racing apply); nothing was written for them.
	Present []string
	// Stopped are no-longer-declared runs stopped by Prune.
	Stopped []string
	// Failures are the items that failed, with Nomad's explanation.
	Failures []Failure
	// Gated are runs to create that depend on other runs: apply wrote
	// their gate, and the controller registers them once those completed.
	Gated []string
	// NotSubmitted are runs to create that were not attempted because the
	// apply stopped at its first failure (or was interrupted).
	NotSubmitted []string
	// SnapshotErr says why the plan's configuration snapshot could not be
	// kept: the runs were submitted all the same, but `caravan rerun
	// -param` cannot clone them.
	SnapshotErr error
}

// Err is nil when everything planned was done; otherwise it says what was
// and was not done, and that applying again finishes the work.
func (r *ApplyResult) Err() error {
	if len(r.Failures) == 0 && len(r.NotSubmitted) == 0 {
		return nil
	}
	reason := "interrupted"
	failures := r.Failures
	if r.cutOff() {
		// What was cut off in flight is no failure of its own; it may even
		// have reached Nomad, which the next apply sees.
		reason += " (a registration cut off in flight may have reached Nomad; the next apply registers only what is missing)"
		failures = nil
	}
	if len(failures) > 0 {
		reason = failures[0].Err.Error()
	}
	var b strings.Builder
	submitted := len(r.Registered) + len(r.Present) + len(r.Gated)
	fmt.Fprintf(&b, "registered %d of %d", submitted, r.Planned)
	if n := r.Planned - submitted; n > 0 {
		fmt.Fprintf(&b, "; %d not submitted", n)
	}
	fmt.Fprintf(&b, ": %s", reason)
	if len(failures) > 1 {
		fmt.Fprintf(&b, " (and %d more failures)", len(failures)-1)
	}
	b.WriteString("; run apply again to finish")
	return errors.New(b.String())
}

// cutOff reports whether every failure is a call cut off by the apply's
// own interruption (Ctrl-C, a CI job cancelled), not a refusal.
func (r *ApplyResult) cutOff() bool {
	for _, f := range r.Failures {
		if !errors.Is(f.Err, context.Canceled) && !errors.Is(f.Err, context.DeadlineExceeded) {
			return false
		}
	}
	return len(r.Failures) > 0
}

type itemKind int

const (
	kindCreate itemKind = iota
	kindStop
)

type item struct {
	kind itemKind
	c    plan.Change
	r    plan.RunRef
}

type outcome struct {
	it     item
	action string
	err    error
	// laneDone marks the end of a lane (no item).
	laneDone bool
	// next carries Apply's answer: whether the lane goes on.
	next chan bool
}

// Apply executes plan against cl: it registers every run to create (only
// if absent), and with Prune stops active runs no longer declared. It
// writes no record: each job carries what its record holds, and the
// controller writes the record that outlives the job, so an apply is one
// write per run and an apply killed half-way loses nothing. At the first
// failure it stops dispatching new work, lets the writes in flight finish,
// and reports precisely what was done; running it again with a fresh plan
// finishes.
//
// The runs of one experiment are registered one after the other, in sweep
// order, and experiments side by side: Nomad considers queued runs of one
// priority in the order they were registered, so a sweep that waits for
// GPUs starts in the order it was declared.
func Apply(ctx context.Context, cl Cluster, p *plan.RunPlan, opts ApplyOptions) *ApplyResult {
	if opts.Parallelism <= 0 {
		opts.Parallelism = DefaultParallelism
	}
	if opts.Origin == "" {
		opts.Origin = record.OriginApply
	}
	res := &ApplyResult{}
	lanes, total := lanesOf(p, opts.Prune, res)
	if len(lanes) == 0 {
		return res
	}
	if res.Planned > 0 && p.Snapshot != nil {
		opts.snapshot, res.SnapshotErr = keepSnapshot(ctx, cl, p)
	}
	work := make(chan []item)
	results := make(chan outcome)
	skipped := make(chan []item, len(lanes))
	for range min(opts.Parallelism, len(lanes)) {
		go func() {
			for lane := range work {
				for i, it := range lane {
					o := do(ctx, cl, it, p.Project, opts.Origin, opts)
					o.next = make(chan bool)
					results <- o
					// The loop below says whether to go on, after it
					// has seen this outcome: no write follows a failure.
					if !<-o.next && i+1 < len(lane) {
						skipped <- lane[i+1:]
						break
					}
				}
				results <- outcome{laneDone: true}
			}
		}()
	}
	next := dispatch(ctx, lanes, work, results, res, total, opts.Progress)
	close(work)
	close(skipped)
	for rest := range skipped {
		notSubmitted(res, rest)
	}
	for _, l := range lanes[next:] {
		notSubmitted(res, l)
	}
	return res
}

// lanesOf are the plan's items as lanes: each experiment's runs to create,
// in sweep order, and each stop on its own; total counts the items.
func lanesOf(p *plan.RunPlan, prune bool, res *ApplyResult) (lanes [][]item, total int) {
	for _, e := range p.Experiments {
		var lane []item
		for _, c := range e.Create {
			lane = append(lane, item{kind: kindCreate, c: c})
		}
		res.Planned += len(lane)
		total += len(lane)
		if len(lane) > 0 {
			lanes = append(lanes, lane)
		}
		for _, r := range e.Removed {
			if prune && r.Active {
				lanes = append(lanes, []item{{kind: kindStop, r: r}})
				total++
			}
		}
	}
	return lanes, total
}

// dispatch hands lanes to the workers and tallies their outcomes until
// every lane handed out is done; it stops handing out lanes, and tells
// the workers to stop, at the first failure or when ctx ends. It returns
// how many lanes were handed out.
func dispatch(ctx context.Context, lanes [][]item, work chan<- []item, results <-chan outcome, res *ApplyResult, total int, progress func(Progress)) int {
	next, inflight, done := 0, 0, 0
	stopping := false
	for (!stopping && next < len(lanes)) || inflight > 0 {
		var send chan<- []item
		var lane []item
		var cancelled <-chan struct{}
		if !stopping {
			cancelled = ctx.Done()
		}
		if !stopping && next < len(lanes) {
			if ctx.Err() != nil {
				stopping = true
				continue
			}
			send, lane = work, lanes[next]
		}
		select {
		case send <- lane:
			next++
			inflight++
		case o := <-results:
			if o.laneDone {
				inflight--
				continue
			}
			done++
			tally(res, o)
			stopping = stopping || o.err != nil
			if progress != nil {
				progress(Progress{Done: done, Total: total, ID: idOf(o.it), Action: o.action, Err: o.err})
			}
			o.next <- !stopping && ctx.Err() == nil
		case <-cancelled:
			stopping = true
		}
	}
	return next
}

func notSubmitted(res *ApplyResult, items []item) {
	for _, it := range items {
		if it.kind == kindCreate {
			res.NotSubmitted = append(res.NotSubmitted, it.c.ID)
		}
	}
}

func idOf(it item) string {
	if it.kind == kindStop {
		return it.r.ID
	}
	return it.c.ID
}

func tally(res *ApplyResult, o outcome) {
	id := idOf(o.it)
	switch o.action {
	case "registered":
		res.Registered = append(res.Registered, id)
	case "present":
		res.Present = append(res.Present, id)
	case "waiting":
		res.Gated = append(res.Gated, id)
	case "stopped":
		res.Stopped = append(res.Stopped, id)
	}
	if o.err != nil {
		res.Failures = append(res.Failures, Failure{ID: id, Err: o.err})
	}
}

// checkOwner refuses to stop a run that does not belong to project: the
// plan only lists the project's runs, but a plan file can be old or edited
// and a job can be re-registered under the same ID, so prune asks Nomad
// again, right before it stops anything.
func checkOwner(ctx context.Context, cl Cluster, r plan.RunRef, project string) error {
	job, err := cl.Job(ctx, r.Namespace, r.ID)
	if err != nil {
		return fmt.Errorf("stop run %s: %w", r.ID, err)
	}
	if !nomad.IsCaravanJob(job.Meta) {
		return fmt.Errorf("stop run %s: job %s is not a caravan run; caravan does not touch it", r.ID, r.ID)
	}
	if got := job.Meta[record.MetaProject]; got != project {
		owner := "no project"
		if got != "" {
			owner = "project " + got
		}
		return fmt.Errorf("stop run %s: it belongs to %s, not to project %s; a directory's apply -prune stops only its own project's runs", r.ID, owner, project)
	}
	return nil
}

func do(ctx context.Context, cl Cluster, it item, project, origin string, opts ApplyOptions) outcome {
	if it.kind == kindStop && it.r.Gated {
		return stopGated(ctx, cl, it, project)
	}
	if it.kind == kindStop {
		if err := checkOwner(ctx, cl, it.r, project); err != nil {
			return outcome{it: it, err: err}
		}
		if _, err := cl.StopJob(ctx, it.r.Namespace, it.r.ID); err != nil {
			return outcome{it: it, err: fmt.Errorf("stop run %s: %w", it.r.ID, err)}
		}
		return outcome{it: it, action: "stopped"}
	}
	job := submitted(it.c.Job, origin, opts.SubmittedBy, opts.NomadVersion, opts.snapshot)
	if job == nil {
		return outcome{it: it, err: fmt.Errorf("run %s: the plan carries no job for it; plan again", it.c.ID)}
	}
	if len(record.WaitForOf(job.Meta)) > 0 {
		return gate(ctx, cl, it, job, project)
	}
	created, err := cl.CreateJob(ctx, job)
	if err != nil {
		return outcome{it: it, err: err}
	}
	if !created {
		return outcome{it: it, action: "present"}
	}
	return outcome{it: it, action: "registered"}
}
