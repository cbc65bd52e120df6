package decide

import (
	"strconv"
	"strings"
	"time"
)

// creation are the machines a decision adds.
type creation struct {
	names []string
	why   []reason
}

// create names the new machines: those the queue needs (pk.created, for
// queued requests of which pk.waiting still wait) and those min_nodes
// adds (short, explained by topUp). Names are "<pool>-<n>" with n above every name in sight
// and the counter in h, which moves past them.
func create(pool string, ps PoolState, pk packing, queued, short int, h *History, now time.Time) creation {
	var out creation
	n := pk.created + short
	if n == 0 {
		return out
	}
	next := nextIndex(pool, ps, h.NextIndex)
	for range n {
		out.names = append(out.names, pool+"-"+strconv.Itoa(next))
		next++
	}
	h.NextIndex = next
	h.LastScaleUp = now
	if pk.created > 0 {
		out.why = append(out.why, reason{rule: ruleQueued, requests: queued - pk.waiting, machines: pk.created})
	}
	return out
}

// nextIndex is the first machine counter above every "<pool>-<n>" name in
// sight (nodes, booting machines, marked nodes) and at least the remembered
// counter, so a name is never reused while anything may still refer to it.
func nextIndex(pool string, ps PoolState, remembered int) int {
	next := max(remembered, 1)
	prefix := pool + "-"
	see := func(n string) {
		if s, ok := strings.CutPrefix(n, prefix); ok {
			if k, err := strconv.Atoi(s); err == nil && k >= next {
				next = k + 1
			}
		}
	}
	for _, n := range ps.Nodes {
		see(n.Name)
	}
	for _, m := range ps.Booting {
		see(m.Name)
	}
	for n := range ps.History.Cordoned {
		see(n)
	}
	for n := range ps.History.Draining {
		see(n)
	}
	for n := range ps.History.Removing {
		see(n)
	}
	return next
}
