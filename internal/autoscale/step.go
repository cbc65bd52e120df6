package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// Step observes, decides and acts once. trigger is when the event that
// caused it arrived (for the decision latency metric).
func (l *Loop) Step(ctx context.Context, trigger time.Time) error {
	now := l.cfg.Now()
	var errs []error
	in := map[string]PoolInput{}
	for _, name := range l.names {
		p := l.pools[name]
		if !p.loaded {
			if err := l.load(ctx, p); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		in[name] = PoolInput{Pool: p.pool, InState: p.inState, Requested: p.requested, Seen: p.seen, History: p.history}
	}
	if len(in) == 0 {
		return errors.Join(errs...)
	}
	st, views, err := l.obs.Observe(ctx, now, in)
	if err != nil {
		l.met.observeErrors.Inc()
		// Deciding on an old picture could remove a node that took work
		// since: with Nomad unreachable, nothing is decided at all.
		l.nextAt = now.Add(l.cfg.BackoffMin)
		return errors.Join(append(errs, fmt.Errorf("nomad unreachable or failing, not deciding (no scale-in on stale data): %w", err))...)
	}
	for _, name := range l.names {
		if ps, ok := st.Pools[name]; ok {
			p := l.pools[name]
			p.view, p.state = views[name], ps
			for _, n := range ps.Nodes {
				l.ids[n.Name] = n.ID
				if _, ok := p.seen[n.Name]; !ok {
					p.seen[n.Name] = now
					p.dirty = true
				}
				if _, ok := p.requested[n.Name]; ok {
					delete(p.requested, n.Name)
					p.dirty = true
				}
			}
			l.account(ctx, p, now)
		}
	}
	decisions := l.policy.Decide(st)
	l.met.decision.Observe(max(time.Since(trigger), 0).Seconds())
	l.nextAt = time.Time{}
	for _, d := range decisions {
		p := l.pools[d.Pool]
		l.report(p, d, now)
		if l.cfg.DryRun {
			l.printDry(p, d)
			continue
		}
		if err := l.act(ctx, p, d, now); err != nil {
			errs = append(errs, err)
		}
		p.wakeAt = d.WakeAt
		l.wakeAt(d.WakeAt)
		if !p.tf.NextRetryAt.IsZero() {
			l.wakeAt(p.tf.NextRetryAt)
		}
		l.save(ctx, p, false)
	}
	return errors.Join(errs...)
}

func (l *Loop) wakeAt(t time.Time) {
	if !t.IsZero() && (l.nextAt.IsZero() || t.Before(l.nextAt)) {
		l.nextAt = t
	}
}

// load reads a pool's record and Terraform state, to resume where the
// previous leader (or this process before a restart) left off.
func (l *Loop) load(ctx context.Context, p *poolRun) error {
	rec, ok, err := LoadPoolRecord(ctx, l.cfg.Nomad, l.cfg.Namespace, p.name)
	if err != nil {
		return fmt.Errorf("pool %q: %w", p.name, err)
	}
	names, err := l.readState(ctx, p)
	if err != nil {
		return fmt.Errorf("pool %q: read Terraform state: %w", p.name, err)
	}
	p.inState = names
	p.requested, p.seen = map[string]time.Time{}, map[string]time.Time{}
	if ok {
		p.history = rec.History
		p.last = rec.Last
		p.tf = rec.Terraform
		p.failures = rec.Terraform.Failures
		for k, v := range rec.Requested {
			p.requested[k] = v
		}
		for k, v := range rec.Seen {
			p.seen[k] = v
		}
		if len(p.requested) > 0 {
			l.log.Info("resuming: machines asked for before a restart are kept under their names", "pool", p.name, "requested", slices.Sorted(maps.Keys(p.requested)))
		}
	}
	if p.cost == nil {
		date := l.cfg.Now().UTC().Format(time.DateOnly)
		var c CostRecord
		if ok, err := loadJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, costPath(p.name, date), &c); err == nil && ok {
			p.cost = &c
		}
	}
	p.loaded = true
	return nil
}

// act carries out one decision: Nomad node operations first, then the
// Terraform apply of the target set (in the background unless SyncApply).
func (l *Loop) act(ctx context.Context, p *poolRun, d decide.Decision, now time.Time) error {
	failedNodes, err := l.nodeOps(ctx, p, d.Actions)
	hist := d.History
	if len(failedNodes) > 0 {
		// Forget marks that did not happen, so the next decision does
		// not take a node for drained that Nomad never drained.
		hist.Cordoned, hist.Draining = maps.Clone(hist.Cordoned), maps.Clone(hist.Draining)
		for n := range failedNodes {
			delete(hist.Draining, n)
			delete(hist.Cordoned, n)
		}
		p.history = hist
		p.dirty = true
		return err
	}
	p.history = hist
	if d.Changed() {
		p.dirty = true
	}
	l.applyTarget(ctx, p, d.TargetNodes, now)
	return nil
}

