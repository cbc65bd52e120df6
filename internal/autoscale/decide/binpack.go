package decide

import (
	"cmp"
	"slices"
	"strings"
)

// bin is one place requests can be packed into: free room on a live node,
// a machine still booting, or a machine to create.
type bin struct {
	free Resources
	// used is set once a request was packed into the bin.
	used bool
}

// sortDecreasing orders requests for first-fit decreasing: biggest GPUs
// first, then CPU, then memory; ties keep queue order (oldest first, then
// ID) so the result does not depend on the order Observe listed them in.
func sortDecreasing(reqs []Request) {
	slices.SortStableFunc(reqs, func(a, b Request) int {
		if a.Resources.GPUs != b.Resources.GPUs {
			return b.Resources.GPUs - a.Resources.GPUs
		}
		if a.Resources.CPU != b.Resources.CPU {
			return b.Resources.CPU - a.Resources.CPU
		}
		if a.Resources.Memory != b.Resources.Memory {
			return cmp.Compare(b.Resources.Memory, a.Resources.Memory)
		}
		if c := a.Since.Compare(b.Since); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// packer is a first-fit packing over an ordered list of bins that can grow
// by identical new bins (machines to create) up to a limit.
type packer struct {
	bins []bin
	// fixed is how many of bins existed before packing; the rest are new.
	fixed int
	// newCap is the capacity of a new machine; maxNew how many may be added.
	newCap Resources
	maxNew int
	// open lists indexes of bins that may still take a GPU request, in
	// bin order; full ones are dropped lazily so that long queues against
	// big pools stay linear-ish.
	open []int
	// cpuOnly is set once requests without GPUs arrive (they sort last);
	// from then on every bin is a candidate again.
	cpuOnly bool
}

func newPacker(bins []bin, newCap Resources, maxNew int) *packer {
	p := &packer{bins: bins, fixed: len(bins), newCap: newCap, maxNew: maxNew}
	p.open = make([]int, 0, len(bins))
	for i := range bins {
		p.open = append(p.open, i)
	}
	return p
}

// place puts r into the first bin it fits, opening a new bin if none does
// and the limit allows. It returns the bin index, or -1.
//
// floor is the smallest request still to come in every dimension (the
// suffix minimum of the sorted queue): a bin that cannot hold floor can
// hold nothing that follows and leaves the scan for good.
func (p *packer) place(r, floor Resources) int {
	if r.GPUs == 0 && !p.cpuOnly {
		p.cpuOnly = true
		p.open = p.open[:0]
		for i := range p.bins {
			p.open = append(p.open, i)
		}
	}
	w := 0
	found := -1
	for k, i := range p.open {
		b := &p.bins[i]
		if found < 0 && b.free.Fits(r) {
			b.free = b.free.Sub(r)
			b.used = true
			found = i
		}
		// Drop bins with no GPU left; they cannot take GPU requests, and
		// requests come biggest first so CPU-only ones come last.
		if (b.free.GPUs > 0 || p.cpuOnly) && b.free.Fits(floor) {
			p.open[w] = i
			w++
		}
		if found >= 0 {
			w += copy(p.open[w:], p.open[k+1:])
			break
		}
	}
	p.open = p.open[:w]
	if found >= 0 {
		return found
	}
	if len(p.bins)-p.fixed >= p.maxNew || !p.newCap.Fits(r) {
		return -1
	}
	p.bins = append(p.bins, bin{free: p.newCap.Sub(r), used: true})
	i := len(p.bins) - 1
	if (p.bins[i].free.GPUs > 0 || p.cpuOnly) && p.bins[i].free.Fits(floor) {
		p.open = append(p.open, i)
	}
	return i
}

// created is how many new bins were opened.
func (p *packer) created() int { return len(p.bins) - p.fixed }

// suffixMin returns, for each i, the componentwise minimum of reqs[i:].
func suffixMin(reqs []Request) []Resources {
	out := make([]Resources, len(reqs))
	for i := len(reqs) - 1; i >= 0; i-- {
		m := reqs[i].Resources
		if i+1 < len(reqs) {
			n := out[i+1]
			m = Resources{GPUs: min(m.GPUs, n.GPUs), CPU: min(m.CPU, n.CPU), Memory: min(m.Memory, n.Memory)}
		}
		out[i] = m
	}
	return out
}
