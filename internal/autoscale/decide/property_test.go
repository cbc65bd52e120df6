package decide

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
)

// world is a small model of Nomad plus Terraform for the property tests:
// best-fit placement that respects eligibility and drains, machines that
// boot after a delay (or never), nodes that go down and lose their work.
type world struct {
	t       *testing.T
	r       *rand.Rand
	pool    *spec.Pool
	boot    time.Duration
	now     time.Time
	nodes   []*wNode
	booting []wMachine
	queue   []wReq
	hist    History
	used    map[string]bool // every name ever created
	seq     int
	// lastCreate is when the policy last asked for machines.
	lastCreate time.Time
}

type wNode struct {
	Node
	allocs []wAlloc
}

type wAlloc struct {
	req wReq
	end time.Time
	// id names this allocation; started is when it was placed; stopAt,
	// when set, is when it leaves its node after a move asked it to
	// checkpoint (moves_property_test.go).
	id      string
	started time.Time
	stopAt  time.Time
}

type wReq struct {
	Request
	dur time.Duration
	// grace is the run's checkpoint grace; zero: it cannot be moved.
	grace time.Duration
}

type wMachine struct {
	Machine
	readyAt time.Time // zero: never registers
	tainted bool      // its creation failed half way (faults_property_test.go)
}

func (w *world) capacity() Resources {
	return Resources{GPUs: w.pool.GPUsPerNode, CPU: w.pool.CPUPerNode, Memory: w.pool.MemoryPerNode}
}

func (w *world) fitsNode(r Resources) bool {
	c := NodeCapacity(w.pool)
	return c.Fits(r)
}

func (w *world) randReq() wReq {
	w.seq++
	g := []int{1, 1, 1, 2, 4, w.pool.GPUsPerNode, w.pool.GPUsPerNode * 2}[w.r.IntN(7)]
	res := Resources{GPUs: g}
	if w.pool.CPUPerNode > 0 {
		res.CPU = w.r.IntN(w.pool.CPUPerNode/2 + 1)
	}
	if w.pool.MemoryPerNode > 0 {
		res.Memory = w.r.Int64N(w.pool.MemoryPerNode/2 + 1)
	}
	id := fmt.Sprintf("r%d", w.seq)
	q := wReq{Request: Request{ID: id, JobID: id, Resources: res, Since: w.now}, dur: time.Duration(1+w.r.IntN(90)) * time.Minute}
	if w.r.IntN(2) == 0 {
		q.grace = time.Duration(1+w.r.IntN(300)) * time.Second
	}
	return q
}

// place is Nomad's best-fit over ready, eligible, non-draining nodes.
func (w *world) place() {
	rest := w.queue[:0]
	for _, q := range w.queue {
		var best *wNode
		for _, n := range w.nodes {
			if n.Status != NodeReady || !n.Eligible || n.Draining || !n.Free().Fits(q.Resources) {
				continue
			}
			if best == nil || n.Free().GPUs < best.Free().GPUs {
				best = n
			}
		}
		if best == nil {
			rest = append(rest, q)
			continue
		}
		best.Used = best.Used.Add(q.Resources)
		best.Allocs++
		best.LastBusy = w.now
		if best.OldestAlloc.IsZero() {
			best.OldestAlloc = w.now
		}
		w.seq++
		best.allocs = append(best.allocs, wAlloc{req: q, end: w.now.Add(q.dur), id: fmt.Sprintf("%s/a%d", q.ID, w.seq), started: w.now})
	}
	w.queue = rest
}

// advance moves the clock, ending allocations, registering machines and,
// when chaos is on, failing nodes.
func (w *world) advance(dt time.Duration, chaos bool) {
	w.now = w.now.Add(dt)
	for _, n := range w.nodes {
		keep := n.allocs[:0]
		for _, a := range n.allocs {
			if !a.stopAt.IsZero() && !a.stopAt.After(w.now) && a.end.After(a.stopAt) {
				// It checkpointed and left; Nomad places it again.
				n.Used = n.Used.Sub(a.req.Resources)
				n.Allocs--
				n.LastBusy = a.stopAt
				q := a.req
				q.Since, q.dur = w.now, a.end.Sub(a.stopAt)
				w.queue = append(w.queue, q)
				continue
			}
			if !a.end.After(w.now) {
				n.Used = n.Used.Sub(a.req.Resources)
				n.Allocs--
				n.LastBusy = a.end
				continue
			}
			keep = append(keep, a)
		}
		n.allocs = keep
		n.OldestAlloc = time.Time{}
		if n.Allocs > 0 {
			n.LastBusy = w.now
			n.OldestAlloc = w.now.Add(-time.Minute)
		}
		if chaos && n.Status == NodeReady && w.r.IntN(400) == 0 {
			// The node dies; Nomad marks its allocations lost and
			// reschedules them.
			n.Status = NodeDown
			for _, a := range n.allocs {
				q := a.req
				q.Since = w.now
				w.queue = append(w.queue, q)
			}
			n.allocs, n.Used, n.Allocs = nil, Resources{}, 0
		}
	}
	rest := w.booting[:0]
	for _, m := range w.booting {
		if !m.readyAt.IsZero() && !m.readyAt.After(w.now) {
			w.nodes = append(w.nodes, &wNode{Node: Node{
				Name: m.Name, Status: NodeReady, Eligible: true, Total: w.capacity(), CreatedAt: m.readyAt,
			}})
			continue
		}
		rest = append(rest, m)
	}
	w.booting = rest
}

