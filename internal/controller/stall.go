package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// Stall detection lives here, in the cluster service, and not in the node
// agent, although the agent measures what it judges on:
//
//   - stopping a run is a write to the job (deregister-job), which the
//     controller's token has in the experiments' namespaces and the node
//     agents' tokens must not (a node would then stop any run);
//   - one service holding the lease judges every run once, with the
//     experiment's stall_timeout from the job meta, and keeps its verdict
//     beside the run's record, as it keeps the outcome;
//   - the inputs are all in Nomad: the log files' and metrics file's
//     modification times through Nomad's file system API, and the CPU and
//     GPU samples in the usage summary the agent writes every minute.
//
// A run without a usage summary holding CPU samples is never judged: no
// data is not "idle".

// StallNomad is what the stall watcher needs; *nomad.Client satisfies it.
type StallNomad interface {
	CaravanJobs(ctx context.Context, namespace string) ([]*api.JobListStub, error)
	JobAllocations(ctx context.Context, namespace, jobID string) ([]*api.AllocationListStub, error)
	AllocActivity(ctx context.Context, namespace, allocID, task, metricsFile string) (nomad.Activity, error)
	Usage(ctx context.Context, ref record.Ref) (*record.Usage, error)
	Variable(ctx context.Context, namespace, path string) (*api.Variable, error)
	PutVariable(ctx context.Context, namespace, path string, items map[string]string, cas int64) (*api.Variable, error)
	StopJob(ctx context.Context, namespace, jobID string) (string, error)
}

// DefaultStallEvery is how often running runs with a stall_timeout are
// looked at.
const DefaultStallEvery = 30 * time.Second

// StallBy is who the stop record names when the controller stops a
// stalled run.
const StallBy = "caravan controller (on_stall = \"stop\")"

