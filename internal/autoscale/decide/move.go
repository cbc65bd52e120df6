package decide

import (
	"slices"
	"strings"
	"time"
)

// Alloc is one allocation a node holds, as moves see it.
type Alloc struct {
	// ID is Nomad's allocation ID (a job and attempt in the simulator).
	ID string
	// JobID, Namespace, RunID and Project say which run it is, for the
	// loop that moves it and the run's moves.
	JobID, Namespace, RunID, Project string
	Resources                        Resources
	// Grace is the run's checkpoint grace: the time it may take to save
	// its state once signalled. Zero means the run cannot resume
	// elsewhere (no checkpoint block): Decide never moves it.
	Grace time.Duration
	// StartedAt is when its task started (zero: not yet).
	StartedAt time.Time
	// Stopping is set when Nomad already wants it stopped (a move or a
	// stop under way): it is leaving by itself.
	Stopping bool
}

// movable reports whether a may be moved at now under history h: it
// checkpoints, has started, is not leaving already, and was not asked to
// move within its grace.
func (a Alloc) movable(h History, now time.Time) bool {
	if a.Grace <= 0 || a.Stopping || a.StartedAt.IsZero() {
		return false
	}
	if at, ok := h.Moved[a.ID]; ok && now.Sub(at) < a.Grace {
		return false
	}
	return true
}

// moves is what the move phase decided.
type moves struct {
	// work are the allocations to move; empties the nodes they leave
	// (cordoned, so that nothing new lands there); saving the GPU-hours
	// each emptied node is expected to save, net of the moves' cost.
	work    []Alloc
	from    []string
	empties []string
	saving  map[string]float64
	why     []reason
}

// moveWork empties busy nodes whose work all checkpoints and fits on the
// other eligible nodes, when the machine time that saves exceeds what the
// moves cost by the policy's margin. Run lengths are heavy-tailed, so a
// node is expected to stay busy about as long again as its oldest work
// has run: emptying it saves its GPUs for that long, and each move costs
// the run's GPUs for its grace and restart. Lightly used nodes go first
// (the cheapest moves); the work goes best-fit onto the fullest busy
// nodes that stay, as Nomad's scheduler places it. No node that receives work is
// emptied in the same decision, and nothing that cannot checkpoint is ever
// moved: a node holding such work is not a candidate.
func (p Policy) moveWork(views []nodeView, bins []bin, h *History, now time.Time) moves {
	var out moves
	if !p.Move {
		return out
	}
	var cands, targets []int
	for i, v := range views {
		switch {
		case (v.role == roleEligible || v.role == roleCordoned) && v.Allocs > 0 && (v.bin < 0 || !bins[v.bin].used) && p.allMovable(v.Node, *h, now):
			cands = append(cands, i)
			if v.role == roleEligible {
				targets = append(targets, i)
			}
		case v.role == roleEligible && v.Allocs > 0:
			// Only busy nodes take moved work: work moved onto an
			// empty node empties nothing.
			targets = append(targets, i)
		}
	}
	if len(cands) == 0 || len(targets) < 2 {
		return out
	}
	slices.SortFunc(cands, func(a, b int) int {
		if d := views[a].Used.GPUs - views[b].Used.GPUs; d != 0 {
			return d
		}
		return strings.Compare(views[a].Name, views[b].Name)
	})
	free := make(map[int]Resources, len(targets))
	for _, i := range targets {
		free[i] = views[i].Free()
	}
	received := map[int]bool{}
	for _, c := range cands {
		if received[c] {
			continue
		}
		v := &views[c]
		saving, cost := p.moveSaving(v.Node, now)
		if saving < p.MoveMargin*cost {
			continue
		}
		placed, ok := placeWork(v.Work, c, targets, views, free)
		if !ok {
			continue
		}
		for _, t := range placed {
			received[t] = true
		}
		delete(free, c)
		for _, a := range v.Work {
			out.work = append(out.work, a)
			out.from = append(out.from, v.Name)
			h.moved(a.ID, now)
		}
		if v.role == roleEligible {
			out.empties = append(out.empties, v.Name)
			h.cordon(v.Name, now)
			v.role = roleCordoned
		}
		if out.saving == nil {
			out.saving = map[string]float64{}
		}
		out.saving[v.Name] = saving - cost
		out.why = append(out.why, reason{rule: ruleMove, nodes: []string{v.Name}, requests: len(v.Work), gpuHours: saving - cost})
	}
	return out
}

// emptying reports whether all of n's work is being moved off it: it
// stays cordoned until it is empty and scaled in.
func emptying(n *Node, h History) bool {
	if len(n.Work) == 0 || len(n.Work) != n.Allocs {
		return false
	}
	for _, a := range n.Work {
		if _, ok := h.Moved[a.ID]; !ok {
			return false
		}
	}
	return true
}

// allMovable reports whether every allocation on n may move now.
func (p Policy) allMovable(n *Node, h History, now time.Time) bool {
	if len(n.Work) != n.Allocs {
		return false // some allocation caravan knows nothing of
	}
	for _, a := range n.Work {
		if !a.movable(h, now) || now.Sub(a.StartedAt) < p.MoveMinAge {
			return false
		}
	}
	return true
}

// moveSaving is what emptying n is expected to save and what moving its
// work costs, in GPU-hours.
func (p Policy) moveSaving(n *Node, now time.Time) (saving, cost float64) {
	var oldest time.Time
	for _, a := range n.Work {
		if oldest.IsZero() || a.StartedAt.Before(oldest) {
			oldest = a.StartedAt
		}
		cost += float64(a.Resources.GPUs) * (a.Grace + p.MoveRestart).Hours()
	}
	return float64(n.Total.GPUs) * now.Sub(oldest).Hours(), cost
}

// placeWork packs work, largest first, best-fit onto the targets other
// than from, in free; it changes free only when all of it fits, and
// returns the targets that received some.
func placeWork(work []Alloc, from int, targets []int, views []nodeView, free map[int]Resources) ([]int, bool) {
	order := make([]int, len(work))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return work[b].Resources.GPUs - work[a].Resources.GPUs })
	tentative := make(map[int]Resources, len(targets))
	var placed []int
	for _, k := range order {
		need := work[k].Resources
		best := -1
		var bestFree Resources
		for _, t := range targets {
			f, ok := tentative[t]
			if !ok {
				f, ok = free[t]
			}
			if !ok || t == from || !f.Fits(need) {
				continue
			}
			if best < 0 || f.GPUs < bestFree.GPUs || f.GPUs == bestFree.GPUs && views[t].Name < views[best].Name {
				best, bestFree = t, f
			}
		}
		if best < 0 {
			return nil, false
		}
		tentative[best] = bestFree.Sub(need)
		if !slices.Contains(placed, best) {
			placed = append(placed, best)
		}
	}
	for t, f := range tentative {
		free[t] = f
	}
	return placed, true
}

// moved remembers that alloc id was asked to move at at.
func (m *History) moved(id string, at time.Time) {
	m.own()
	if m.Moved == nil {
		m.Moved = map[string]time.Time{}
	}
	m.Moved[id] = at
}

// forgetMoves drops the moves of allocations no node holds any more: the
// move is over.
func forgetMoves(views []nodeView, h *History) {
	if len(h.Moved) == 0 {
		return
	}
	held := map[string]bool{}
	for _, v := range views {
		for _, a := range v.Work {
			held[a.ID] = true
		}
	}
	for id := range h.Moved {
		if !held[id] {
			h.own()
			delete(h.Moved, id)
		}
	}
}
