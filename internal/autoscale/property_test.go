package autoscale

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// The loop's property test: two autoscalers (a leader and a standby) on
// one in-memory Nomad and one Terraform state, driven through random
// event sequences with every fault the loop must survive: the lock lost
// in the middle of a step (the standby takes over and acts before the old
// leader's step goes on), pool record writes and Nomad reads that fail,
// Terraform applies that fail half way (creations left tainted, whose
// machines may register anyway), machines that register with another
// node pool, an operator who cordons and uncordons nodes. It checks that
//
//   - no node with allocations is ever dropped from Terraform's state;
//   - at most one leader acts: every apply passed the lock's check, and
//     no pool record write of a displaced leader lands after a newer
//     leader's;
//   - every machine in Terraform state is registered, booting within
//     boot_timeout (by the leader's own record, which knows every name in
//     state), or being replaced;
//
// and, once the faults stop and the operator drains the misplaced
// machines and lifts its cordons, that the pool empties.

// loopSeeds is how many random sequences TestLoopUnderFaults runs, of
// loopSteps decisions each; every settleEveryLoop-th then goes on without
// faults until the pool must be empty. docs/autoscaling.md quotes the
// figures.
const (
	settleEveryLoop = 20
	loopSeeds       = 10000
	loopSteps       = 20
)

// pworld is the cluster and the two loops.
type pworld struct {
	t     *testing.T
	r     *rand.Rand
	clk   *manualClock
	nc    *memNomad
	prov  *memProv
	lease *leaseState
	loops map[string]*Loop
	stats *loopStats
	pool  int // GPUs per node
	boot  map[string]registration
	gone  map[string]time.Time // destroyed machines, until Nomad forgets them
	first map[string]time.Time // when each name entered the state
	// cordoned are the nodes the operator cordoned (and has not lifted).
	cordoned map[string]bool
	// purged is set once the pool record was lost: caravan's marks went
	// with it, and the nodes it had drained look like an operator's
	// cordons (docs/autoscaling.md says to re-enable them).
	purged bool
	calm   bool
	inHook bool
	// token is the highest leader token of a pool record write so far.
	token uint64
	seq   int
	seed  uint64
	trace []string
}

type registration struct {
	at   time.Time
	pool string
	none bool // never registers
}

func (w *pworld) chance(n int) bool { return !w.calm && w.r.IntN(n) == 0 }

func newPWorld(t *testing.T, seed uint64, stats *loopStats) *pworld {
	r := rand.New(rand.NewPCG(seed, 7))
	w := &pworld{t: t, r: r, clk: safetyClock(), nc: newMemNomad(), prov: newMemProv(), lease: &leaseState{}, stats: stats,
		pool: []int{1, 2, 4}[r.IntN(3)], boot: map[string]registration{}, gone: map[string]time.Time{}, first: map[string]time.Time{}, cordoned: map[string]bool{}, loops: map[string]*Loop{}}
	w.prov.fail = func(string) bool {
		if w.chance(8) {
			w.stats.tainted++
			return true
		}
		return false
	}
	w.prov.created = w.created
	w.prov.dropped = w.dropped
	w.nc.before = w.hook
	w.nc.onPut = w.checkWrite
	policies := []decide.Policy{decide.DefaultPolicy(), decide.IdleTimeoutPolicy()}
	policy := policies[r.IntN(2)]
	pl := fixturePool(w.pool)
	pl.MaxNodes = 2 + r.IntN(4)
	for _, me := range []string{"a", "b"} {
		l, err := NewLoop(Config{
			Pools: mapPool(pl), Provisioners: map[string]Provisioner{"gpu": fencedProv{w.prov, w, me}}, Nomad: w.nc,
			Leader: fakeLeader{w.lease, me}, SyncApply: true, Policy: &policy, BackoffMin: time.Minute, BackoffMax: 4 * time.Minute,
			Now: w.clk.Now, Holder: me,
		})
		if err != nil {
			t.Fatal(err)
		}
		w.loops[me] = l
	}
	return w
}

