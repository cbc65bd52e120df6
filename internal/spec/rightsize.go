package spec

import "sort"

// FitsNode reports whether one node of p can hold a run asking for r, as
// far as the pool describes its nodes: a size the pool leaves unset does
// not limit.
func FitsNode(p *Pool, r Resources) bool {
	return (p.GPUsPerNode <= 0 || r.GPUs <= p.GPUsPerNode) &&
		(p.CPUPerNode <= 0 || r.CPU <= p.CPUPerNode) &&
		(p.MemoryPerNode <= 0 || r.Memory <= p.MemoryPerNode)
}

// SmallestFit picks, among candidates, the pool whose nodes are the
// smallest that hold r: fewest GPUs per node, then the lowest price per
// GPU-hour, then the name. A run on a node no bigger than it needs leaves
// no GPUs stranded beside it, which is where a GPU pool's money goes (see
// README, "Simulated on real traces"). It returns nil when no candidate
// fits. Pools that do not say how many GPUs their nodes have sort last.
func SmallestFit(candidates []*Pool, r Resources) *Pool {
	fit := make([]*Pool, 0, len(candidates))
	for _, p := range candidates {
		if p != nil && FitsNode(p, r) {
			fit = append(fit, p)
		}
	}
	if len(fit) == 0 {
		return nil
	}
	sort.SliceStable(fit, func(i, j int) bool {
		a, b := fit[i], fit[j]
		ga, gb := a.GPUsPerNode, b.GPUsPerNode
		if (ga <= 0) != (gb <= 0) {
			return gb <= 0
		}
		if ga != gb {
			return ga < gb
		}
		if pa, pb := perGPU(a), perGPU(b); pa != pb {
			return pa < pb
		}
		return a.Name < b.Name
	})
	return fit[0]
}

// perGPU is a node's price per GPU-hour, or its price when it has no GPUs.
func perGPU(p *Pool) float64 {
	if p.GPUsPerNode > 0 {
		return p.PricePerHour / float64(p.GPUsPerNode)
	}
	return p.PricePerHour
}