func (w *world) state() PoolState {
	ps := PoolState{Pool: w.pool, History: w.hist}
	for _, n := range w.nodes {
		node := n.Node
		node.Work = nil
		for _, a := range n.allocs {
			node.Work = append(node.Work, Alloc{ID: a.id, JobID: a.req.JobID, Resources: a.req.Resources, Grace: a.req.grace,
				StartedAt: a.started, Stopping: !a.stopAt.IsZero()})
		}
		ps.Nodes = append(ps.Nodes, node)
	}
	for _, m := range w.booting {
		ps.Booting = append(ps.Booting, m.Machine)
	}
	for _, q := range w.queue {
		ps.Pending = append(ps.Pending, q.Request)
	}
	return ps
}

func (w *world) find(name string) int {
	return slices.IndexFunc(w.nodes, func(n *wNode) bool { return n.Name == name })
}

// decide runs one decision, checks the invariants against the state it
// was made on, and applies it.
func (w *world) decide(p Policy) Decision {
	t := w.t
	ps := w.state()
	d := p.DecidePool(w.pool.Name, ps, w.now)
	k := kinds(d)
	for _, name := range k[Remove] {
		i := w.find(name)
		if i < 0 {
			t.Fatalf("%v: removes %s, which is no registered node", w.now, name)
		}
		if w.nodes[i].Allocs > 0 {
			t.Fatalf("%v: removes %s while it runs %d allocation(s)", w.now, name, w.nodes[i].Allocs)
		}
	}
	for _, name := range k[Replace] {
		if i := w.find(name); i >= 0 {
			if w.nodes[i].Status != NodeDown {
				t.Fatalf("%v: replaces %s, which is %s", w.now, name, w.nodes[i].Status)
			}
		} else if j := slices.IndexFunc(w.booting, func(m wMachine) bool { return m.Name == name }); j < 0 ||
			w.now.Sub(w.booting[j].RequestedAt) < w.pool.BootTimeout {
			t.Fatalf("%v: replaces %s before its boot_timeout", w.now, name)
		}
	}
	if len(k[Create]) > 0 && len(k[Drain]) > 0 {
		t.Fatalf("%v: creates %v and drains %v in one decision", w.now, k[Create], k[Drain])
	}
	for _, name := range k[Drain] {
		i := w.find(name)
		if i < 0 || w.nodes[i].Allocs > 0 {
			t.Fatalf("%v: drains %s, which is missing or busy", w.now, name)
		}
		if idleFor := w.now.Sub(idleSince(&w.nodes[i].Node)); idleFor < min(p.ScaleInGrace, w.pool.IdleTimeout) && p.ScaleInGrace > 0 ||
			p.ScaleInGrace == 0 && idleFor < w.pool.IdleTimeout {
			t.Fatalf("%v: drains %s after only %s idle", w.now, name, idleFor)
		}
		if !w.lastCreate.IsZero() && w.now.Sub(w.lastCreate) < p.ScaleInGrace {
			t.Fatalf("%v: scale-in of %s %s after a scale-up", w.now, name, w.now.Sub(w.lastCreate))
		}
	}
	for _, name := range k[Create] {
		if w.used[name] {
			t.Fatalf("%v: reuses the name %s", w.now, name)
		}
		w.used[name] = true
	}
	if w.pool.MaxNodes > 0 && len(d.TargetNodes) > w.pool.MaxNodes {
		t.Fatalf("%v: %d target nodes above max_nodes %d", w.now, len(d.TargetNodes), w.pool.MaxNodes)
	}
	if len(d.TargetNodes) < w.pool.MinNodes {
		t.Fatalf("%v: %d target nodes below min_nodes %d", w.now, len(d.TargetNodes), w.pool.MinNodes)
	}
	for _, r := range d.Unschedulable {
		if w.fitsNode(r.Resources) {
			t.Fatalf("%v: %s reported unschedulable but fits a node", w.now, r.ID)
		}
	}

	// Apply, as the loop would against Nomad and Terraform.
	for _, a := range d.Actions {
		for _, name := range a.Nodes {
			i := w.find(name)
			switch a.Kind {
			case MarkEligible:
				w.nodes[i].Eligible, w.nodes[i].Draining = true, false
			case MarkIneligible:
				w.nodes[i].Eligible = false
			case Drain:
				w.nodes[i].Eligible, w.nodes[i].Draining = false, true
			case Remove, Replace:
				if i >= 0 {
					w.nodes = slices.Delete(w.nodes, i, i+1)
				} else {
					w.booting = slices.DeleteFunc(w.booting, func(m wMachine) bool { return m.Name == name })
				}
			case Create:
				m := wMachine{Machine: Machine{Name: name, RequestedAt: w.now}, readyAt: w.now.Add(w.boot)}
				if w.r.IntN(20) == 0 {
					m.readyAt = time.Time{} // never registers
				}
				w.booting = append(w.booting, m)
				w.lastCreate = w.now
			}
		}
	}
	w.hist = d.History
	// Terraform's state is exactly the target set.
	var have []string
	for _, n := range w.nodes {
		have = append(have, n.Name)
	}
	for _, m := range w.booting {
		have = append(have, m.Name)
	}
	slices.Sort(have)
	if !slices.Equal(have, d.TargetNodes) {
		t.Fatalf("%v: after applying, pool holds %v but TargetNodes is %v", w.now, have, d.TargetNodes)
	}
	return d
}