// created schedules the registration of a new machine: after its boot,
// in the pool's node pool or (a module with the wrong node_pool) another,
// or never.
func (w *pworld) created(name string) {
	w.note("created %s", name)
	if _, ok := w.first[name]; !ok {
		w.first[name] = w.clk.Now()
	}
	reg := registration{at: w.clk.Now().Add(time.Duration(1+w.r.IntN(8)) * time.Minute), pool: "gpu"}
	switch {
	case w.r.IntN(15) == 0:
		reg.none = true
	case w.chance(12):
		reg.pool = "default"
		w.stats.misplaced++
	}
	w.boot[name] = reg
}

// dropped is a machine destroyed: it must run nothing.
func (w *pworld) dropped(name string) {
	w.note("dropped %s", name)
	if n := w.nc.activeAllocs(name); n > 0 {
		w.t.Fatalf("%v: %s is destroyed while it runs %d allocation(s)", w.clk.Now(), name, n)
	}
	delete(w.boot, name)
	delete(w.first, name)
	w.nc.setNode(name, func(n *memNode) { n.status = "down" })
	w.gone[name] = w.clk.Now()
}

// events moves the world by dt: machines register, work arrives and
// ends, nodes fail, destroyed ones leave Nomad, the operator acts.
func (w *pworld) events(dt time.Duration) {
	w.clk.Advance(dt)
	now := w.clk.Now()
	for _, name := range slices.Sorted(maps.Keys(w.boot)) {
		reg := w.boot[name]
		if reg.none || reg.at.After(now) {
			continue
		}
		delete(w.boot, name)
		w.note("registered %s in %s", name, reg.pool)
		// A machine replaced under its name: Nomad forgets the old one.
		w.nc.removeNode(name)
		delete(w.gone, name)
		w.nc.addNode(name, reg.pool, w.pool)
		if w.calm && reg.pool != "gpu" {
			// The operator drains what registers in the wrong place.
			w.nc.setNode(name, func(n *memNode) { n.eligible = false })
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.gone)) {
		if now.Sub(w.gone[name]) > 10*time.Minute {
			w.nc.removeNode(name)
			delete(w.gone, name)
		}
	}
	if !w.calm && w.r.IntN(3) == 0 {
		w.seq++
		w.nc.submit(fmt.Sprintf("run-%d", w.seq), "gpu", 1+w.r.IntN(w.pool), 1+w.r.IntN(2))
	}
	if !w.calm && w.r.IntN(4) == 0 {
		w.seq++
		w.nc.submit(fmt.Sprintf("other-%d", w.seq), "default", 1, 1)
	}
	w.nc.finish(w.r.IntN(3))
	if w.chance(40) {
		w.nc.mu.Lock()
		var ready []string
		for _, n := range w.nc.nodes {
			if n.status == "ready" {
				ready = append(ready, n.name)
			}
		}
		w.nc.mu.Unlock()
		if len(ready) > 0 {
			w.nc.nodeDown(ready[w.r.IntN(len(ready))])
		}
	}
	w.operate(false)
	if w.chance(150) {
		// The pool record is lost (an operator purged it): the leader
		// reads the pool afresh, and the boot clocks of the machines in
		// state start again from now.
		w.stats.lost++
		w.purged = true
		w.note("record lost")
		_ = w.nc.DeleteVariable(context.Background(), "", PoolRecordPrefix+"gpu", -1)
		for name := range w.first {
			w.first[name] = now
		}
	}
}

// operate is an operator's cordon or uncordon of a random node (only
// an uncordon of an ineligible one, when uncordon is set).
func (w *pworld) operate(uncordon bool) {
	if !uncordon && !w.chance(10) {
		return
	}
	w.nc.mu.Lock()
	var names []string
	for _, n := range w.nc.nodes {
		if n.status == "ready" && (!uncordon || !n.eligible) {
			names = append(names, n.name)
		}
	}
	w.nc.mu.Unlock()
	if len(names) == 0 {
		return
	}
	w.stats.operator++
	w.nc.setNode(names[w.r.IntN(len(names))], func(n *memNode) {
		w.note("operator flips %s (eligible %v)", n.name, n.eligible)
		if n.eligible {
			n.eligible = false
			w.cordoned[n.name] = true
		} else {
			n.eligible, n.drain = true, false
			delete(w.cordoned, n.name)
		}
	})
}

