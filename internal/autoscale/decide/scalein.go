package decide

import (
	"slices"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// settlement is what became of the nodes caravan was draining.
type settlement struct {
	// removes are the drained, empty nodes taken out of Terraform's set;
	// reenable those that stay after all.
	removes, reenable []string
	why               []reason
}

// settleDrains decides the fate of the nodes still being drained once the
// queue was packed (those it landed on are eligible again already). An
// empty one is removed, unless another machine failed meanwhile and
// min_nodes needs it: keeping it is cheaper than booting a replacement.
// One that got work while draining keeps it and is re-enabled. live is
// the machines that stay before scale-in, created the new ones the queue
// needs.
func settleDrains(pl *spec.Pool, views []nodeView, live, created int, h *History, now time.Time) settlement {
	var s settlement
	for i := range views {
		v := &views[i]
		if v.role != roleDraining {
			continue
		}
		h.undrain(v.Name)
		switch {
		case v.Allocs == 0 && live-len(s.removes)-1+created < pl.MinNodes:
			s.why = append(s.why, reason{rule: ruleKeptForMinNodes, nodes: []string{v.Name}, limit: pl.MinNodes})
		case v.Allocs == 0:
			s.removes = append(s.removes, v.Name)
			h.remove(v.Name, now)
			continue
		default:
			s.why = append(s.why, reason{rule: ruleGotWork, nodes: []string{v.Name}})
		}
		s.reenable = append(s.reenable, v.Name)
		v.role = roleEligible
	}
	return s
}

// topUp is how many machines min_nodes asks for beyond the live ones that
// stay (live less removed) and the created ones the queue needs, within
// max_nodes.
func topUp(pl *spec.Pool, live, removed, created int) (short int, why []reason) {
	short = pl.MinNodes - (live - removed + created)
	if short > 0 && pl.MaxNodes > 0 {
		short = min(short, pl.MaxNodes-live-created)
	}
	if short <= 0 {
		return 0, nil
	}
	return short, []reason{{rule: ruleMinNodes, machines: short, limit: pl.MinNodes}}
}

// scaledIn is what scale-in decided.
type scaledIn struct {
	// drains are the empty nodes to mark ineligible and drain, in the
	// order they were chosen.
	drains []string
	// wake is when a node kept now falls due.
	wake time.Time
	why  []reason
}

// scaleIn drains empty nodes that no queued request was packed onto,
// longest idle first, while more than min_nodes machines remain
// (remaining counts them). A node idle for the pool's idle_timeout goes
// whatever the warm buffer wants; one idle for the grace (min_idle) goes
// if the free GPUs left without it still cover the warm buffer (buffer
// GPUs). The nodes kept say when to look again.
func (p Policy) scaleIn(pl *spec.Pool, views []nodeView, pk packing, remaining, buffer int, h *History, now time.Time) scaledIn {
	var out scaledIn
	var timedOut, early []string
	grace := p.scaleInGrace(pl)
	spare := spareGPUs(views, pk)
	for _, i := range idleCandidates(views, pk) {
		v := &views[i]
		since := idleSince(v.Node)
		idle := now.Sub(since)
		if remaining <= pl.MinNodes {
			break
		}
		timeout := pl.IdleTimeout > 0 && idle >= pl.IdleTimeout
		// A cordoned node's room is not in spare: it takes no work.
		after := spare
		if v.role == roleEligible {
			after -= v.Free().GPUs
		}
		unneeded := grace > 0 && idle >= grace && after >= buffer
		if !timeout && !unneeded {
			out.wake = earlier(out.wake, p.recheckAt(pl, since, idle >= grace, buffer, *h, now))
			continue
		}
		spare = after
		if timeout {
			timedOut = append(timedOut, v.Name)
		} else {
			early = append(early, v.Name)
		}
		out.drains = append(out.drains, v.Name)
		h.uncordon(v.Name)
		h.drain(v.Name, now)
		v.role = roleDraining
		remaining--
	}
	if len(timedOut) > 0 {
		out.why = append(out.why, reason{rule: ruleIdleTimeout, nodes: timedOut, after: pl.IdleTimeout})
	}
	if len(early) > 0 {
		out.why = append(out.why, reason{rule: ruleMinIdle, nodes: early, after: grace, limit: buffer})
	}
	return out
}

// recheckAt is when an idle node that scale-in kept (idle since since)
// should be looked at again: when idle_timeout or the grace falls due,
// or, once past the grace and kept for the warm buffer, when the buffer
// shrinks.
func (p Policy) recheckAt(pl *spec.Pool, since time.Time, pastGrace bool, buffer int, h History, now time.Time) time.Time {
	var at time.Time
	if pl.IdleTimeout > 0 {
		at = later(since.Add(pl.IdleTimeout), now)
	}
	if grace := p.scaleInGrace(pl); grace > 0 {
		at = earlier(at, later(since.Add(grace), now))
		if pastGrace && buffer > 0 {
			at = earlier(at, later(p.bufferShrinksAt(h, buffer), now))
		}
	}
	return at
}

// spareGPUs are the GPUs that can take new work at once, without another
// decision: free on eligible nodes and booting machines that no queued
// request was packed onto.
func spareGPUs(views []nodeView, pk packing) int {
	free := 0
	for _, v := range views {
		if v.role == roleEligible && !pk.used(v.bin) {
			free += v.Free().GPUs
		}
	}
	for i := pk.bootBin; i < pk.bootBin+pk.booting; i++ {
		if !pk.bins[i].used {
			free += pk.bins[i].free.GPUs
		}
	}
	return free
}

// idleCandidates are the empty eligible or cordoned nodes that no queued
// request was packed onto, longest idle first.
func idleCandidates(views []nodeView, pk packing) []int {
	cands := make([]int, 0, 8)
	for i, v := range views {
		if (v.role == roleEligible || v.role == roleCordoned) && v.Allocs == 0 && !pk.used(v.bin) {
			cands = append(cands, i)
		}
	}
	slices.SortFunc(cands, func(a, b int) int {
		if c := idleSince(views[a].Node).Compare(idleSince(views[b].Node)); c != 0 {
			return c
		}
		return strings.Compare(views[a].Name, views[b].Name)
	})
	return cands
}
