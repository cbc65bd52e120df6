package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hashicorp/nomad/api"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/record"
)

// NoticeSource tells whether the machine has been told it will be taken
// back, and when.
type NoticeSource interface {
	Notice(ctx context.Context) (at time.Time, ok bool, err error)
}

// PreemptNomad is what the preemption watcher does with Nomad: drain the
// node, list its allocations, move the runs that checkpoint and record
// their moves.
type PreemptNomad interface {
	DrainNode(ctx context.Context, nodeID string, deadline time.Duration, meta map[string]string) error
	NodeAllocations(ctx context.Context, nodeID string) ([]*api.Allocation, error)
	MoveJob(ctx context.Context, namespace, jobID string, t nomad.MoveTarget) (*api.Job, error)
	AddMove(ctx context.Context, ref record.Ref, m record.Move) error
	Moves(ctx context.Context, ref record.Ref) ([]record.Move, uint64, error)
}

// PreemptWatcher polls a spot machine's preemption notice and, when one
// comes, drains the node with the notice's deadline (nothing new lands
// there, and whatever still runs at the deadline is stopped) and moves
// every run that checkpoints to another node at once, so that it writes
// its checkpoint while the machine is still there. Nomad does not replace
// drained batch allocations, so the drain alone would not move them. Runs
// that do not checkpoint are left to run: when the machine goes, Nomad
// reschedules them, and they start again from the beginning.
type PreemptWatcher struct {
	Source   NoticeSource
	Nomad    PreemptNomad
	NodeID   string
	NodeName string
	Pool     string
	// Interval is how often the notice is read; each read gets as long.
	Interval time.Duration
	Now      func() time.Time
	Log      *slog.Logger

	notices, moves, failures prometheus.Counter
	deadline                 prometheus.Gauge
}

// NewPreemptWatcher registers the watcher's metrics on reg.
func NewPreemptWatcher(w PreemptWatcher, reg prometheus.Registerer) (*PreemptWatcher, error) {
	labels := prometheus.Labels{"node": w.NodeName, "pool": w.Pool}
	w.notices = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_agent_preemption_notices_total",
		Help: "Preemption notices this spot machine received (at most one: the agent drains the node on the first).", ConstLabels: labels})
	w.moves = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_agent_preemption_moves_total",
		Help: "Checkpointing runs moved off this node ahead of its preemption.", ConstLabels: labels})
	w.failures = prometheus.NewCounter(prometheus.CounterOpts{Name: "caravan_agent_preemption_failures_total",
		Help: "Failed reads of the preemption notice, drains and moves.", ConstLabels: labels})
	w.deadline = prometheus.NewGauge(prometheus.GaugeOpts{Name: "caravan_agent_preemption_deadline_timestamp_seconds",
		Help: "When the cloud takes this machine back, as its notice said (0: no notice).", ConstLabels: labels})
	for _, c := range []prometheus.Collector{w.notices, w.moves, w.failures, w.deadline} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register preemption metrics: %w", err)
		}
	}
	if w.Now == nil {
		w.Now = time.Now
	}
	if w.Log == nil {
		w.Log = slog.New(slog.DiscardHandler)
	}
	return &w, nil
}

