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

// consolidate picks the busy nodes to keep eligible and cordons the others;
// nodes it wants back that caravan had cordoned are added to reenable.
// Nodes are ranked the way Nomad's best-fit fills them, fullest first
// (older work first among equals): the top of the ranking stays eligible
// until it offers the warm buffer plus ConsolidateKeepGPUs free GPUs, and
// the lightly used nodes below that line are cordoned.
func (p Policy) consolidate(views []nodeView, bins []bin, mem *History, now time.Time, buffer int, reenable *[]string) []string {
	busy := make([]int, 0, len(views))
	for i, v := range views {
		if (v.role == roleEligible || v.role == roleCordoned) && v.Allocs > 0 && (v.bin < 0 || !bins[v.bin].used) {
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
	var cordons []string
	for _, i := range busy {
		v := &views[i]
		light := float64(v.Used.GPUs) <= p.ConsolidateMaxUsed*float64(v.Total.GPUs)
		if free < buffer+p.ConsolidateKeepGPUs || !light {
			free += v.Free().GPUs
			if v.role == roleCordoned {
				*reenable = append(*reenable, v.Name)
				mem.uncordon(v.Name)
				v.role = roleEligible
			}
			continue
		}
		if v.role == roleEligible {
			cordons = append(cordons, v.Name)
			mem.cordon(v.Name, now)
			v.role = roleCordoned
		}
	}
	return cordons
}
