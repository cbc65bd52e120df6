package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/nomad"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// applyTarget starts a Terraform apply of target unless the state holds
// it already, an apply runs, or a failed one waits for its retry. New
// names are recorded as asked for even when the apply has to wait, so
// that the decisions meanwhile keep them; before the apply starts, the
// nodes it drops are checked for work once more and the names are
// written to the pool record (no apply when that write fails).
func (l *Loop) applyTarget(ctx context.Context, p *poolRun, target []string, now time.Time, t *term) error {
	l.notePending(p, target, now)
	// After a failure the apply is retried even when the state lists the
	// target: a resource whose creation failed is in state, tainted, and
	// only another apply replaces (or, when its machine runs, keeps) it.
	if slices.Equal(target, p.inState) && !missing(p.requested, p.inState) && p.failures == 0 && len(p.tainted) == 0 {
		return nil
	}
	if p.applying {
		return nil // the running apply is followed by a new decision
	}
	if now.Before(p.tf.NextRetryAt) {
		return nil
	}
	target, err := l.keepBusy(ctx, p, target)
	if err != nil {
		return err
	}
	if err := l.recordIntent(ctx, p, target); err != nil {
		return fmt.Errorf("pool %q: not applying: the names asked for could not be recorded first (a crash would leave machines nobody remembers): %w", p.name, err)
	}
	req := terraform.ApplyRequest{Nodes: target, Registered: registered(p.state), Fence: func(c context.Context) error { return l.fence(c, t) }}
	p.applying = true
	if l.cfg.SyncApply {
		res, err := l.apply(ctx, p, req)
		l.finishApply(ctx, applyDone{pool: p.name, term: t, target: target, res: res, err: err, at: l.cfg.Now()})
		return nil
	}
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		res, err := l.apply(ctx, p, req)
		select {
		case l.applied <- applyDone{pool: p.name, term: t, target: target, res: res, err: err, at: l.cfg.Now()}:
		case <-ctx.Done():
		}
	}()
	return nil
}

// notePending records the new names of target as asked for: a pending
// create keeps its name through failed applies and their backoff, until
// it is created or a decision abandons it (boot_timeout runs from here).
func (l *Loop) notePending(p *poolRun, target []string, now time.Time) {
	reg := nodeNames(p.state.Nodes)
	for _, n := range target {
		if _, ok := p.requested[n]; ok || slices.Contains(p.inState, n) || slices.Contains(reg, n) {
			continue
		}
		p.requested[n] = now
		p.dirty = true
	}
}

