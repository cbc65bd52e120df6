package decide

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
)

// The property test with faults: the random clusters and event sequences
// of property_test.go, with what goes wrong around Decide in production
// thrown in at random: the lock lost in the middle of a step (the actions
// taken so far stay, Terraform does not run, the next leader starts from
// the History last saved), pool record writes that fail (no apply, the
// History is not saved), Terraform applies that fail half way (creations
// left tainted, whose machines may boot anyway; removals done or not), a
// machine that registers with another node pool and runs that pool's
// work, and an operator who cordons and uncordons nodes, caravan's own
// included. Whatever happens, two things must hold:
//
//   - no node with allocations is ever left out of Terraform's target;
//   - every machine in Terraform state is registered, booting within its
//     boot_timeout, or being replaced (out of the latest target).
//
// Then the faults stop, the operator drains the misplaced machines and
// lifts its cordons, and the queue must drain and the pool shrink back.

// faultSeeds is how many random clusters TestDecideUnderFaults drives,
// each with both policies: twice as many sequences, of faultSteps
// decisions under faults; every settleEvery-th sequence then goes on
// without faults to check that the queue drains and the pool shrinks.
// docs/autoscaling.md quotes the figures.
const (
	faultSeeds  = 5000
	faultSteps  = 60
	settleEvery = 5
)

// faultStats counts what the sequences went through.
type faultStats struct {
	sequences, steps, leaseLost, recordFailed, applyFailed, tainted, misplaced, operator, restarts int
	// moveSequences count the sequences whose policy moves work; moves
	// the allocations moved.
	moveSequences, moves int
}

func (s faultStats) String() string {
	return fmt.Sprintf("%d sequences, %d decisions; faults: %d lock losses mid-step, %d failed record writes, %d failed applies (%d creations left tainted), %d machines in the wrong node pool, %d operator cordons/uncordons, %d restarts; %d sequences with moves, %d allocations moved",
		s.sequences, s.steps, s.leaseLost, s.recordFailed, s.applyFailed, s.tainted, s.misplaced, s.operator, s.restarts, s.moveSequences, s.moves)
}

// fworld is the world of property_test.go with faults.
type fworld struct {
	*world
	stats *faultStats
	// saved is the History as the pool record holds it.
	saved History
	// target is the latest decision's target.
	target []string
	// cordoned are the nodes the operator cordoned.
	cordoned map[string]bool
	calm     bool
	// stopped is when caravan last asked each allocation to move.
	stopped map[string]time.Time
}

func (f *fworld) chance(n int) bool { return !f.calm && f.r.IntN(n) == 0 }

// operate is the operator: a cordon or an uncordon of a random node,
// caravan's drained and cordoned nodes included.
func (f *fworld) operate() {
	if len(f.nodes) == 0 || !f.chance(15) {
		return
	}
	n := f.nodes[f.r.IntN(len(f.nodes))]
	f.stats.operator++
	if n.Eligible {
		n.Eligible = false
		f.cordoned[n.Name] = true
		return
	}
	n.Eligible, n.Draining = true, false
	delete(f.cordoned, n.Name)
}

// registerMisplaced turns some machines that register into nodes of
// another node pool, and gives those nodes that pool's work.
func (f *fworld) registerMisplaced(before int) {
	for _, n := range f.nodes[before:] {
		if f.chance(12) {
			n.Misplaced = true
			f.stats.misplaced++
		}
	}
	for _, n := range f.nodes {
		if !n.Misplaced || n.Status != NodeReady || !n.Eligible || n.Draining || n.Free().GPUs == 0 || !f.chance(3) {
			continue
		}
		q := f.randReq()
		q.Resources = Resources{GPUs: 1}
		n.Used = n.Used.Add(q.Resources)
		n.Allocs++
		n.LastBusy = f.now
		n.allocs = append(n.allocs, wAlloc{req: q, end: f.now.Add(q.dur), id: q.ID + "/misplaced", started: f.now})
	}
}

// placeOurs is Nomad's placement of the pool's queue: misplaced nodes
// are another node pool's and take none of it.
func (f *fworld) placeOurs() {
	all := f.nodes
	f.nodes = slices.DeleteFunc(slices.Clone(all), func(n *wNode) bool { return n.Misplaced })
	f.place()
	f.nodes = all
}

