package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// act carries out one decision: Nomad node operations first, then the
// Terraform apply of the target set (in the background unless SyncApply).
//
// The marks caravan keeps on nodes (cordoned, draining, removing) must
// never miss a node caravan made ineligible: such a node would pass for an
// operator's cordon and be kept, and paid for, for ever. So before any
// node operation the record is written with the marks of both the old and
// the new History; a node marked there but never touched is eligible, and
// the next decision drops its mark. No operation happens when that write
// fails.
func (l *Loop) act(ctx context.Context, p *poolRun, d decide.Decision, now time.Time, t *term) error {
	prev := p.history
	if hasNodeOps(d.Actions) {
		p.history = withMarksOf(d.History, prev)
		p.dirty = true
		if err := l.save(ctx, p, true); err != nil {
			p.history = prev
			return fmt.Errorf("pool %q: not acting: the node marks could not be recorded first: %w", p.name, err)
		}
	}
	failed, err := l.nodeOps(ctx, p, d.Actions, t)
	if mErr := l.moves(ctx, p, d.Actions, failed, t); mErr != nil {
		// The node stays cordoned and runs dry by itself; the next
		// decision may move what is left once the grace has passed.
		l.log.Warn("moves failed", "pool", p.name, "err", mErr)
	}
	hist := d.History
	if len(failed) > 0 {
		hist.Cordoned, hist.Draining = maps.Clone(hist.Cordoned), maps.Clone(hist.Draining)
		for n, kind := range failed {
			if kind == decide.MarkEligible {
				// Still ineligible (or draining): still caravan's.
				restoreMark(&hist, prev, n)
				continue
			}
			// Forget marks that did not happen, so the next decision
			// does not take a node for drained that Nomad never drained.
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
	return l.applyTarget(ctx, p, d.TargetNodes, now, t)
}

func hasNodeOps(actions []decide.Action) bool {
	for _, a := range actions {
		switch a.Kind {
		case decide.MarkEligible, decide.MarkIneligible, decide.Drain, decide.Move:
			return true
		}
	}
	return false
}

// withMarksOf is h with the marks of old added where h has none.
func withMarksOf(h, old decide.History) decide.History {
	merge := func(a, b map[string]time.Time) map[string]time.Time {
		out := maps.Clone(b)
		if out == nil {
			out = map[string]time.Time{}
		}
		maps.Copy(out, a)
		return out
	}
	h.Cordoned, h.Draining, h.Removing = merge(h.Cordoned, old.Cordoned), merge(h.Draining, old.Draining), merge(h.Removing, old.Removing)
	return h
}

// restoreMark puts back the mark prev had on n (h's maps are its own).
func restoreMark(h *decide.History, prev decide.History, n string) {
	if at, ok := prev.Cordoned[n]; ok {
		if h.Cordoned == nil {
			h.Cordoned = map[string]time.Time{}
		}
		h.Cordoned[n] = at
	}
	if at, ok := prev.Draining[n]; ok {
		if h.Draining == nil {
			h.Draining = map[string]time.Time{}
		}
		h.Draining[n] = at
	}
}

// nodeOps performs the Nomad side of actions (eligibility and drains) on
// the nodes Nomad knows, and counts the machines replaced. It returns the
// nodes whose operation failed, with the kind of the operation, and the
// errors.
func (l *Loop) nodeOps(ctx context.Context, p *poolRun, actions []decide.Action, t *term) (map[string]decide.ActionKind, error) {
	var errs []error
	failed := map[string]decide.ActionKind{}
	for _, a := range actions {
		for _, n := range a.Nodes {
			id := l.ids[n]
			if id == "" {
				continue
			}
			var err error
			if (a.Kind == decide.MarkEligible || a.Kind == decide.MarkIneligible || a.Kind == decide.Drain) && !l.holds(t) {
				failed[n] = a.Kind
				errs = append(errs, fmt.Errorf("pool %q: %s node %s: %w", p.name, a.Kind, n, errNotLeading))
				continue
			}
			// Bounded like a renewal: an operation cannot be on its way
			// to Nomad for longer than it takes a standby to take over.
			opCtx, cancel := context.WithTimeout(ctx, l.cfg.LeaderPoll)
			switch a.Kind {
			case decide.MarkEligible:
				if nodeDraining(p.state, n) {
					err = l.cfg.Nomad.CancelDrain(opCtx, id, true)
				} else {
					err = l.cfg.Nomad.SetEligibility(opCtx, id, true)
				}
			case decide.MarkIneligible:
				err = l.cfg.Nomad.SetEligibility(opCtx, id, false)
			case decide.Drain:
				err = l.cfg.Nomad.DrainNode(opCtx, id, a.Deadline, map[string]string{"caravan": "scale-in", "caravan_reason": a.Reason})
			}
			cancel()
			if a.Kind != decide.MarkEligible && a.Kind != decide.MarkIneligible && a.Kind != decide.Drain {
				continue
			}
			if err != nil {
				failed[n] = a.Kind
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
	return failed, errors.Join(errs...)
}