// tick is one round: events, the lock's renewals, one step of the leader.
func (w *pworld) tick(dt time.Duration) {
	w.events(dt)
	ctx := context.Background()
	for _, me := range []string{"a", "b"} {
		w.loops[me].tickLease(ctx)
	}
	if w.lease.holder == "" {
		return
	}
	me := w.lease.holder
	l := w.loops[me]
	w.stats.steps++
	before := w.prov.applies
	err := l.Step(ctx, time.Now())
	if err != nil {
		w.note("%s step: %v", me, err)
	}
	if w.prov.applies > before && w.failedApply() {
		w.stats.applyFailed++
	}
	if err == nil && l.current() != nil {
		w.checkState(l)
	}
}

func (w *pworld) failedApply() bool {
	st, _ := w.prov.State(context.Background())
	return len(st.Tainted) > 0
}

// checkState: every machine in state is registered, booting within
// boot_timeout by the leader's record, or out of its latest target.
func (w *pworld) checkState(l *Loop) {
	p := l.pools["gpu"]
	now := w.clk.Now()
	st, _ := w.prov.State(context.Background())
	w.nc.mu.Lock()
	registered := map[string]bool{}
	for _, n := range w.nc.nodes {
		if n.status != "down" {
			registered[n.name] = true
		}
	}
	w.nc.mu.Unlock()
	for _, name := range st.Nodes {
		if registered[name] || !slices.Contains(p.last.Target, name) {
			continue
		}
		at, ok := p.requested[name]
		if !ok {
			w.t.Fatalf("%v: %s is in Terraform state, unregistered, and unknown to the leader's record (requested %v)", now, name, p.requested)
		}
		if now.Sub(at) > p.pool.BootTimeout+5*time.Minute {
			w.t.Fatalf("%v: %s has booted for %s by the leader's record (boot_timeout %s) and is still in the target", now, name, now.Sub(at), p.pool.BootTimeout)
		}
		if first, ok := w.first[name]; ok && now.Sub(first) > p.pool.BootTimeout+30*time.Minute {
			w.t.Fatalf("seed %d %v: %s entered the state %s ago, never registered, and is still in the target (its boot clock restarted)\n%s\n%s", w.seed, now, name, now.Sub(first), w.describe(), strings.Join(w.trace, "\n"))
		}
	}
}

// settle stops the faults; the operator lifts its own cordons (caravan's
// stay caravan's to undo) and drains the misplaced nodes; then the pool
// must empty.
func (w *pworld) settle(seed uint64) {
	w.calm = true
	w.nc.mu.Lock()
	for _, n := range w.nc.nodes {
		if w.cordoned[n.name] || w.purged && n.pool == "gpu" {
			n.eligible, n.drain = true, false
		}
		if n.pool != "gpu" {
			n.eligible = false // drained, so that caravan removes it once empty
		}
	}
	w.nc.mu.Unlock()
	for range 80 {
		w.nc.finish(5)
		w.tick(3 * time.Minute)
	}
	if st, _ := w.prov.State(context.Background()); len(st.Nodes) > 0 {
		w.t.Fatalf("seed %d: after the faults stopped and the work ended, the state still holds %v\n%s\n%s", seed, st.Nodes, w.describe(), strings.Join(w.trace, "\n"))
	}
}

func TestLoopUnderFaults(t *testing.T) {
	const chunks = 4
	var mu sync.Mutex
	total := loopStats{}
	// Independent sequences, in chunks that run in parallel.
	t.Run("sequences", func(t *testing.T) {
		for c := range uint64(chunks) {
			t.Run(fmt.Sprint(c), func(t *testing.T) {
				t.Parallel()
				stats := &loopStats{}
				for seed := c; seed < loopSeeds; seed += chunks {
					w := newPWorld(t, seed, stats)
					w.seed = seed
					stats.sequences++
					for range loopSteps {
						w.tick(time.Duration(1+w.r.IntN(300)) * time.Second)
					}
					if seed%settleEveryLoop == 0 {
						w.settle(seed)
					}
				}
				mu.Lock()
				total.add(*stats)
				mu.Unlock()
			})
		}
	})
	t.Logf("%d sequences, %d steps; faults: %d lock losses mid-step, %d failed record writes, %d lost records, %d failed Nomad reads, %d failed applies (%d creations left tainted), %d machines in the wrong node pool, %d operator cordons/uncordons, %d of them racing a decision",
		total.sequences, total.steps, total.leaseLost, total.recordFailed, total.lost, total.readFailed, total.applyFailed, total.tainted, total.misplaced, total.operator+total.raced, total.raced)
}
