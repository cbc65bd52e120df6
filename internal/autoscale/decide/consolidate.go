package decide

import (
	"slices"
	"strings"
	"time"
)

// olderWork ranks nodes by how long their work has run, oldest first, then
// fuller first.
func olderWork(a, b nodeView) bool {
	if !a.OldestAlloc.Equal(b.OldestAlloc) {
		if a.OldestAlloc.IsZero() || b.OldestAlloc.IsZero() {
			return b.OldestAlloc.IsZero()
		}
		return a.OldestAlloc.Before(b.OldestAlloc)
	}
	return a.Used.GPUs > b.Used.GPUs
}

// consolidation is what consolidation decided.
type consolidation struct {
	// cordons are the busy nodes marked ineligible so that they run dry;
	// reenable the nodes caravan had cordoned that it wants back.
	cordons, reenable []string
	why               []reason
}

// consolidate keeps new work on the nodes that will stay busy longest
// anyway, without evicting anything. Busy nodes that no queued request was
// packed onto are ranked the way Nomad's best-fit fills them, fullest
// first (older work first among equals): the top of the ranking stays
// eligible until it offers the warm buffer (buffer GPUs) plus
// ConsolidateKeepGPUs free GPUs, and the lightly used nodes below that
// line are cordoned, to run dry and be scaled in. Queued work re-enables a
// cordoned node (reenablePacked) before any machine boots.
func (p Policy) consolidate(views []nodeView, bins []bin, h *History, now time.Time, buffer int) consolidation {
	busy := make([]int, 0, len(views))
	for i, v := range views {
		if (v.role == roleEligible || v.role == roleCordoned) && v.Allocs > 0 && (v.bin < 0 || !bins[v.bin].used) && !emptying(v.Node, *h) {
			busy = append(busy, i)
		}
	}
	slices.SortFunc(busy, func(a, b int) int {
		x, y := &views[a], &views[b]
		if x.Used.GPUs != y.Used.GPUs {
			return y.Used.GPUs - x.Used.GPUs
		}
		if c := x.OldestAlloc.Compare(y.OldestAlloc); c != 0 {
			return c
		}
		return strings.Compare(x.Name, y.Name)
	})
	free := 0
	var out consolidation
	for _, i := range busy {
		v := &views[i]
		light := float64(v.Used.GPUs) <= p.ConsolidateMaxUsed*float64(v.Total.GPUs)
		if free < buffer+p.ConsolidateKeepGPUs || !light {
			free += v.Free().GPUs
			if v.role == roleCordoned {
				out.reenable = append(out.reenable, v.Name)
				h.uncordon(v.Name)
				v.role = roleEligible
			}
			continue
		}
		if v.role == roleEligible {
			out.cordons = append(out.cordons, v.Name)
			h.cordon(v.Name, now)
			v.role = roleCordoned
		}
	}
	if len(out.cordons) > 0 {
		out.why = append(out.why, reason{rule: ruleConsolidate, nodes: out.cordons})
	}
	return out
}
