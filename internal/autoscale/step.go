package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// Step observes, decides and acts once, if this process leads. trigger is
// when the event that caused it arrived (for the decision latency
// metric). Everything it does runs under the leadership's context: when
// the lock is lost the step is abandoned where it stands.
func (l *Loop) Step(ctx context.Context, trigger time.Time) error {
	t := l.current()
	if t == nil {
		return nil
	}
	if t != l.active {
		l.begin(t)
	}
	ctx = l.scoped(ctx, t)
	l.ensurePublished(ctx)
	now := l.cfg.Now()
	in, errs := l.inputs(ctx, now)
	if len(in) == 0 {
		return errors.Join(errs...)
	}
	st, views, err := l.obs.Observe(ctx, now, in)
	if err != nil {
		if t.ctx.Err() != nil {
			return errors.Join(append(errs, fmt.Errorf("decision abandoned: %w", errNotLeading))...)
		}
		l.met.observeErrors.Inc()
		// Deciding on an old picture could remove a node that took work
		// since: with Nomad unreachable, nothing is decided at all.
		l.nextAt = now.Add(l.cfg.BackoffMin)
		return errors.Join(append(errs, fmt.Errorf("nomad unreachable or failing, not deciding (no scale-in on stale data): %w", err))...)
	}
	for _, name := range l.names {
		if ps, ok := st.Pools[name]; ok {
			l.absorb(ctx, l.pools[name], ps, views[name], now)
		}
	}
	decisions := l.policy.Decide(st)
	l.met.decision.Observe(max(time.Since(trigger), 0).Seconds())
	l.nextAt = time.Time{}
	for _, d := range decisions {
		if t.ctx.Err() != nil {
			return errors.Join(append(errs, fmt.Errorf("decisions abandoned from pool %q on: %w", d.Pool, errNotLeading))...)
		}
		p := l.pools[d.Pool]
		l.report(p, d, now)
		if l.cfg.DryRun {
			l.printDry(p, d)
			continue
		}
		if err := l.act(ctx, p, d, now, t); err != nil {
			errs = append(errs, err)
		}
		p.wakeAt = d.WakeAt
		l.wakeAt(d.WakeAt)
		if !p.tf.NextRetryAt.IsZero() {
			l.wakeAt(p.tf.NextRetryAt)
		}
		_ = l.save(ctx, p, false)
	}
	return errors.Join(errs...)
}

// inputs loads the pools not loaded yet in this leadership and returns
// what Observe needs of each.
func (l *Loop) inputs(ctx context.Context, now time.Time) (map[string]PoolInput, []error) {
	var errs []error
	in := map[string]PoolInput{}
	for _, name := range l.names {
		p := l.pools[name]
		if !p.loaded {
			if err := l.load(ctx, p, now); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		in[name] = PoolInput{Pool: p.pool, InState: p.inState, Requested: p.requested, Seen: p.seen, History: p.history}
	}
	return in, errs
}

// absorb takes in what Observe saw of a pool: node IDs, when names first
// registered, names no longer booting, and when caravan first saw a
// booting name it has no request time for.
func (l *Loop) absorb(ctx context.Context, p *poolRun, ps decide.PoolState, view PoolView, now time.Time) {
	p.view, p.state = view, ps
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
	for _, m := range ps.Booting {
		// A name in state that no record asked for (the record was
		// lost, or its write failed): its boot clock starts now, once,
		// and is kept in the record like a request time, so that
		// boot_timeout falls due instead of restarting at every
		// observation.
		if _, ok := p.requested[m.Name]; !ok {
			p.requested[m.Name] = m.RequestedAt
			p.dirty = true
		}
	}
	l.reportMisplaced(p)
	l.account(ctx, p, now)
}

func (l *Loop) wakeAt(t time.Time) {
	if !t.IsZero() && (l.nextAt.IsZero() || t.Before(l.nextAt)) {
		l.nextAt = t
	}
}

// load reads a pool's record and Terraform state, to resume where the
// previous leader (or this process before a restart) left off, and claims
// the record for this leadership before anything is decided.
func (l *Loop) load(ctx context.Context, p *poolRun, now time.Time) error {
	t := l.active
	rec, ok, idx, err := loadPoolRecord(ctx, l.cfg.Nomad, l.cfg.Namespace, p.name)
	if err != nil {
		return fmt.Errorf("pool %q: %w", p.name, err)
	}
	if ok && l.cfg.Leader != nil && rec.LeaderToken > t.token {
		l.endTerm(t, fmt.Sprintf("%s holds the pool record of %s under a later lock", rec.Holder, p.name))
		return fmt.Errorf("pool %q: %w", p.name, errNotLeading)
	}
	st, err := l.readState(ctx, p)
	if err != nil {
		return fmt.Errorf("pool %q: read Terraform state: %w", p.name, err)
	}
	p.inState, p.tainted, p.recordIndex = st.Nodes, st.Tainted, idx
	p.requested, p.seen = map[string]time.Time{}, map[string]time.Time{}
	if ok {
		p.history = rec.History
		p.last = rec.Last
		p.tf = rec.Terraform
		p.failures = rec.Terraform.Failures
		maps.Copy(p.requested, rec.Requested)
		maps.Copy(p.seen, rec.Seen)
		if len(p.requested) > 0 {
			l.log.Info("resuming: machines asked for before a restart are kept under their names", "pool", p.name, "requested", slices.Sorted(maps.Keys(p.requested)))
		}
	}
	if p.cost == nil {
		date := now.UTC().Format(time.DateOnly)
		var c CostRecord
		if found, cidx, err := loadJSON(ctx, l.cfg.Nomad, l.cfg.Namespace, costPath(p.name, date), &c); err == nil && found {
			p.cost, p.costIndex = &c, cidx
		}
	}
	if err := l.claim(ctx, p, t, rec, ok, now); err != nil {
		return err
	}
	p.loaded = true
	return nil
}

// reportMisplaced logs, once a leadership, each machine of the pool that
// registered with another node pool, and sets its gauge.
func (l *Loop) reportMisplaced(p *poolRun) {
	l.met.misplaced.WithLabelValues(p.name).Set(float64(len(p.view.Misplaced)))
	for _, m := range p.view.Misplaced {
		if p.misplacedWarned[m.Name] {
			continue
		}
		p.misplacedWarned[m.Name] = true
		l.log.Warn("a machine of this pool registered with another node pool: kept, not counted as the pool's capacity; "+
			"make the module register its clients in the pool's node_pool (caravan passes it as the node_pool variable), "+
			"then drain the node in Nomad and caravan removes it once it is empty",
			"pool", p.name, "node", m.Name, "registered_node_pool", m.NodePool, "pool_node_pool", nodePoolOf(p.name, p.pool), "allocations", m.Allocs)
	}
}
