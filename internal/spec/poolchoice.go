package spec

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// poolList is a decoded pools attribute: the candidate pools, each with the
// range of its element so that a diagnostic about one candidate points at
// it.
type poolList struct {
	names []string
	rngs  []hcl.Range
	// invalid is set when an element was reported as an error: the list
	// still takes precedence over the defaults (the block did set pools),
	// but no pool is chosen from it, so one mistake gives one diagnostic.
	invalid bool
}

// decodePoolList reads a pools attribute. Pool blocks are decoded before
// defaults and experiments, so every name can be checked against them:
// right-sizing compares node sizes, which only a pool block gives.
func (l *loader) decodePoolList(a *hcl.Attribute, s *settings) {
	names, ok := l.attrStringList(a)
	if !ok {
		return
	}
	rng := a.Expr.Range()
	if len(names) == 0 {
		l.add(diagErr(rng, "Empty pools list",
			"pools lists the pools caravan picks the smallest fitting one from, but it is empty. Name at least one pool block, e.g. pools = [\"a100-1g\", \"a100-8g\"], or remove pools."))
		return
	}
	elems := elementRanges(a.Expr, len(names))
	var list poolList
	seen := make(map[string]hcl.Range, len(names))
	for i, n := range names {
		er := elems[i]
		if prev, dup := seen[n]; dup {
			l.add(diagWarn(er, "Duplicate pool in pools",
				"%q is listed twice in pools (first at %s); the second changes nothing. Remove it.", n, posString(prev)))
			continue
		}
		seen[n] = er
		if p := l.cfg.Pools[n]; p == nil {
			l.add(diagErr(er, "Unknown pool in pools",
				"pools names %q, but no pool block declares it. Right-sizing compares the size of each candidate's nodes (gpus_per_node, cpu_per_node, memory_per_node), so every pool in pools must be declared: by the operator's pools directory (the catalogue caravan autoscale publishes in Nomad, or -pools DIR offline), or by a pool block here. Fix the name, or check that the catalogue is the one you meant.%s",
				n, suggest(n, keysOf(l.cfg.Pools))))
			list.invalid = true
			continue
		}
		list.names = append(list.names, n)
		list.rngs = append(list.rngs, er)
	}
	s.pools.put(list, rng)
}

// elementRanges are the ranges of the n elements of a list expression, or
// the whole expression's range for each when the list is computed (a
// variable, a for expression) and has no elements in the source.
func elementRanges(expr hcl.Expression, n int) []hcl.Range {
	out := make([]hcl.Range, n)
	exprs, diags := hcl.ExprList(expr)
	for i := range out {
		if !diags.HasErrors() && len(exprs) == n {
			out[i] = exprs[i].Range()
		} else {
			out[i] = expr.Range()
		}
	}
	return out
}

// checkPoolConflict reports a block that sets both pool and pools: one
// names the pool, the other asks caravan to pick, and they cannot both
// hold. The later attribute is reported and dropped.
func (l *loader) checkPoolConflict(content *hcl.BodyContent, s *settings) {
	pa, pla := content.Attributes["pool"], content.Attributes["pools"]
	if pa == nil || pla == nil {
		return
	}
	first, second := pa, pla
	if pla.Range.Start.Byte < pa.Range.Start.Byte {
		first, second = pla, pa
	}
	l.add(diagErr(second.Expr.Range(), "Conflicting pool and pools",
		"This block sets both pool (one pool) and pools (caravan picks the smallest fitting pool of a list); %s is already set at %s. Keep one of them.",
		first.Name, posString(first.Expr.Range())))
	if second == pla {
		s.pools = opt[poolList]{}
	} else {
		s.pool = opt[string]{}
	}
}

// choosePool sets e.Pool to the smallest pool of the list whose nodes hold
// e's resources (SmallestFit). own says whether the experiment set pools
// itself rather than inheriting it from defaults, which decides where a
// diagnostic points.
func (l *loader) choosePool(e *Experiment, pl opt[poolList], own bool) {
	list := pl.v
	e.PoolCandidates = list.names
	if list.invalid {
		return
	}
	r := e.Resources
	cands := make([]*Pool, len(list.names))
	for i, n := range list.names {
		cands[i] = l.cfg.Pools[n]
		if r.GPUs > 0 && cands[i].GPUsPerNode <= 0 {
			// No experiment name in the detail: a list in defaults gives
			// one warning, not one per experiment.
			l.add(diagWarn(list.rngs[i], "Pool without gpus_per_node in pools",
				"Pool %q (declared at %s) does not say how many GPUs its nodes have, so right-sizing cannot compare it: it tries it after every pool that does, and sends there any GPU run that fits none of them, however many GPUs it asks for. Set gpus_per_node in pool %q, or remove it from pools.",
				n, posString(cands[i].DeclRange), n))
		}
	}
	best := SmallestFit(spotFiltered(e, cands), r)
	if best == nil {
		at := e.DeclRange
		if own {
			at = pl.rng
		}
		big := largestNode(cands)
		l.add(diagErr(at, "No pool in pools fits the experiment",
			"Experiment %q asks for %s per run, but no pool in pools (%s, set at %s) has nodes that big; the largest, %q, has %s per node. Lower the request, or add a pool with bigger nodes to pools.",
			e.Name, describeAsk(r), strings.Join(list.names, ", "), posString(pl.rng), big.Name, describeNode(big)))
		return
	}
	e.Pool = best.Name
	e.poolRng = pl.rng
}

// largestNode is the candidate with the most GPUs per node, then CPU, then
// memory; a size a pool leaves unset counts as unlimited, as in FitsNode.
func largestNode(cands []*Pool) *Pool {
	unl := func(n int64) int64 {
		if n <= 0 {
			return 1<<63 - 1
		}
		return n
	}
	key := func(p *Pool) [3]int64 {
		return [3]int64{unl(int64(p.GPUsPerNode)), unl(int64(p.CPUPerNode)), unl(p.MemoryPerNode)}
	}
	best := cands[0]
	for _, p := range cands[1:] {
		a, b := key(p), key(best)
		if a[0] > b[0] || a[0] == b[0] && (a[1] > b[1] || a[1] == b[1] && a[2] > b[2]) {
			best = p
		}
	}
	return best
}

// describeAsk is what a run asks of one node, in the terms FitsNode
// compares.
func describeAsk(r Resources) string {
	parts := []string{countOf(r.GPUs, "GPU")}
	if r.CPU > 0 {
		parts = append(parts, fmt.Sprintf("%d MHz of CPU", r.CPU))
	}
	if r.Memory > 0 {
		parts = append(parts, formatBytes(r.Memory)+" of memory")
	}
	return joinAnd(parts)
}

// describeNode is the size of one node of p, as far as the pool says.
func describeNode(p *Pool) string {
	var parts []string
	if p.GPUsPerNode > 0 {
		parts = append(parts, countOf(p.GPUsPerNode, "GPU"))
	}
	if p.CPUPerNode > 0 {
		parts = append(parts, fmt.Sprintf("%d MHz of CPU", p.CPUPerNode))
	}
	if p.MemoryPerNode > 0 {
		parts = append(parts, formatBytes(p.MemoryPerNode)+" of memory")
	}
	if len(parts) == 0 {
		return "no size set"
	}
	return joinAnd(parts)
}

func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func joinAnd(parts []string) string {
	if len(parts) <= 1 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// formatBytes writes n in the largest binary unit that divides it, as
// sizes are written in the configuration.
func formatBytes(n int64) string {
	for _, u := range []struct {
		name string
		size int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}
