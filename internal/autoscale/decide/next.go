package decide

import (
	"fmt"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// NextPlanned says, in words, what the pool's timers will make Decide do
// next if no demand arrives, and when; "" when nothing is due. h is the
// history the next decision will start from.
func (p Policy) NextPlanned(pl *spec.Pool, ps PoolState, h History) (string, time.Time) {
	return nextPlanned(p.scaleInGrace(pl), p.keepsWarm(), pl, ps, h)
}

// nextPlanned says, in words, the next thing the pool's timeouts will make
// the autoscaler do if no demand arrives: the earliest idle node to scale
// in or the earliest booting machine to replace (boot_timeout). grace is
// the pool's effective min_idle (Policy.scaleInGrace; 0 when idle_timeout
// alone decides): from then on an idle node goes, unless a warm buffer
// (warm) keeps it, and idle_timeout is the latest it stays.
func nextPlanned(grace time.Duration, warm bool, pl *spec.Pool, ps PoolState, hist History) (string, time.Time) {
	var what string
	var at time.Time
	consider := func(w string, t time.Time) {
		if at.IsZero() || t.Before(at) {
			what, at = w, t
		}
	}
	live := len(ps.Booting)
	for _, n := range ps.Nodes {
		if n.Status == NodeReady {
			live++
		}
	}
	for _, n := range ps.Nodes {
		if n.Status != NodeReady || n.Allocs > 0 {
			continue
		}
		if hist.ScalingIn(n.Name) {
			// Due at the next decision: no time to show.
			return "remove drained node " + n.Name, time.Time{}
		}
		if live <= pl.MinNodes {
			continue
		}
		switch {
		case grace > 0 && warm:
			consider(fmt.Sprintf("scale in idle node %s (min_idle %s passed) unless the warm buffer keeps it; by idle_timeout %s at the latest", n.Name, grace, pl.IdleTimeout),
				idleSince(&n).Add(grace))
		case grace > 0:
			consider(fmt.Sprintf("scale in idle node %s (min_idle %s)", n.Name, grace), idleSince(&n).Add(grace))
		case pl.IdleTimeout > 0:
			consider(fmt.Sprintf("scale in idle node %s (idle_timeout %s)", n.Name, pl.IdleTimeout), idleSince(&n).Add(pl.IdleTimeout))
		}
	}
	for _, m := range ps.Booting {
		if pl.BootTimeout > 0 {
			consider("replace "+m.Name+" unless it registers (boot_timeout)", m.RequestedAt.Add(pl.BootTimeout))
		}
	}
	return what, at
}
