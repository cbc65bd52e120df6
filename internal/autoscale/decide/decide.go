package decide

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// Decide returns one Decision per pool of s, sorted by pool name, using
// DefaultPolicy. It is pure: the same State gives the same Decisions.
func Decide(s State) []Decision { return DefaultPolicy().Decide(s) }

// Decide is Decide with the tunables of p.
func (p Policy) Decide(s State) []Decision {
	names := make([]string, 0, len(s.Pools))
	for n := range s.Pools {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Decision, 0, len(names))
	for _, n := range names {
		out = append(out, p.DecidePool(n, s.Pools[n], s.Now))
	}
	return out
}

// DecidePool decides for one pool. It is exported for the simulator, which
// drives one pool at a time.
func (p Policy) DecidePool(name string, ps PoolState, now time.Time) Decision {
	pl := ps.Pool
	if pl == nil {
		pl = &spec.Pool{Name: name}
	}
	d := Decision{Pool: name}
	mem := ps.History
	// Copy-on-write: most decisions change no mark, and copying the maps
	// on every call dominated the simulator's profile.
	mem.Cordoned, mem.Draining, mem.Removing = ps.History.Cordoned, ps.History.Draining, ps.History.Removing
	mem.shared = true
	newCap := NodeCapacity(pl)
	var reasons []string
	var wake time.Time
	wakeAt := func(t time.Time) {
		if t.After(now) && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}

	// Classify what exists.
	views := make([]nodeView, 0, len(ps.Nodes))
	seenMarks := 0
	for k := range ps.Nodes {
		n := &ps.Nodes[k]
		v := nodeView{Node: n, bin: -1}
		_, cordoned := mem.Cordoned[n.Name]
		_, draining := mem.Draining[n.Name]
		if cordoned {
			seenMarks++
		}
		if draining {
			seenMarks++
		}
		_, removing := mem.Removing[n.Name]
		if removing {
			seenMarks++
		}
		switch {
		case removing:
			// Checked first: a machine Terraform is destroying goes
			// down, which is no failure to count or replace.
			v.role = roleRemoving
		case n.Status == NodeDown:
			v.role = roleFailed
		case n.Status == NodeDisconnected:
			// Nomad only reports a node disconnected when its allocations
			// asked to survive a disconnection; they may still run there.
			// Left alone until Nomad gives up on it and marks it down.
			v.role = roleForeign
		case n.Status != NodeReady:
			v.role = roleStarting
		case draining && !n.Eligible:
			v.role = roleDraining
		case cordoned && !n.Eligible:
			v.role = roleCordoned
		case !n.Eligible || n.Draining:
			v.role = roleForeign
		default:
			v.role = roleEligible
		}
		views = append(views, v)
	}
	// Forget marks on nodes that are gone or that someone else changed.
	if seenMarks != len(mem.Cordoned)+len(mem.Draining)+len(mem.Removing) {
		for n := range mem.Cordoned {
			if i := findView(views, n); i < 0 {
				mem.uncordon(n)
			}
		}
		for n := range mem.Draining {
			if findView(views, n) < 0 {
				mem.undrain(n)
			}
		}
		for n := range mem.Removing {
			if findView(views, n) < 0 {
				mem.unremove(n)
			}
		}
	}
	for _, v := range views {
		if _, ok := mem.Cordoned[v.Name]; ok && v.role != roleCordoned && v.role != roleDraining {
			mem.uncordon(v.Name)
		}
		// A node caravan drains that is eligible again was taken back by
		// an operator (or the marks were lost): it may take work at any
		// moment, so it is not removed on the strength of the old mark.
		if _, ok := mem.Draining[v.Name]; ok && v.role != roleDraining && v.role != roleFailed {
			mem.undrain(v.Name)
		}
	}
	var booting []Machine
	var failed []string
	for _, m := range ps.Booting {
		if pl.BootTimeout > 0 && now.Sub(m.RequestedAt) >= pl.BootTimeout {
			failed = append(failed, m.Name)
			continue
		}
		booting = append(booting, m)
		if pl.BootTimeout > 0 {
			wakeAt(m.RequestedAt.Add(pl.BootTimeout))
		}
	}
	if len(failed) > 0 {
		reasons = append(reasons, fmt.Sprintf("%d machine(s) not registered within boot_timeout %s", len(failed), pl.BootTimeout))
	}
	down := 0
	for _, v := range views {
		if v.role == roleFailed {
			failed = append(failed, v.Name)
			down++
		}
	}
	if down > 0 {
		reasons = append(reasons, fmt.Sprintf("%d node(s) down", down))
	}

	// Demand: pack queued requests, oldest capacity first.
	pending := append([]Request(nil), ps.Pending...)
	sortDecreasing(pending)
	var fits []Request
	for _, r := range pending {
		if !newCap.Fits(r.Resources) {
			d.Unschedulable = append(d.Unschedulable, r)
			continue
		}
		fits = append(fits, r)
	}
	if len(d.Unschedulable) > 0 {
		reasons = append(reasons, fmt.Sprintf("%d queued request(s) larger than one node", len(d.Unschedulable)))
	}

	bins := make([]bin, 0, len(views)+len(booting)+4)
	addBin := func(i int, free Resources) {
		views[i].bin = len(bins)
		bins = append(bins, bin{free: free})
	}
	// Eligible nodes first (Nomad places there itself once room frees),
	// then cordoned nodes (back in a second, and already paid for; oldest
	// work first), then nodes being scaled in, then machines on their way,
	// and only then new machines.
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
	bootBin0 := len(bins)
	for range booting {
		bins = append(bins, bin{free: newCap})
	}

	live := 0 // nodes and machines that stay, before scale-in
	for _, v := range views {
		if v.role != roleFailed && v.role != roleRemoving {
			live++
		}
	}
	live += len(booting)
	maxNew := math.MaxInt32
	if pl.MaxNodes > 0 {
		maxNew = max(pl.MaxNodes-live, 0)
	}
	pk := newPacker(bins, newCap, maxNew)
	waiting := 0
	floors := suffixMin(fits)
	for i, r := range fits {
		var floor Resources
		if i+1 < len(fits) {
			floor = floors[i+1]
		}
		if pk.place(r.Resources, floor) < 0 {
			waiting++
		}
	}
	if waiting > 0 {
		reasons = append(reasons, fmt.Sprintf("%d queued request(s) wait: max_nodes %d reached", waiting, pl.MaxNodes))
	}
	bins = pk.bins

	var reenable []string
	for i := range views {
		v := &views[i]
		if v.bin < 0 || !bins[v.bin].used {
			continue
		}
		switch v.role {
		case roleCordoned:
			reenable = append(reenable, v.Name)
			mem.uncordon(v.Name)
			v.role = roleEligible
		case roleDraining:
			reenable = append(reenable, v.Name)
			mem.undrain(v.Name)
			v.role = roleEligible
		}
	}
	if len(reenable) > 0 {
		reasons = append(reasons, fmt.Sprintf("queued work needs %d cordoned node(s) back", len(reenable)))
	}

	// Busy GPUs now (used plus queued that fits), remembered as a decaying
	// peak so the warm buffer follows recent demand.
	busy := 0
	for _, v := range views {
		if v.role != roleFailed {
			busy += v.Used.GPUs
		}
	}
	for _, r := range fits {
		busy += r.Resources.GPUs
	}
	mem.observeDemand(now, float64(busy), p.DemandHalfLife)

	// Scale-in. A node of ours that got work while draining keeps it.
	var removes, drains []string
	early := 0 // drains decided by min_idle rather than idle_timeout
	for i := range views {
		v := &views[i]
		if v.role != roleDraining {
			continue
		}
		if v.Allocs == 0 && live-len(removes)-1+pk.created() < pl.MinNodes {
			// Another node failed meanwhile: keeping this one is
			// cheaper than booting a replacement.
			reenable = append(reenable, v.Name)
			mem.undrain(v.Name)
			v.role = roleEligible
			reasons = append(reasons, fmt.Sprintf("node %s kept for min_nodes %d", v.Name, pl.MinNodes))
		} else if v.Allocs == 0 {
			removes = append(removes, v.Name)
			mem.undrain(v.Name)
			mem.remove(v.Name, now)
		} else {
			reenable = append(reenable, v.Name)
			mem.undrain(v.Name)
			v.role = roleEligible
			reasons = append(reasons, fmt.Sprintf("node %s got work while draining; it keeps it", v.Name))
		}
	}
	created := pk.created()
	// min_nodes: top up with machines nobody asked for yet.
	if short := pl.MinNodes - (live - len(removes) + created); short > 0 {
		if pl.MaxNodes > 0 {
			short = min(short, pl.MaxNodes-live-created)
		}
		if short > 0 {
			created += short
			reasons = append(reasons, fmt.Sprintf("%d machine(s) to keep min_nodes %d", short, pl.MinNodes))
		}
	}
	remaining := live - len(removes) + created
	freeGPUs := 0
	for _, v := range views {
		if v.role == roleEligible && (v.bin < 0 || !bins[v.bin].used) {
			freeGPUs += v.Free().GPUs
		}
	}
	for i := bootBin0; i < bootBin0+len(booting); i++ {
		if !bins[i].used {
			freeGPUs += bins[i].free.GPUs
		}
	}
	buffer := p.warmBuffer(mem)
	// Candidates: empty eligible or cordoned nodes that no queued request
	// was packed onto, longest idle first.
	cands := make([]int, 0, 8)
	for i, v := range views {
		if (v.role == roleEligible || v.role == roleCordoned) && v.Allocs == 0 && (v.bin < 0 || !bins[v.bin].used) {
			cands = append(cands, i)
		}
	}
	slices.SortFunc(cands, func(a, b int) int {
		if c := idleSince(views[a].Node).Compare(idleSince(views[b].Node)); c != 0 {
			return c
		}
		return strings.Compare(views[a].Name, views[b].Name)
	})
	grace := p.scaleInGrace(pl)
	if created == 0 && waiting == 0 {
		for _, i := range cands {
			v := &views[i]
			idle := now.Sub(idleSince(v.Node))
			if remaining <= pl.MinNodes {
				break
			}
			timeout := pl.IdleTimeout > 0 && idle >= pl.IdleTimeout
			// A cordoned node's room is not in freeGPUs: it takes no work.
			after := freeGPUs
			if v.role == roleEligible {
				after -= v.Free().GPUs
			}
			spare := grace > 0 && idle >= grace && after >= buffer
			if !timeout && !spare {
				if pl.IdleTimeout > 0 {
					wakeAt(idleSince(v.Node).Add(pl.IdleTimeout))
				}
				if grace > 0 {
					wakeAt(idleSince(v.Node).Add(grace))
					if idle >= grace && buffer > 0 {
						// Kept for the buffer: look again when it shrinks.
						wakeAt(p.bufferShrinksAt(mem, buffer))
					}
				}
				continue
			}
			if v.role == roleEligible {
				freeGPUs -= v.Free().GPUs
			}
			if !timeout {
				early++
			}
			drains = append(drains, v.Name)
			mem.uncordon(v.Name)
			mem.drain(v.Name, now)
			v.role = roleDraining
			remaining--
		}
	}
	if n := len(drains) - early; n > 0 {
		reasons = append(reasons, fmt.Sprintf("%d empty node(s) idle for idle_timeout %s, scaling in", n, pl.IdleTimeout))
	}
	if early > 0 && buffer > 0 {
		reasons = append(reasons, fmt.Sprintf("%d empty node(s) idle for min_idle %s and not needed for the warm buffer of %d GPU(s), scaling in", early, grace, buffer))
	} else if early > 0 {
		reasons = append(reasons, fmt.Sprintf("%d empty node(s) idle for min_idle %s, scaling in", early, grace))
	}

	// Consolidation without eviction: new work should land on the nodes
	// that will stay busy longest anyway. Busy nodes are ranked by the age
	// of their oldest allocation (older work is likely to run longer);
	// the best-ranked ones stay eligible until they offer the warm buffer
	// of free GPUs, the rest are cordoned so they run dry and are scaled
	// in. Queued work re-enables cordoned nodes (above) before booting.
	var cordons []string
	if p.Consolidate && created == 0 && waiting == 0 {
		cordons = p.consolidate(views, bins, &mem, now, buffer, &reenable)
		if len(cordons) > 0 {
			reasons = append(reasons, fmt.Sprintf("consolidating: cordoned %d node(s) holding only young work", len(cordons)))
		}
	}

	// New machines.
	var creates []string
	if created > 0 {
		next := nextIndex(name, ps, mem.NextIndex)
		for range created {
			creates = append(creates, name+"-"+strconv.Itoa(next))
			next++
		}
		mem.NextIndex = next
		mem.LastScaleUp = now
		if pk.created() > 0 {
			reasons = append(reasons, fmt.Sprintf("%d queued request(s) need %d new machine(s)", len(fits)-waiting, pk.created()))
		}
	}
	if len(removes) > 0 || len(failed) > 0 {
		mem.LastScaleDown = now
	}

	p.assemble(&d, changes{
		reenable: reenable, cordons: cordons, drains: drains, failed: failed, removes: removes, creates: creates,
	}, views, booting)
	if len(reasons) == 0 {
		reasons = append(reasons, "no change")
	}
	d.Reason = strings.Join(reasons, "; ")
	d.History = mem
	d.WakeAt = wake
	return d
}