// step is one decision with its faults, checked.
func (f *fworld) step(p Policy) {
	t := f.t
	ps := f.state()
	d := p.DecidePool(f.pool.Name, ps, f.now)
	f.stats.steps++
	f.target = d.TargetNodes
	for _, n := range f.nodes {
		if n.Allocs > 0 && !slices.Contains(d.TargetNodes, n.Name) {
			t.Fatalf("%v: %s runs %d allocation(s) but is left out of the target %v (decision %q)", f.now, n.Name, n.Allocs, d.TargetNodes, d.Reason)
		}
	}
	if hasNomadActions(d) {
		// The loop records the marks of the old and the new History
		// before it touches a node; when that write fails, nothing is
		// done.
		if f.chance(20) {
			f.stats.recordFailed++
			return
		}
		f.saved = unionMarks(d.History, f.hist)
	}
	if f.chance(25) { // the lock is lost in the middle of the step
		f.stats.leaseLost++
		f.nomadActions(d, f.r.IntN(len(d.Actions)+1))
		f.hist = f.saved
		return
	}
	f.nomadActions(d, len(d.Actions))
	f.hist = d.History
	if f.chance(20) { // the intent cannot be recorded: no apply
		f.stats.recordFailed++
		return
	}
	f.saved = d.History
	f.terraform(d)
	if f.chance(40) { // a restart, or another leader taking over
		f.stats.restarts++
		f.hist = f.saved
	}
}

func hasNomadActions(d Decision) bool {
	for _, a := range d.Actions {
		if a.Kind == MarkEligible || a.Kind == MarkIneligible || a.Kind == Drain || a.Kind == Move {
			return true
		}
	}
	return false
}

// unionMarks is h with old's marks added where h has none (what the loop
// records before node operations).
func unionMarks(h, old History) History {
	merge := func(a, b map[string]time.Time) map[string]time.Time {
		out := map[string]time.Time{}
		for k, v := range b {
			out[k] = v
		}
		for k, v := range a {
			out[k] = v
		}
		return out
	}
	h.Cordoned, h.Draining, h.Removing = merge(h.Cordoned, old.Cordoned), merge(h.Draining, old.Draining), merge(h.Removing, old.Removing)
	h.shared = false
	return h
}

// nomadActions carries out the first k actions' Nomad operations.
func (f *fworld) nomadActions(d Decision, k int) {
	for _, a := range d.Actions[:k] {
		for _, name := range a.Nodes {
			i := f.find(name)
			if i < 0 {
				continue
			}
			switch a.Kind {
			case MarkEligible:
				f.nodes[i].Eligible, f.nodes[i].Draining = true, false
			case MarkIneligible:
				f.nodes[i].Eligible = false
			case Drain:
				f.nodes[i].Eligible, f.nodes[i].Draining = false, true
			case Move:
				f.move(f.nodes[i], a.Work)
			}
		}
	}
}