// StallsConfig configures the stall watcher.
type StallsConfig struct {
	Nomad  StallNomad
	Logger *slog.Logger
	// Every is the interval between passes (0: DefaultStallEvery).
	Every time.Duration
	// Namespace limits the watcher to one namespace ("" means all).
	Namespace string
	Metrics   *Metrics
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Stalls marks runs stalled, and stops those whose experiment says
// on_stall = "stop".
type Stalls struct {
	cfg StallsConfig
	log *slog.Logger

	mu      sync.Mutex
	current map[string]*record.Stall // namespace/run ID → the marker this process wrote or kept
	told    map[string]string        // namespace/run ID → why it could not be judged, as last logged
}

// NewStalls builds the stall watcher.
func NewStalls(cfg StallsConfig) *Stalls {
	if cfg.Every <= 0 {
		cfg.Every = DefaultStallEvery
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
	return &Stalls{cfg: cfg, log: log.With("controller", "stalls"), current: map[string]*record.Stall{}, told: map[string]string{}}
}

// Run looks for stalled runs every Every until ctx ends.
func (s *Stalls) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Every)
	defer t.Stop()
	for {
		if _, err := s.Pass(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("stall pass failed; retrying at the next one", "err", err, "next_in", s.cfg.Every)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// StallResult says what one pass did.
type StallResult struct {
	Watched, Stalled, Stopped int
}

// Pass looks once at every running run that has a stall_timeout.
func (s *Stalls) Pass(ctx context.Context) (StallResult, error) {
	var res StallResult
	jobs, err := s.cfg.Nomad.CaravanJobs(ctx, s.cfg.Namespace)
	if err != nil {
		return res, err
	}
	var firstErr error
	for _, j := range jobs {
		timeout, err := time.ParseDuration(j.Meta[record.MetaStallTimeout])
		if err != nil || timeout <= 0 || j.Status != "running" || j.Stop {
			continue
		}
		res.Watched++
		stalled, stopped, err := s.watch(ctx, j, timeout)
		if err != nil {
			s.log.Warn("judging a run for stalls failed; the next pass retries", "run", j.ID, "namespace", j.Namespace, "err", err)
			if firstErr == nil {
				firstErr = err
			}
		}
		if stalled {
			res.Stalled++
		}
		if stopped {
			res.Stopped++
		}
	}
	return res, firstErr
}

// watch judges one run and acts on a stall: it records the marker once per
// allocation, then, under on_stall = "stop", records who stops the run and
// why, and stops it.
func (s *Stalls) watch(ctx context.Context, j *api.JobListStub, timeout time.Duration) (stalled, stopped bool, err error) {
	ref := record.Ref{Namespace: j.Namespace, Project: j.Meta[record.MetaProject], RunID: runID(j.ID, j.Meta)}
	action := j.Meta[record.MetaOnStall]
	if action != record.OnStallStop {
		action = record.OnStallWarn
	}
	allocs, err := s.cfg.Nomad.JobAllocations(ctx, j.Namespace, j.ID)
	if err != nil {
		return false, false, err
	}
	a, task, started := runningTask(allocs)
	if a == nil {
		return false, false, nil
	}
	k := key(ref.Namespace, ref.RunID)
	s.mu.Lock()
	prev := s.current[k]
	s.mu.Unlock()
	if prev != nil && prev.AllocID != a.ID {
		prev = nil // an earlier attempt's
	}
	if prev != nil && (prev.Stopped || prev.Action == record.OnStallStop) {
		return false, false, nil // stopped, or being stopped
	}
	act, err := s.cfg.Nomad.AllocActivity(ctx, j.Namespace, a.ID, task, record.MetricsFile)
	if err != nil {
		return false, false, err
	}
	u, err := s.cfg.Nomad.Usage(ctx, ref)
	if err != nil && !errors.Is(err, nomad.ErrNotFound) {
		return false, false, err
	}
	st, stalled, why := judgeStall(stallInput{RunID: ref.RunID, AllocID: a.ID, Started: started, Activity: act, Usage: u,
		Timeout: timeout, Action: action, Now: s.cfg.Now()})
	s.note(k, ref.RunID, why)
	switch {
	case !stalled && prev != nil && prev.ResumedAt.IsZero() && st.Since.After(prev.Since):
		// It came back to life: the marker says so, and report no longer
		// calls it stalled.
		r := *prev
		r.ResumedAt = s.cfg.Now().UTC()
		if err := s.put(ctx, ref, &r, nomad.NoCAS); err != nil {
			return false, false, err
		}
		s.log.Info("stalled run resumed", "run", ref.RunID, "namespace", ref.Namespace)
		s.remember(k, &r)
		return false, false, nil
	case !stalled || (prev != nil && prev.ResumedAt.IsZero()):
		return false, false, nil
	}
	if err := s.mark(ctx, ref, &st); err != nil {
		return true, false, err
	}
	s.log.Info("run stalled", "run", ref.RunID, "namespace", ref.Namespace, "since", st.Since, "on_stall", action)
	s.cfg.Metrics.stalled(action)
	if action == record.OnStallStop {
		if err := s.stop(ctx, ref); err != nil {
			return true, false, err
		}
		st.Stopped = true
		if err := s.put(ctx, ref, &st, nomad.NoCAS); err != nil {
			s.log.Warn("the stalled run is stopped, but its marker does not say so", "run", ref.RunID, "err", err)
		}
	}
	s.remember(k, &st)
	return true, action == record.OnStallStop, nil
}

func (s *Stalls) remember(k string, st *record.Stall) {
	s.mu.Lock()
	s.current[k] = st
	s.mu.Unlock()
}

// mark writes the stall marker unless one for the same allocation that
// has not resumed is there (another controller, or this one before a
// restart), which it then keeps.
func (s *Stalls) mark(ctx context.Context, ref record.Ref, st *record.Stall) error {
	v, err := s.cfg.Nomad.Variable(ctx, ref.Namespace, ref.StallPath())
	switch {
	case err == nil:
		var old record.Stall
		if json.Unmarshal([]byte(v.Items["stall"]), &old) == nil && old.AllocID == st.AllocID && old.ResumedAt.IsZero() {
			*st = old
			return nil
		}
		return s.put(ctx, ref, st, int64(v.ModifyIndex))
	case errors.Is(err, nomad.ErrNotFound):
		return s.put(ctx, ref, st, 0)
	default:
		return err
	}
}

func (s *Stalls) put(ctx context.Context, ref record.Ref, st *record.Stall, cas int64) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if _, err := s.cfg.Nomad.PutVariable(ctx, ref.Namespace, ref.StallPath(), map[string]string{"stall": string(b)}, cas); err != nil {
		return fmt.Errorf("record that run %s stalled: %w", ref.RunID, err)
	}
	return nil
}

// stop records who stops the run and why, where the outcome takes it
// from (as `caravan stop -reason` does), then stops its job.
func (s *Stalls) stop(ctx context.Context, ref record.Ref) error {
	b, _ := json.Marshal(Stop{By: StallBy, Reason: record.StopReasonStalled})
	if _, err := s.cfg.Nomad.PutVariable(ctx, ref.Namespace, ref.Path()+StopSuffix, map[string]string{"stop": string(b)}, nomad.NoCAS); err != nil {
		return fmt.Errorf("keep why stalled run %s is stopped: %w", ref.RunID, err)
	}
	if _, err := s.cfg.Nomad.StopJob(ctx, ref.Namespace, ref.RunID); err != nil {
		return fmt.Errorf("stop stalled run %s: %w", ref.RunID, err)
	}
	return nil
}

// note logs, once per reason, why a run with a stall_timeout cannot be
// judged.
func (s *Stalls) note(k, runID, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if why == "" || s.told[k] == why {
		return
	}
	s.told[k] = why
	s.log.Warn("a run with a stall_timeout cannot be judged", "run", runID, "why", why)
}

// runningTask is the running allocation of a run (the newest), its task
// and when that started; nil when none runs.
func runningTask(allocs []*api.AllocationListStub) (*api.AllocationListStub, string, time.Time) {
	var a *api.AllocationListStub
	for _, x := range allocs {
		if x.ClientStatus == api.AllocClientStatusRunning && x.DesiredStatus == api.AllocDesiredStatusRun && (a == nil || x.CreateIndex > a.CreateIndex) {
			a = x
		}
	}
	if a == nil {
		return nil, "", time.Time{}
	}
	names := make([]string, 0, len(a.TaskStates))
	for n, ts := range a.TaskStates {
		if ts != nil && ts.State == "running" {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return nil, "", time.Time{}
	}
	slices.Sort(names)
	return a, names[0], a.TaskStates[names[0]].StartedAt
}