// keepBusy reads again, just before an apply, the allocations of every
// node the apply would drop: a node re-enabled by an operator (or one
// whose drain mark was lost) may have taken work since the observation.
// Such a node stays in the target, and its removal mark is dropped. A
// read that fails stops the apply: deciding blind could kill work.
func (l *Loop) keepBusy(ctx context.Context, p *poolRun, target []string) ([]string, error) {
	ids := map[string]string{}
	for _, n := range p.state.Nodes {
		ids[n.Name] = n.ID
	}
	var dropped []string
	for _, n := range p.inState {
		if !slices.Contains(target, n) {
			dropped = append(dropped, n)
		}
	}
	if len(dropped) == 0 {
		return target, nil
	}
	if err := l.idsOfLateNodes(ctx, dropped, ids); err != nil {
		return nil, fmt.Errorf("pool %q: not applying: %w", p.name, err)
	}
	out := target
	for _, n := range dropped {
		if ids[n] == "" {
			continue // never registered: nothing can run there
		}
		allocs, err := l.cfg.Nomad.NodeAllocations(ctx, ids[n])
		if errors.Is(err, nomad.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("pool %q: not applying: read the allocations of %s before removing it: %w", p.name, n, err)
		}
		if busy := activeWork(allocs); busy > 0 {
			l.log.Warn("not removing a node that runs work: it took allocations since the decision (re-enabled by an operator?); it stays",
				"pool", p.name, "node", n, "allocations", busy)
			l.met.keptBusy.WithLabelValues(p.name).Inc()
			out = append(slices.Clone(out), n)
			if _, ok := p.history.Removing[n]; ok {
				p.history.Removing = maps.Clone(p.history.Removing)
				delete(p.history.Removing, n)
				p.dirty = true
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// idsOfLateNodes adds to ids the Nomad IDs of dropped names that the
// observation did not show registered: a machine may register between
// the observation and the apply.
func (l *Loop) idsOfLateNodes(ctx context.Context, dropped []string, ids map[string]string) error {
	late := false
	for _, n := range dropped {
		if ids[n] == "" {
			late = true
		}
	}
	if !late {
		return nil
	}
	nodes, err := l.cfg.Nomad.Nodes(ctx)
	if err != nil {
		return fmt.Errorf("list the nodes before removing machines: %w", err)
	}
	for _, n := range nodes {
		if ids[n.Name] == "" && slices.Contains(dropped, n.Name) && n.Status != string(decide.NodeDown) {
			ids[n.Name] = n.ID
		}
	}
	return nil
}

// activeWork counts the allocations that hold a node (pending or
// running), system jobs aside.
func activeWork(allocs []*api.Allocation) int {
	n := 0
	for _, a := range allocs {
		if a != nil && active(a) && !isSystemJob(a) {
			n++
		}
	}
	return n
}

// registered are the names of the nodes that registered and are not down:
// their machines may run work.
func registered(ps decide.PoolState) []string {
	var out []string
	for _, n := range ps.Nodes {
		if n.Status != decide.NodeDown {
			out = append(out, n.Name)
		}
	}
	return out
}

// recordIntent writes the names an apply is about to ask for into the pool
// record before Terraform runs: a process killed mid-apply resumes with
// the same names instead of inventing new ones. Names abandoned before
// they were created are forgotten; a name on its way out of the state
// keeps its request time until the apply has removed it, since the apply
// may fail (or never start, when this write fails) and its boot clock
// must not start again.
func (l *Loop) recordIntent(ctx context.Context, p *poolRun, target []string) error {
	for n := range p.requested {
		if !slices.Contains(target, n) && !slices.Contains(p.inState, n) {
			delete(p.requested, n)
		}
	}
	p.dirty = true
	return l.save(ctx, p, true)
}

// finishApply records an apply's outcome; a failure schedules a retry with
// exponential backoff and says why. The outcome of an apply started in an
// earlier leadership is not this one's to record.
func (l *Loop) finishApply(ctx context.Context, done applyDone) {
	p := l.pools[done.pool]
	if done.term != l.active {
		return
	}
	p.applying = false
	l.met.applySeconds.WithLabelValues(p.name).Observe(done.res.Took.Seconds())
	if done.err != nil {
		l.applyFailed(ctx, p, done)
		return
	}
	before := p.inState
	p.inState, p.tainted = done.res.Nodes, nil
	added, removed := diff(before, p.inState)
	l.met.created.WithLabelValues(p.name).Add(float64(len(added)))
	l.met.removed.WithLabelValues(p.name).Add(float64(len(removed)))
	if p.failures > 0 {
		l.log.Info("terraform apply succeeded after failures", "pool", p.name, "failures", p.failures)
	}
	p.failures = 0
	p.tf = TerraformStatus{LastApply: done.at}
	if len(added)+len(removed) > 0 {
		l.log.Info("terraform applied", "pool", p.name, "added", added, "removed", removed, "nodes", p.inState, "took", done.res.Took.Round(time.Millisecond))
	}
	for _, n := range removed {
		delete(p.seen, n)
		delete(p.requested, n)
		delete(l.ids, n)
		if p.replacing[n] {
			delete(p.replacing, n)
			l.met.replaced.WithLabelValues(p.name).Inc()
		}
	}
	p.dirty = true
	_ = l.save(ctx, p, true)
}

// applyFailed schedules the retry of a failed apply and reads the state it
// left (a creation that failed half way is in it, tainted).
func (l *Loop) applyFailed(ctx context.Context, p *poolRun, done applyDone) {
	if errors.Is(done.err, errNotLeading) || done.term.ctx.Err() != nil {
		l.log.Info("terraform apply abandoned: the autoscaler lock was lost", "pool", p.name, "err", done.err)
		return
	}
	p.failures++
	back := l.cfg.BackoffMin << min(p.failures-1, 20)
	if back > l.cfg.BackoffMax || back <= 0 {
		back = l.cfg.BackoffMax
	}
	p.tf.Failures = p.failures
	p.tf.LastError = done.err.Error()
	p.tf.NextRetryAt = done.at.Add(back)
	l.met.applyFailures.WithLabelValues(p.name).Inc()
	l.log.Error("terraform apply failed; retrying", "pool", p.name, "attempt", p.failures, "retry_in", back, "err", done.err)
	if st, err := l.readState(ctx, p); err == nil {
		p.inState, p.tainted = st.Nodes, st.Tainted
	}
	l.wakeAt(p.tf.NextRetryAt)
	p.dirty = true
	_ = l.save(ctx, p, true)
}

// missing reports whether a requested name is not in state yet (an apply
// that failed or was cut short).
func missing(requested map[string]time.Time, inState []string) bool {
	for n := range requested {
		if !slices.Contains(inState, n) {
			return true
		}
	}
	return false
}

// apply runs one Terraform apply of req under ApplyTimeout.
func (l *Loop) apply(ctx context.Context, p *poolRun, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ApplyTimeout)
	defer cancel()
	return p.prov.ApplyWith(ctx, req)
}

// readState reads a pool's Terraform state under StateTimeout.
func (l *Loop) readState(ctx context.Context, p *poolRun) (terraform.NodeState, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StateTimeout)
	defer cancel()
	return p.prov.State(ctx)
}