func randomWorld(t *testing.T, seed uint64) *world {
	r := rand.New(rand.NewPCG(seed, 99))
	gpn := []int{1, 2, 4, 8}[r.IntN(4)]
	pool := &spec.Pool{
		Name: "p", GPUsPerNode: gpn,
		MinNodes:    r.IntN(3),
		IdleTimeout: time.Duration(1+r.IntN(20)) * time.Minute,
		BootTimeout: time.Duration(5+r.IntN(15)) * time.Minute,
	}
	pool.MaxNodes = pool.MinNodes + 1 + r.IntN(8)
	if r.IntN(2) == 0 {
		pool.CPUPerNode = 1000 * (1 + r.IntN(64))
		pool.MemoryPerNode = int64(1+r.IntN(512)) << 30
	}
	return &world{
		t: t, r: r, pool: pool, boot: time.Duration(1+r.IntN(8)) * time.Minute,
		now: t0, used: map[string]bool{},
	}
}

// TestDecideProperties drives Decide through random clusters and event
// sequences and checks its invariants on every step, then stops the
// arrivals and checks that every queued run that fits a node ran.
func TestDecideProperties(t *testing.T) {
	policies := map[string]Policy{"default": DefaultPolicy(), "idle-timeout": IdleTimeoutPolicy()}
	for name, p := range policies {
		for seed := range uint64(150) {
			t.Run(fmt.Sprintf("%s/seed%d", name, seed), func(t *testing.T) {
				w := randomWorld(t, seed)
				for range 300 {
					w.advance(time.Duration(1+w.r.IntN(300))*time.Second, true)
					for range w.r.IntN(4) {
						if w.r.IntN(3) == 0 {
							w.queue = append(w.queue, w.randReq())
						}
					}
					w.place()
					w.decide(p)
					w.place()
				}
				// Liveness: no new work, no more failures; everything that
				// fits a node must eventually run.
				deadline := w.now.Add(60 * 24 * time.Hour)
				for w.now.Before(deadline) {
					w.advance(10*time.Minute, false)
					w.place()
					w.decide(p)
					w.place()
					if w.drained() {
						break
					}
				}
				for _, q := range w.queue {
					if w.fitsNode(q.Resources) {
						for _, n := range w.nodes {
							t.Logf("node %s %s elig=%v drain=%v used=%+v allocs=%d", n.Name, n.Status, n.Eligible, n.Draining, n.Used, n.Allocs)
						}
						t.Logf("booting %+v hist %+v", w.booting, w.hist)
						t.Logf("decision %+v", w.decide(p))
						t.Fatalf("request %s (%+v) still queued after 60 days; pool %+v", q.ID, q.Resources, *w.pool)
					}
				}
				// And the pool shrinks back to min_nodes once idle.
				for range 120 {
					w.advance(time.Minute, false)
					w.place()
					w.decide(p)
				}
				if live := len(w.nodes) + len(w.booting); live != w.pool.MinNodes {
					t.Fatalf("idle pool holds %d machines, want min_nodes %d", live, w.pool.MinNodes)
				}
			})
		}
	}
}

func (w *world) drained() bool {
	for _, q := range w.queue {
		if w.fitsNode(q.Resources) {
			return false
		}
	}
	for _, n := range w.nodes {
		if n.Allocs > 0 {
			return false
		}
	}
	return true
}