// terraform makes the state hold d's target; a failing apply does part
// of it: each removal happens or not, each creation fails tainted.
func (f *fworld) terraform(d Decision) {
	failing := f.chance(10)
	if failing {
		f.stats.applyFailed++
	}
	inState := map[string]bool{}
	for _, n := range f.nodes {
		inState[n.Name] = true
	}
	for _, m := range f.booting {
		inState[m.Name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(inState)) {
		if slices.Contains(d.TargetNodes, name) || failing && f.r.IntN(2) == 0 {
			continue
		}
		if i := f.find(name); i >= 0 {
			f.nodes = slices.Delete(f.nodes, i, i+1)
		} else {
			f.booting = slices.DeleteFunc(f.booting, func(m wMachine) bool { return m.Name == name })
		}
	}
	for _, name := range d.TargetNodes {
		j := slices.IndexFunc(f.booting, func(m wMachine) bool { return m.Name == name })
		if inState[name] && (j < 0 || !f.booting[j].tainted) {
			continue
		}
		// A new machine, or the replacement of a tainted one that never
		// registered; its boot clock is the one caravan recorded.
		at := f.now
		if j >= 0 {
			at = f.booting[j].RequestedAt
			f.booting = slices.Delete(f.booting, j, j+1)
		}
		m := wMachine{Machine: Machine{Name: name, RequestedAt: at}, readyAt: f.now.Add(f.boot)}
		if f.r.IntN(20) == 0 {
			m.readyAt = time.Time{}
		}
		if failing && f.r.IntN(2) == 0 {
			m.tainted = true
			f.stats.tainted++
			if f.r.IntN(2) == 0 {
				m.readyAt = time.Time{}
			}
		}
		f.booting = append(f.booting, m)
		f.lastCreate = f.now
	}
}

// checkState: every machine in state is registered, booting within its
// boot_timeout, or out of the latest target.
func (f *fworld) checkState(slack time.Duration) {
	for _, n := range f.nodes {
		if n.Status == NodeDown && slices.Contains(f.target, n.Name) {
			f.t.Fatalf("%v: %s is down, yet still in the target %v", f.now, n.Name, f.target)
		}
	}
	for _, m := range f.booting {
		if f.now.Sub(m.RequestedAt) > f.pool.BootTimeout+slack && slices.Contains(f.target, m.Name) {
			f.t.Fatalf("%v: %s has booted for %s (boot_timeout %s) and is still in the target", f.now, m.Name, f.now.Sub(m.RequestedAt), f.pool.BootTimeout)
		}
	}
}

// tick advances the world by dt and decides once.
func (f *fworld) tick(p Policy, dt time.Duration) {
	before := len(f.nodes)
	f.advance(dt, !f.calm)
	f.registerMisplaced(before)
	f.operate()
	f.placeOurs()
	f.step(p)
	f.placeOurs()
	f.checkState(dt)
}

func TestDecideUnderFaults(t *testing.T) {
	// The third policy moves young work too, so that moves happen often.
	eager := DefaultPolicy()
	eager.MoveMinAge, eager.MoveMargin = 0, 0.5
	policies := []Policy{DefaultPolicy(), IdleTimeoutPolicy(), eager}
	stats := &faultStats{}
	for seed := range uint64(faultSeeds) {
		for pi, p := range policies {
			w := randomWorld(t, 1_000_000+seed)
			f := &fworld{world: w, stats: stats, cordoned: map[string]bool{}, stopped: map[string]time.Time{}}
			stats.sequences++
			if p.Move {
				stats.moveSequences++
			}
			for range faultSteps {
				for range f.r.IntN(3) {
					if f.r.IntN(3) == 0 {
						f.queue = append(f.queue, f.randReq())
					}
				}
				f.tick(p, time.Duration(1+f.r.IntN(300))*time.Second)
			}
			if stats.sequences%settleEvery == 0 {
				f.settle(p, seed, pi)
			}
		}
	}
	t.Log(stats)
}

// settle stops the faults: the operator lifts its cordons and drains the
// misplaced nodes; then every queued run that fits a node must run, and
// the idle pool must shrink to min_nodes.
func (f *fworld) settle(p Policy, seed uint64, pi int) {
	f.calm = true
	for _, n := range f.nodes {
		if f.cordoned[n.Name] {
			n.Eligible = true
		}
		if n.Misplaced {
			n.Eligible = false
		}
	}
	f.hist = f.saved
	deadline := f.now.Add(60 * 24 * time.Hour)
	for f.now.Before(deadline) {
		f.tick(p, 10*time.Minute)
		if f.drained() {
			break
		}
	}
	for _, q := range f.queue {
		if f.fitsNode(q.Resources) {
			f.t.Fatalf("seed %d policy %d: request %s (%+v) still queued after 60 calm days", seed, pi, q.ID, q.Resources)
		}
	}
	for range 60 {
		f.tick(p, 2*time.Minute)
	}
	if live := len(f.nodes) + len(f.booting); live != f.pool.MinNodes {
		f.t.Fatalf("seed %d policy %d: idle pool holds %d machines (%v, booting %v), want min_nodes %d", seed, pi, live, names(f.nodes), f.booting, f.pool.MinNodes)
	}
}

func names(ns []*wNode) []string {
	var out []string
	for _, n := range ns {
		out = append(out, fmt.Sprintf("%s(%s elig=%v misplaced=%v allocs=%d)", n.Name, n.Status, n.Eligible, n.Misplaced, n.Allocs))
	}
	return out
}