// Run polls until ctx ends or a notice has been acted on.
func (w *PreemptWatcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.Interval)
	defer t.Stop()
	for {
		if w.poll(ctx) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// poll reads the notice once and acts on it; it reports whether there
// was one.
func (w *PreemptWatcher) poll(ctx context.Context) bool {
	rctx, cancel := context.WithTimeout(ctx, w.Interval)
	at, ok, err := w.Source.Notice(rctx)
	cancel()
	if err != nil {
		w.failures.Inc()
		w.Log.Warn("reading the preemption notice failed", "err", err)
		return false
	}
	if !ok {
		return false
	}
	w.notices.Inc()
	w.deadline.Set(float64(at.Unix()))
	left := max(at.Sub(w.Now()), time.Second)
	w.Log.Warn("preemption notice: draining the node and moving its checkpointing runs", "node", w.NodeName, "at", at, "left", left)
	// The machine is going whatever happens here: a failed call is
	// logged and counted, and the rest still tried.
	actx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	if err := w.Nomad.DrainNode(actx, w.NodeID, left, map[string]string{"caravan": "preemption notice", "preempted_at": at.UTC().Format(time.RFC3339)}); err != nil {
		w.failures.Inc()
		w.Log.Error("draining the node ahead of its preemption failed", "node", w.NodeName, "err", err)
	}
	if err := w.moveAll(actx, at, left); err != nil {
		w.failures.Inc()
		w.Log.Error("moving runs ahead of the preemption failed", "node", w.NodeName, "err", err)
	}
	return true
}

// moveAll moves every running allocation of the node whose job declares a
// checkpoint grace, recording each move as the preemption's.
func (w *PreemptWatcher) moveAll(ctx context.Context, at time.Time, left time.Duration) error {
	allocs, err := w.Nomad.NodeAllocations(ctx, w.NodeID)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range allocs {
		if a.Job == nil || a.DesiredStatus != api.AllocDesiredStatusRun || a.ClientStatus != api.AllocClientStatusRunning && a.ClientStatus != api.AllocClientStatusPending {
			continue
		}
		grace, err := time.ParseDuration(a.Job.Meta[record.MetaCheckpointGrace])
		if err != nil || grace <= 0 {
			w.Log.Info("run left on the node: it does not checkpoint, so it will start again elsewhere when the machine goes", "alloc", a.ID, "job", a.JobID)
			continue
		}
		if grace > left {
			w.Log.Warn("run's checkpoint grace is longer than the notice: its checkpoint may not finish", "alloc", a.ID, "grace", grace, "left", left)
		}
		if err := w.moveOne(ctx, a, at); err != nil {
			errs = append(errs, err)
			continue
		}
		w.moves.Inc()
	}
	return errors.Join(errs...)
}

func (w *PreemptWatcher) moveOne(ctx context.Context, a *api.Allocation, at time.Time) error {
	meta := a.Job.Meta
	pool := meta[record.MetaPool]
	m := record.Move{At: w.Now().UTC(), By: record.MovedByPreemption, Reason: "spot machine preempted at " + at.UTC().Format(time.RFC3339),
		Running: true, FromNode: w.NodeName, FromAlloc: a.ID, FromPool: pool, ToPool: pool, GPUs: record.AllocGPUs(a)}
	t := nomad.MoveTarget{AvoidNode: w.NodeName, FromAlloc: a.ID, RequireCheckpoint: true}
	if run := meta[record.MetaRunID]; run != "" {
		ref := record.Ref{Namespace: a.Namespace, Project: meta[record.MetaProject], RunID: run}
		if w.fallBack(ctx, ref, meta) {
			t = nomad.MoveTarget{NodePool: meta[record.MetaSpotFallbackNodePool], Pool: meta[record.MetaSpotFallbackPool], FromAlloc: a.ID, RequireCheckpoint: true}
			m.ToPool = t.Pool
			m.Reason += fmt.Sprintf("; preempted %s times, it falls back to pool %s", meta[record.MetaSpotMaxPreemptions], t.Pool)
		}
		if err := w.Nomad.AddMove(ctx, ref, m); err != nil {
			return fmt.Errorf("record the move of run %s: %w", run, err)
		}
	}
	if _, err := w.Nomad.MoveJob(ctx, a.Namespace, a.JobID, t); err != nil {
		return fmt.Errorf("move run %s off %s: %w", a.JobID, w.NodeName, err)
	}
	w.Log.Info("moved run ahead of the preemption", "alloc", a.ID, "job", a.JobID, "node", w.NodeName, "to_pool", m.ToPool)
	return nil
}

// fallBack reports whether this preemption is the one after which the run
// leaves its spot pool for the pool's spot_fallback: it has been
// preempted spot_max_preemptions times, counting this one. A run whose
// moves cannot be read stays on spot machines.
func (w *PreemptWatcher) fallBack(ctx context.Context, ref record.Ref, meta map[string]string) bool {
	limit, err := strconv.Atoi(meta[record.MetaSpotMaxPreemptions])
	if err != nil || limit < 1 || meta[record.MetaSpotFallbackPool] == "" || meta[record.MetaSpotFallbackNodePool] == "" {
		return false
	}
	moves, _, err := w.Nomad.Moves(ctx, ref)
	if err != nil {
		w.Log.Warn("cannot count the run's preemptions: it stays on spot machines", "run", ref.RunID, "err", err)
		return false
	}
	n := 1
	for _, m := range moves {
		if m.By == record.MovedByPreemption {
			n++
		}
	}
	return n >= limit
}
