package decide

import (
	"math"

	"github.com/caravan-ml/caravan/internal/spec"
)

// demand is the queue as Decide packs it.
type demand struct {
	// fits are the requests one node of the pool can hold, sorted for
	// first-fit decreasing.
	fits []Request
	// unschedulable are those that fit no node: reported, not scaled for.
	unschedulable []Request
	why           []reason
}

// splitDemand sorts a copy of the queue for first-fit decreasing and sets
// apart the requests that even an empty node of the pool cannot hold.
func splitDemand(pending []Request, newCap Resources) demand {
	var dem demand
	sorted := append([]Request(nil), pending...)
	sortDecreasing(sorted)
	for _, r := range sorted {
		if !newCap.Fits(r.Resources) {
			dem.unschedulable = append(dem.unschedulable, r)
			continue
		}
		dem.fits = append(dem.fits, r)
	}
	if len(dem.unschedulable) > 0 {
		dem.why = append(dem.why, reason{rule: ruleUnschedulable, requests: len(dem.unschedulable)})
	}
	return dem
}

// packing is where the queue goes.
type packing struct {
	// bins are the places requests were packed into: first the live
	// nodes (views[i].bin is a node's), then the booting machines, from
	// bootBin on, then the new machines.
	bins    []bin
	bootBin int
	booting int
	// created is how many new machines the queue needs, and waiting how
	// many requests find no room within max_nodes.
	created, waiting int
	why              []reason
}

// pack packs the queue, first fit, into the room the pool already has and
// then into new machines, as many as max_nodes allows beyond the live
// ones. The order of bins is the order of preference: eligible nodes
// first (Nomad places there itself once room frees), then cordoned nodes
// (back in a second, and already paid for; oldest work first), then nodes
// being scaled in, then nodes still starting, then machines on their way,
// and only then new machines.
func pack(pl *spec.Pool, views []nodeView, booting []Machine, fits []Request, live int) packing {
	newCap := NodeCapacity(pl)
	bins := make([]bin, 0, len(views)+len(booting)+4)
	addBin := func(i int, free Resources) {
		views[i].bin = len(bins)
		bins = append(bins, bin{free: free})
	}
	for i, v := range views {
		if v.role == roleEligible {
			addBin(i, v.Free())
		}
	}
	for _, i := range orderBy(views, roleCordoned, olderWork) {
		addBin(i, views[i].Free())
	}
	for _, i := range orderBy(views, roleDraining, func(a, b nodeView) bool { return a.Allocs < b.Allocs }) {
		addBin(i, views[i].Free())
	}
	for i, v := range views {
		if v.role == roleStarting {
			addBin(i, v.Total)
		}
	}
	out := packing{bootBin: len(bins), booting: len(booting)}
	for range booting {
		bins = append(bins, bin{free: newCap})
	}

	maxNew := math.MaxInt32
	if pl.MaxNodes > 0 {
		maxNew = max(pl.MaxNodes-live, 0)
	}
	misplaced := misplacedNodes(views)
	if len(misplaced) > 0 {
		// The pool's machines join another node pool: a new one would
		// too, paid for and of no use to the queue.
		maxNew = 0
	}
	pk := newPacker(bins, newCap, maxNew)
	floors := suffixMin(fits)
	for i, r := range fits {
		var floor Resources
		if i+1 < len(fits) {
			floor = floors[i+1]
		}
		if pk.place(r.Resources, floor) < 0 {
			out.waiting++
		}
	}
	out.bins, out.created = pk.bins, pk.created()
	switch {
	case out.waiting > 0 && len(misplaced) > 0:
		out.why = append(out.why, reason{rule: ruleMisplacedHold, requests: out.waiting, nodes: misplaced})
	case out.waiting > 0:
		out.why = append(out.why, reason{rule: ruleMaxNodes, requests: out.waiting, limit: pl.MaxNodes})
	}
	return out
}

// misplacedNodes are the pool's machines that registered with another
// node pool and stay (not down, not being removed).
func misplacedNodes(views []nodeView) []string {
	var out []string
	for _, v := range views {
		if v.Misplaced && v.role == roleForeign {
			out = append(out, v.Name)
		}
	}
	return out
}

// used reports whether a queued request was packed onto bin i (-1: none).
func (pk packing) used(i int) bool { return i >= 0 && pk.bins[i].used }

// reenabled are the nodes a phase makes eligible again.
type reenabled struct {
	nodes []string
	why   []reason
}

// reenablePacked makes eligible again the cordoned and draining nodes
// that queued work was packed onto: they are paid for already, and back
// in a second where a new machine takes minutes.
func reenablePacked(views []nodeView, bins []bin, h *History) reenabled {
	var out reenabled
	for i := range views {
		v := &views[i]
		if v.bin < 0 || !bins[v.bin].used {
			continue
		}
		switch v.role {
		case roleCordoned:
			h.uncordon(v.Name)
		case roleDraining:
			h.undrain(v.Name)
		default:
			continue
		}
		out.nodes = append(out.nodes, v.Name)
		v.role = roleEligible
	}
	if len(out.nodes) > 0 {
		out.why = append(out.why, reason{rule: ruleReenable, nodes: out.nodes})
	}
	return out
}
