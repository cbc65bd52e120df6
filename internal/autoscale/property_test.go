package autoscale

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
	"github.com/caravan-ml/caravan/internal/terraform"
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

type loopStats struct {
	sequences, steps, leaseLost, recordFailed, readFailed, applyFailed, tainted, misplaced, operator, raced, lost int
}

// leaseState is the lock both loops contend for.
type leaseState struct {
	holder string
	token  uint64
}

// fakeLeader is one loop's view of leaseState.
type fakeLeader struct {
	st *leaseState
	me string
}

func (f fakeLeader) TryAcquire(context.Context) (bool, error) {
	if f.st.holder == "" {
		f.st.holder = f.me
		f.st.token++
	}
	return f.st.holder == f.me, nil
}

func (f fakeLeader) Renew(context.Context) error {
	if f.st.holder != f.me {
		return errors.New("renew lease: another process took it")
	}
	return nil
}

func (f fakeLeader) Release(context.Context) error {
	if f.st.holder == f.me {
		f.st.holder = ""
	}
	return nil
}

func (f fakeLeader) Token() uint64 {
	if f.st.holder == f.me {
		return f.st.token
	}
	return 0
}

// fencedProv is one loop's handle on the shared Terraform state; it
// checks that an apply only runs for the lock's holder.
type fencedProv struct {
	*memProv
	pw *pworld
	me string
}

func (p fencedProv) ApplyWith(ctx context.Context, req terraform.ApplyRequest) (terraform.ApplyResult, error) {
	if req.Fence == nil {
		p.pw.t.Fatalf("%s applies without a fence", p.me)
	}
	if err := req.Fence(ctx); err != nil {
		return terraform.ApplyResult{}, err
	}
	if p.pw.lease.holder != p.me {
		p.pw.t.Fatalf("%s applies although %q holds the lock", p.me, p.pw.lease.holder)
	}
	req.Fence = nil
	return p.memProv.ApplyWith(ctx, req)
}

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

// note keeps an event for the failure message.
func (w *pworld) note(format string, args ...any) {
	w.trace = append(w.trace, w.clk.Now().Format("15:04:05")+" "+fmt.Sprintf(format, args...))
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

// hook is every Nomad call: faults, and the lock lost mid-step.
func (w *pworld) hook(call string) error {
	if isNodeOp(call) {
		w.note("caravan: %s", call)
	}
	if w.inHook || w.calm {
		return nil
	}
	if strings.HasPrefix(call, "put "+PoolRecordPrefix) && w.chance(15) {
		w.stats.recordFailed++
		return errors.New("write variable: 500 raft apply failed")
	}
	if (call == "nodes" || call == "jobs") && w.chance(40) {
		w.stats.readFailed++
		return errors.New("list: 503 no cluster leader")
	}
	if call == "jobs" && w.chance(10) {
		// Between the observation (nodes and their allocations are
		// read) and the apply, an operator re-enables a node and work
		// lands on it.
		w.stats.raced++
		w.inHook = true
		w.operate(true)
		w.seq++
		w.nc.submit(fmt.Sprintf("late-%d", w.seq), "gpu", 1, 1)
		w.inHook = false
	}
	if w.lease.holder != "" && w.chance(60) {
		w.takeOver()
		if isNodeOp(call) {
			// A node operation cannot be fenced by a token; the loop
			// sends one only within half a TTL of a renewal, bounded by
			// a quarter of it, so none is still on its way when a
			// standby takes over, a TTL after the last renewal: this
			// one never reached Nomad.
			return context.Canceled
		}
	}
	return nil
}

func isNodeOp(call string) bool {
	return strings.HasPrefix(call, "eligibility ") || strings.HasPrefix(call, "drain ") || strings.HasPrefix(call, "canceldrain ")
}

// takeOver moves the lock to the other loop in the middle of the
// holder's step, as when the holder stalls past the TTL: the holder's
// next renewal fails, and the other acquires and acts before the old
// holder's step goes on.
func (w *pworld) takeOver() {
	w.inHook = true
	defer func() { w.inHook = false }()
	w.stats.leaseLost++
	old := w.lease.holder
	next := "a"
	if old == "a" {
		next = "b"
	}
	w.note("lock moves from %s to %s", old, next)
	w.lease.holder, w.lease.token = next, w.lease.token+1
	ctx := context.Background()
	w.loops[old].tickLease(ctx)
	w.loops[next].tickLease(ctx)
	_ = w.loops[next].Step(ctx, time.Now())
}

// checkWrite: no pool record write of a displaced leader lands after a
// newer leader's.
func (w *pworld) checkWrite(path string, items map[string]string) {
	if path != PoolRecordPrefix+"gpu" {
		return
	}
	// The record is large; only its token is read.
	raw := items[recordItem]
	var token uint64
	if i := strings.Index(raw, `"leader_token":`); i >= 0 {
		_, _ = fmt.Sscan(raw[i+len(`"leader_token":`):], &token)
	}
	if token < w.token {
		w.t.Fatalf("%v: a displaced leader (token %d) wrote the pool record after a leader with token %d did", w.clk.Now(), token, w.token)
	}
	w.token = token
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

func (s *loopStats) add(o loopStats) {
	s.sequences += o.sequences
	s.steps += o.steps
	s.leaseLost += o.leaseLost
	s.recordFailed += o.recordFailed
	s.readFailed += o.readFailed
	s.applyFailed += o.applyFailed
	s.tainted += o.tainted
	s.misplaced += o.misplaced
	s.operator += o.operator
	s.raced += o.raced
	s.lost += o.lost
}

// describe is the world's state, for a failure message.
func (w *pworld) describe() string {
	var b strings.Builder
	w.nc.mu.Lock()
	for _, n := range w.nc.nodes {
		fmt.Fprintf(&b, "  node %s pool=%s status=%s eligible=%v drain=%v allocs=%d\n", n.name, n.pool, n.status, n.eligible, n.drain, n.active())
	}
	w.nc.mu.Unlock()
	fmt.Fprintf(&b, "  lease: %+v; booting: %+v\n", *w.lease, w.boot)
	if w.lease.holder != "" {
		p := w.loops[w.lease.holder].pools["gpu"]
		fmt.Fprintf(&b, "  leader %s: state %v requested %v history %+v\n  last %+v\n  terraform %+v\n", w.lease.holder, p.inState, p.requested, p.history, p.last, p.tf)
	}
	return b.String()
}
