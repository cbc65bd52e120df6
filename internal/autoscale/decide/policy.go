package decide

import (
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// Policy holds the tunables of Decide. DefaultPolicy is what caravan runs;
// the simulator builds others to compare against.
type Policy struct {
	// DrainDeadline is the deadline of the Nomad drain that starts a
	// scale-in. Caravan only drains empty nodes, so the deadline only
	// matters for work that raced onto a node while it was being marked.
	DrainDeadline time.Duration
	// ScaleInGrace is the shortest idle time after which an empty node
	// that the warm buffer does not need is scaled in. The pool's
	// idle_timeout stays the upper bound: an empty node idle that long is
	// scaled in even if the buffer wanted it, unless min_nodes keeps it.
	// Zero disables early scale-in (idle_timeout alone decides).
	ScaleInGrace time.Duration
	// WarmFraction sizes the warm buffer: keep enough free GPUs on live
	// nodes to absorb this fraction of the recent peak of busy GPUs.
	WarmFraction float64
	// WarmMinGPUs is the smallest warm buffer, in GPUs, once the pool has
	// seen any demand in the last DemandHalfLife.
	WarmMinGPUs int
	// DemandHalfLife is how fast the remembered peak of busy GPUs decays.
	DemandHalfLife time.Duration
	// Consolidate enables cordoning of lightly used nodes when the pool
	// has more free GPUs than the warm buffer needs, so that they empty
	// out instead of collecting new work.
	Consolidate bool
	// ConsolidateKeepGPUs is how many free GPUs consolidation leaves on
	// eligible busy nodes beyond the warm buffer, so that most
	// submissions are placed by Nomad at once without waiting for a
	// decision to re-enable a node.
	ConsolidateKeepGPUs int
	// ConsolidateMaxUsed is the largest share of a node's GPUs in use for
	// which it may be cordoned.
	ConsolidateMaxUsed float64
	// Move enables moves: a busy node whose work all checkpoints and fits
	// on the other eligible nodes is emptied by moving that work, when
	// the machine time saved exceeds MoveMargin times the moves' cost
	// (each run's GPUs for its grace plus MoveRestart).
	Move        bool
	MoveMargin  float64
	MoveRestart time.Duration
	// MoveMinAge is the youngest work a move takes: a run that just
	// started has its own start-up to lose, which the margin does not
	// price. It is short because the margin already keeps young work in
	// place (a node whose oldest run is young saves little by leaving):
	// on the ITP traces 10 minutes paid more and moved more than 2
	// (docs/autoscaling.md).
	MoveMinAge time.Duration
}

// scaleInGrace is the early scale-in threshold for pool pl: the pool's
// min_idle when it sets one, the policy's otherwise. A policy without early
// scale-in (ScaleInGrace 0) keeps it off whatever the pool says, and a
// min_idle at or above idle_timeout means idle_timeout alone decides.
func (p Policy) scaleInGrace(pl *spec.Pool) time.Duration {
	g := p.ScaleInGrace
	if g <= 0 {
		return 0
	}
	if pl.MinIdle > 0 {
		g = pl.MinIdle
	}
	if pl.IdleTimeout > 0 && g >= pl.IdleTimeout {
		return 0
	}
	return g
}

// keepsWarm reports whether the policy keeps a warm buffer at all.
func (p Policy) keepsWarm() bool { return p.WarmFraction > 0 || p.WarmMinGPUs > 0 }

// DefaultPolicy is the policy `caravan autoscale` runs.
func DefaultPolicy() Policy {
	return Policy{
		DrainDeadline:       time.Hour,
		ScaleInGrace:        time.Minute,
		WarmFraction:        0,
		WarmMinGPUs:         0,
		DemandHalfLife:      30 * time.Minute,
		Consolidate:         true,
		ConsolidateKeepGPUs: 8,
		ConsolidateMaxUsed:  0.5,
		Move:                true,
		MoveMargin:          4,
		MoveMinAge:          2 * time.Minute,
	}
}

// IdleTimeoutPolicy is the classic rule: scale in an empty node after the
// pool's idle_timeout, no warm buffer, no consolidation. The simulator
// uses it for its "reactive" comparison.
func IdleTimeoutPolicy() Policy {
	return Policy{DrainDeadline: time.Hour}
}
