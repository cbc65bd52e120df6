package sim

import (
	"sort"
	"time"
)

// LowerBound is the paid/used ratio of an impossible ideal: every job
// starts the moment it is submitted, machines boot instantly, and running
// work is repacked onto the fewest whole nodes at every instant (live
// migration). No policy that never evicts can pay less; the gap between a
// policy and this bound is what boots, idle nodes and fragmentation cost.
func LowerBound(jobs []Job, gpn int) float64 {
	if gpn <= 0 {
		return 0
	}
	type ev struct {
		t time.Duration
		g int
	}
	evs := make([]ev, 0, 2*len(jobs))
	used := 0.0
	for _, j := range jobs {
		g := j.GPUs
		if g > gpn {
			g = (g + gpn - 1) / gpn * gpn
		}
		evs = append(evs, ev{j.Submit, g}, ev{j.Submit + j.Duration, -g})
		used += float64(j.GPUs) * j.Duration.Seconds()
	}
	if used == 0 {
		return 0
	}
	sort.Slice(evs, func(a, b int) bool { return evs[a].t < evs[b].t })
	g, paid := 0, 0.0
	for k, e := range evs {
		if k > 0 {
			paid += float64((g+gpn-1)/gpn*gpn) * (e.t - evs[k-1].t).Seconds()
		}
		g += e.g
	}
	return paid / used
}
