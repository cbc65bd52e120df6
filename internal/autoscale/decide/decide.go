package decide

import (
	"sort"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// Decide returns one Decision per pool of s, sorted by pool name, using
// DefaultPolicy. It is pure: the same State gives the same Decisions.
func Decide(s State) []Decision { return DefaultPolicy().Decide(s) }

// Decide is Decide with the tunables of p.
func (p Policy) Decide(s State) []Decision {
	names := make([]string, 0, len(s.Pools))
	for n := range s.Pools {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Decision, 0, len(names))
	for _, n := range names {
		out = append(out, p.DecidePool(n, s.Pools[n], s.Now))
	}
	return out
}

// DecidePool decides for one pool. It is exported for the simulator, which
// drives one pool at a time.
//
// A decision runs in phases, each a function of what the ones before it
// found and each returning what it decided and why:
//
//  1. classify the registered nodes by role (classify.go);
//  2. forget marks that no longer hold (forgetStale);
//  3. find failed machines to replace (findFailed);
//  4. pack the queue onto live nodes, booting machines and new ones, and
//     re-enable the cordoned or draining nodes it lands on (pack.go);
//  5. settle drains: remove drained, empty nodes (settleDrains);
//  6. top up min_nodes (topUp);
//  7. scale in idle nodes (scalein.go), when nothing is created or waits;
//  8. consolidate busy nodes (consolidate.go), likewise;
//  9. name the new machines (create.go).
//
// The words for every reason a phase gives are in reason.go.
func (p Policy) DecidePool(name string, ps PoolState, now time.Time) Decision {
	pl := ps.Pool
	if pl == nil {
		pl = &spec.Pool{Name: name}
	}
	hist := ps.History.borrowed()

	views, marked := classify(ps.Nodes, hist)
	forgetStale(views, marked, &hist)
	forgetMoves(views, &hist)
	failed := findFailed(pl, ps.Booting, views, now)
	dem := splitDemand(ps.Pending, NodeCapacity(pl))
	live := liveCount(views, failed.booting)
	pk := pack(pl, views, failed.booting, dem.fits, live)
	back := reenablePacked(views, pk.bins, &hist)
	// Remembered as a decaying peak, so that the warm buffer follows
	// recent demand.
	hist.observeDemand(now, float64(busyGPUs(views, dem.fits)), p.DemandHalfLife)
	drained := settleDrains(pl, views, live, pk.created, &hist, now)
	short, toppedUp := topUp(pl, live, len(drained.removes), pk.created)
	if len(misplacedNodes(views)) > 0 {
		short, toppedUp = 0, nil // no new machine joins the right node pool
	}
	buffer := p.warmBuffer(hist)
	var idle scaledIn
	var cons consolidation
	var mv moves
	// Scale-in and consolidation wait while the pool grows: a node they
	// would empty is better used by the work that asked for machines.
	if pk.created+short == 0 && pk.waiting == 0 {
		idle = p.scaleIn(pl, views, pk, live-len(drained.removes), buffer, &hist, now)
		if p.Consolidate {
			cons = p.consolidate(views, pk.bins, &hist, now, buffer)
		}
		mv = p.moveWork(views, pk.bins, &hist, now)
	}
	added := create(name, ps, pk, len(dem.fits), short, &hist, now)
	if len(drained.removes) > 0 || len(failed.failed) > 0 {
		hist.LastScaleDown = now
	}

	d := Decision{Pool: name, Unschedulable: dem.unschedulable, History: hist, WakeAt: earlier(failed.wake, idle.wake)}
	p.assemble(&d, changes{
		reenable: concat(back.nodes, drained.reenable, cons.reenable),
		cordons:  concat(cons.cordons, mv.empties), drains: idle.drains, moves: mv, failed: failed.failed, removes: drained.removes, creates: added.names,
	}, views, failed.booting)
	d.Reason = explain(failed.why, dem.why, pk.why, back.why, drained.why, toppedUp, idle.why, cons.why, mv.why, added.why)
	return d
}

// liveCount is how many nodes and machines stay before scale-in: every
// registered node but the failed and those being removed, and every
// machine still within its boot_timeout.
func liveCount(views []nodeView, booting []Machine) int {
	live := len(booting)
	for _, v := range views {
		if v.role != roleFailed && v.role != roleRemoving {
			live++
		}
	}
	return live
}

// busyGPUs is the demand of the moment: GPUs in use on nodes that are not
// down plus those the queue asks for and a node can hold.
func busyGPUs(views []nodeView, fits []Request) int {
	busy := 0
	for _, v := range views {
		if v.role != roleFailed {
			busy += v.Used.GPUs
		}
	}
	for _, r := range fits {
		busy += r.Resources.GPUs
	}
	return busy
}

// later is t when it falls due after now, zero otherwise: a timer that
// is already due asks for no wake-up.
func later(t, now time.Time) time.Time {
	if t.After(now) {
		return t
	}
	return time.Time{}
}

// earlier is the earlier of two wake-up times, zero meaning none.
func earlier(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