// nodeOps performs the Nomad side of actions (eligibility and drains) on
// the nodes Nomad knows, and counts the machines replaced. It returns the
// nodes whose operation failed, with the errors.
func (l *Loop) nodeOps(ctx context.Context, p *poolRun, actions []decide.Action) (map[string]bool, error) {
	var errs []error
	failedNodes := map[string]bool{}
	for _, a := range actions {
		for _, n := range a.Nodes {
			id := l.ids[n]
			if id == "" {
				continue
			}
			var err error
			switch a.Kind {
			case decide.MarkEligible:
				if nodeDraining(p.state, n) {
					err = l.cfg.Nomad.CancelDrain(ctx, id, true)
				} else {
					err = l.cfg.Nomad.SetEligibility(ctx, id, true)
				}
			case decide.MarkIneligible:
				err = l.cfg.Nomad.SetEligibility(ctx, id, false)
			case decide.Drain:
				err = l.cfg.Nomad.DrainNode(ctx, id, a.Deadline, map[string]string{"caravan": "scale-in", "caravan_reason": a.Reason})
			default:
				continue
			}
			if err != nil {
				failedNodes[n] = true
				errs = append(errs, fmt.Errorf("pool %q: %s node %s: %w", p.name, a.Kind, n, err))
			}
		}
		if a.Kind == decide.Replace {
			for _, n := range a.Nodes {
				// Decisions repeat while the apply runs: count once.
				if !p.replacing[n] {
					p.replacing[n] = true
					l.met.failed.WithLabelValues(p.name).Inc()
					l.log.Warn("machine failed; replacing it", "pool", p.name, "node", n, "reason", a.Reason)
				}
			}
		}
	}
	return failedNodes, errors.Join(errs...)
}

// applyTarget starts a Terraform apply of target unless the state holds
// it already, an apply runs, or a failed one waits for its retry. The
// names asked for are recorded first.
func (l *Loop) applyTarget(ctx context.Context, p *poolRun, target []string, now time.Time) {
	// After a failure the apply is retried even when the state lists the
	// target: a resource whose creation failed is in state, tainted, and
	// only another apply replaces it.
	if slices.Equal(target, p.inState) && !missing(p.requested, p.inState) && p.failures == 0 {
		return
	}
	if p.applying {
		return // the running apply is followed by a new decision
	}
	if now.Before(p.tf.NextRetryAt) {
		return
	}
	l.recordIntent(ctx, p, target, now)
	p.applying = true
	if l.cfg.SyncApply {
		res, err := l.apply(ctx, p, target)
		l.finishApply(ctx, applyDone{pool: p.name, target: target, res: res, err: err, at: l.cfg.Now()})
		return
	}
	l.running.Add(1)
	go func() {
		defer l.running.Done()
		res, err := l.apply(ctx, p, target)
		select {
		case l.applied <- applyDone{pool: p.name, target: target, res: res, err: err, at: l.cfg.Now()}:
		case <-ctx.Done():
		}
	}()
}

// recordIntent writes the names an apply is about to ask for into the pool
// record before Terraform runs: a process killed mid-apply resumes with
// the same names instead of inventing new ones.
func (l *Loop) recordIntent(ctx context.Context, p *poolRun, target []string, now time.Time) {
	inTarget := map[string]bool{}
	for _, n := range target {
		inTarget[n] = true
		if !slices.Contains(p.inState, n) {
			if _, ok := p.requested[n]; !ok && !slices.Contains(nodeNames(p.state.Nodes), n) {
				p.requested[n] = now
			}
		}
	}
	for n := range p.requested {
		if !inTarget[n] {
			delete(p.requested, n)
		}
	}
	p.dirty = true
	l.save(ctx, p, true)
}

// finishApply records an apply's outcome; a failure schedules a retry with
// exponential backoff and says why.
func (l *Loop) finishApply(ctx context.Context, done applyDone) {
	p := l.pools[done.pool]
	p.applying = false
	l.met.applySeconds.WithLabelValues(p.name).Observe(done.res.Took.Seconds())
	if done.err != nil {
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
		if names, err := l.readState(ctx, p); err == nil {
			p.inState = names
		}
		l.wakeAt(p.tf.NextRetryAt)
		p.dirty = true
		l.save(ctx, p, true)
		return
	}
	before := p.inState
	p.inState = done.res.Nodes
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
		delete(l.ids, n)
		if p.replacing[n] {
			delete(p.replacing, n)
			l.met.replaced.WithLabelValues(p.name).Inc()
		}
	}
	p.dirty = true
	l.save(ctx, p, true)
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

// apply runs one Terraform apply of target under ApplyTimeout.
func (l *Loop) apply(ctx context.Context, p *poolRun, target []string) (terraform.ApplyResult, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.ApplyTimeout)
	defer cancel()
	return p.prov.Apply(ctx, target)
}

// readState reads the node names in a pool's state under StateTimeout.
func (l *Loop) readState(ctx context.Context, p *poolRun) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, l.cfg.StateTimeout)
	defer cancel()
	return p.prov.Nodes(ctx)
}
