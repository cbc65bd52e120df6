package decide

import (
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// classify gives each registered node its role, from its Nomad status and
// the marks caravan keeps in h; marked counts the marks that name a node
// in view, so that forgetStale can skip its search when none is stale.
func classify(nodes []Node, h History) (views []nodeView, marked int) {
	views = make([]nodeView, 0, len(nodes))
	for k := range nodes {
		n := &nodes[k]
		_, cordoned := h.Cordoned[n.Name]
		_, draining := h.Draining[n.Name]
		_, removing := h.Removing[n.Name]
		if cordoned {
			marked++
		}
		if draining {
			marked++
		}
		if removing {
			marked++
			// Like a drain mark, a removal mark holds only while the
			// node stays drained and empty: one an operator re-enabled
			// (after a removal apply failed), or that took work, is no
			// longer being removed, and forgetStale drops the mark.
			removing = n.Allocs == 0 && !n.Eligible
		}
		views = append(views, nodeView{Node: n, bin: -1, role: roleOf(n, cordoned, draining, removing)})
	}
	return views, marked
}

// roleOf is one node's role, given which of caravan's marks it carries.
func roleOf(n *Node, cordoned, draining, removing bool) nodeRole {
	switch {
	case removing:
		// Checked first: a machine Terraform is destroying goes down,
		// which is no failure to count or replace.
		return roleRemoving
	case n.Status == NodeDown:
		return roleFailed
	case n.Status == NodeDisconnected:
		// Nomad only reports a node disconnected when its allocations
		// asked to survive a disconnection; they may still run there.
		// Left alone until Nomad gives up on it and marks it down.
		return roleForeign
	case n.Misplaced && !n.Eligible && !n.Draining && n.Allocs == 0:
		// Another node pool's node, drained by an operator: the one
		// way to have caravan remove it.
		return roleFailed
	case n.Misplaced:
		return roleForeign
	case n.Status != NodeReady:
		return roleStarting
	case draining && !n.Eligible:
		return roleDraining
	case cordoned && !n.Eligible:
		return roleCordoned
	case !n.Eligible || n.Draining:
		return roleForeign
	}
	return roleEligible
}

// forgetStale drops the marks that no longer hold: those on nodes that
// left Nomad's view, a cordon mark on a node caravan no longer holds
// cordoned, and a drain mark on a node that is not being drained (an
// operator made it eligible again, or the marks outlived a lost drain),
// and a removal mark on a node that is eligible again or runs work (see
// classify). Such a node may take work at any moment, so it is never
// removed on the strength of the old mark. Other removal marks stay while
// the node is in view: Terraform is destroying it.
func forgetStale(views []nodeView, marked int, h *History) {
	if marked != len(h.Cordoned)+len(h.Draining)+len(h.Removing) {
		for n := range h.Cordoned {
			if findView(views, n) < 0 {
				h.uncordon(n)
			}
		}
		for n := range h.Draining {
			if findView(views, n) < 0 {
				h.undrain(n)
			}
		}
		for n := range h.Removing {
			if findView(views, n) < 0 {
				h.unremove(n)
			}
		}
	}
	for _, v := range views {
		if _, ok := h.Cordoned[v.Name]; ok && v.role != roleCordoned && v.role != roleDraining {
			h.uncordon(v.Name)
		}
		if _, ok := h.Draining[v.Name]; ok && v.role != roleDraining && v.role != roleFailed {
			h.undrain(v.Name)
		}
		if _, ok := h.Removing[v.Name]; ok && v.role != roleRemoving {
			h.unremove(v.Name)
		}
	}
}

// failures are the machines a decision replaces and the ones it keeps
// waiting for.
type failures struct {
	// booting are the machines still within boot_timeout.
	booting []Machine
	// failed are the names to take out of Terraform's set: machines not
	// registered within boot_timeout, then nodes that are down.
	failed []string
	// wake is when the next boot_timeout falls due.
	wake time.Time
	why  []reason
}

// findFailed sorts the booting machines into those still within the
// pool's boot_timeout and those past it, and adds the nodes that are down.
func findFailed(pl *spec.Pool, booting []Machine, views []nodeView, now time.Time) failures {
	var f failures
	for _, m := range booting {
		if pl.BootTimeout > 0 && now.Sub(m.RequestedAt) >= pl.BootTimeout {
			f.failed = append(f.failed, m.Name)
			continue
		}
		f.booting = append(f.booting, m)
		if pl.BootTimeout > 0 {
			f.wake = earlier(f.wake, later(m.RequestedAt.Add(pl.BootTimeout), now))
		}
	}
	if len(f.failed) > 0 {
		f.why = append(f.why, reason{rule: ruleBootTimeout, nodes: f.failed, after: pl.BootTimeout})
	}
	var down, misplaced []string
	for _, v := range views {
		switch {
		case v.role != roleFailed:
		case v.Misplaced && v.Status != NodeDown:
			misplaced = append(misplaced, v.Name)
		default:
			down = append(down, v.Name)
		}
	}
	if len(down) > 0 {
		f.why = append(f.why, reason{rule: ruleDown, nodes: down})
		f.failed = append(f.failed, down...)
	}
	if len(misplaced) > 0 {
		f.why = append(f.why, reason{rule: ruleMisplacedDrained, nodes: misplaced})
		f.failed = append(f.failed, misplaced...)
	}
	return f
}
