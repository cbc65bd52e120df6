package sim

import (
	"container/heap"
	"fmt"
	"time"

	"github.com/caravan-ml/caravan/internal/autoscale/decide"
)

// simNode is a registered machine of the simulated pool.
type simNode struct {
	name        string
	requestedAt time.Time // when it was asked for: paid from here
	createdAt   time.Time // when it registered
	usedGPUs    int
	allocs      int
	eligible    bool
	draining    bool
	lastBusy    time.Time
	// preemptAt is when the cloud takes a spot machine back (zero: never).
	preemptAt time.Time
	// jobs running here, to know the age of the oldest.
	jobs []*simJob
}

// machine is a name asked for that is still booting.
type machine struct {
	name        string
	requestedAt time.Time
	readyAt     time.Time
}

// simJob is a job of the trace during the simulation.
type simJob struct {
	Job
	idx   int
	nodes int // whole nodes at once when > 1
	gpus  int // per node when nodes > 1, else the job's GPUs
	start time.Time
	end   time.Time
	on    []*simNode
	// left is the run time still to go when it next starts; attempt
	// counts its starts (a move starts it again).
	left    time.Duration
	attempt int
	// requeued is when a move or a preemption put it back in the queue
	// (zero: it has not been).
	requeued time.Time
	hidx     int // index in the running heap
}

// cluster is the simulated pool: nodes, booting machines, the queue.
type cluster struct {
	gpn      int // GPUs per node
	now      time.Time
	boot     time.Duration
	nodes    []*simNode
	booting  []machine
	queue    []*simJob // FIFO by submission
	paidNode time.Duration
	// GPU-time paid for nothing: booting, on empty nodes, and left free
	// on partly used nodes.
	bootGPU, idleGPU, fragGPU time.Duration
	boots                     int
	peak                      int
	// changed is set when capacity may have grown since the last placement
	// pass (a run ended, a node registered, a node became eligible).
	changed bool
	// violations counts removals of nodes that still held work; the
	// simulator reports it so tests can insist on zero.
	violations int
	// flips counts eligibility changes asked of Nomad.
	flips int
	// running are the started jobs by end time; overhead is the
	// checkpoint grace of every single-node job (0: none moves).
	running  finishHeap
	overhead time.Duration
	moves    int
	moveGPU  time.Duration
	// spot is nil for on-demand machines.
	spot *spotState
	// delays are the queueing delays of jobs at their first start, resumes
	// the waits of jobs started again after a move or a preemption.
	delays, resumes []float64
}

// start runs j from now on the nodes place chose, and records how long it
// waited.
func (c *cluster) start(j *simJob) {
	j.start = c.now
	j.end = j.start.Add(j.left)
	if j.attempt == 0 {
		c.delays = append(c.delays, j.start.Sub(Epoch.Add(j.Submit)).Seconds())
	}
	if !j.requeued.IsZero() {
		c.resumes = append(c.resumes, j.start.Sub(j.requeued).Seconds())
		j.requeued = time.Time{}
	}
	j.attempt++
	heap.Push(&c.running, j)
}

func (c *cluster) find(name string) int {
	for i, n := range c.nodes {
		if n.name == name {
			return i
		}
	}
	return -1
}

// place runs Nomad-like best-fit placement over the queue, oldest first,
// letting later runs start when earlier ones do not fit (Nomad keeps no
// strict queue order). It returns the jobs started.
func (c *cluster) place(now time.Time) {
	if len(c.queue) == 0 {
		return
	}
	maxFree, empty := 0, 0
	for _, n := range c.nodes {
		if n.eligible && !n.draining {
			maxFree = max(maxFree, c.gpn-n.usedGPUs)
			if n.allocs == 0 {
				empty++
			}
		}
	}
	if maxFree == 0 {
		return
	}
	w := 0
	for _, j := range c.queue {
		if c.tryPlace(j, now, &maxFree, &empty) {
			c.start(j)
			continue
		}
		c.queue[w] = j
		w++
	}
	clear(c.queue[w:])
	c.queue = c.queue[:w]
}

func (c *cluster) tryPlace(j *simJob, now time.Time, maxFree, empty *int) bool {
	if j.nodes > 1 {
		if *empty < j.nodes {
			return false
		}
		j.on = j.on[:0]
		for _, n := range c.nodes {
			if n.eligible && !n.draining && n.allocs == 0 {
				j.on = append(j.on, n)
				if len(j.on) == j.nodes {
					break
				}
			}
		}
		for _, n := range j.on {
			c.assign(n, c.gpn, now)
			n.jobs = append(n.jobs, j)
		}
		*empty -= j.nodes
		c.recount(maxFree, empty)
		return true
	}
	if j.gpus > *maxFree {
		return false
	}
	var best *simNode
	for _, n := range c.nodes {
		if !n.eligible || n.draining {
			continue
		}
		free := c.gpn - n.usedGPUs
		if free >= j.gpus && (best == nil || free < c.gpn-best.usedGPUs) {
			best = n
		}
	}
	if best == nil {
		return false
	}
	if best.allocs == 0 {
		*empty--
	}
	c.assign(best, j.gpus, now)
	best.jobs = append(best.jobs, j)
	j.on = append(j.on[:0], best)
	if c.gpn-best.usedGPUs+j.gpus == *maxFree {
		c.recount(maxFree, empty)
	}
	return true
}

func (c *cluster) assign(n *simNode, gpus int, now time.Time) {
	n.usedGPUs += gpus
	n.allocs++
	n.lastBusy = now
}

func (c *cluster) recount(maxFree, empty *int) {
	*maxFree, *empty = 0, 0
	for _, n := range c.nodes {
		if n.eligible && !n.draining {
			*maxFree = max(*maxFree, c.gpn-n.usedGPUs)
			if n.allocs == 0 {
				*empty++
			}
		}
	}
}

// finish frees what j held.
func (c *cluster) finish(j *simJob, now time.Time) { c.release(j, now) }

// move moves the jobs of work off node: each leaves it at once and queues
// again with the checkpoint overhead added to what it has left to run,
// as Nomad places the replacement at once and starts it once the old
// allocation has checkpointed; the overhead is the GPU time the move
// loses.
func (c *cluster) move(work []decide.Alloc, node string, now time.Time) {
	i := c.find(node)
	if i < 0 {
		return
	}
	n := c.nodes[i]
	var leaving []*simJob
	for _, a := range work {
		for _, j := range n.jobs {
			if allocID(j) == a.ID && j.nodes == 1 && c.overhead > 0 && j.hidx >= 0 {
				leaving = append(leaving, j)
			}
		}
	}
	for _, j := range leaving {
		heap.Remove(&c.running, j.hidx)
		c.release(j, now)
		j.left = j.end.Sub(now) + c.overhead
		j.requeued = now
		c.queue = append(c.queue, j)
		c.moves++
		c.moveGPU += c.overhead * time.Duration(j.gpus)
	}
}

// allocID names the allocation of j's current attempt.
func allocID(j *simJob) string { return j.ID + "#" + itoa(j.attempt) }

// release frees what j held.
func (c *cluster) release(j *simJob, now time.Time) {
	per := j.gpus
	if j.nodes > 1 {
		per = c.gpn
	}
	for _, n := range j.on {
		n.usedGPUs -= per
		n.allocs--
		n.lastBusy = now
		for k, x := range n.jobs {
			if x == j {
				n.jobs = append(n.jobs[:k], n.jobs[k+1:]...)
				break
			}
		}
	}
	c.changed = true
}

// register turns booted machines into ready nodes.
func (c *cluster) register(now time.Time) {
	w := 0
	for _, m := range c.booting {
		if !m.readyAt.After(now) {
			c.nodes = append(c.nodes, &simNode{name: m.name, requestedAt: m.requestedAt, createdAt: now, eligible: true, preemptAt: c.spot.draw(now)})
			c.changed = true
			continue
		}
		c.booting[w] = m
		w++
	}
	c.booting = c.booting[:w]
}

// create asks for a machine that registers after the boot delay.
func (c *cluster) create(name string, now time.Time) {
	c.booting = append(c.booting, machine{name: name, requestedAt: now, readyAt: now.Add(c.boot)})
	c.boots++
	c.peak = max(c.peak, len(c.nodes)+len(c.booting))
}

// remove takes a name out of the pool, paying for its lifetime.
func (c *cluster) remove(name string, now time.Time) {
	if i := c.find(name); i >= 0 {
		n := c.nodes[i]
		if n.allocs > 0 {
			c.violations++
		}
		c.paidNode += now.Sub(n.requestedAt)
		c.nodes = append(c.nodes[:i], c.nodes[i+1:]...)
		return
	}
	for i, m := range c.booting {
		if m.name == name {
			c.paidNode += now.Sub(m.requestedAt)
			c.booting = append(c.booting[:i], c.booting[i+1:]...)
			return
		}
	}
}

// apply carries out a policy's actions.
func (c *cluster) apply(acts []decide.Action, now time.Time) error {
	for _, a := range acts {
		for _, name := range a.Nodes {
			switch a.Kind {
			case decide.Create:
				c.create(name, now)
			case decide.Remove, decide.Replace:
				c.remove(name, now)
			case decide.MarkEligible:
				c.flips++
				if i := c.find(name); i >= 0 {
					c.nodes[i].eligible, c.nodes[i].draining = true, false
					c.changed = true
				}
			case decide.MarkIneligible:
				c.flips++
				if i := c.find(name); i >= 0 {
					c.nodes[i].eligible = false
				}
			case decide.Move:
				c.move(a.Work, name, now)
			case decide.Drain:
				if i := c.find(name); i >= 0 {
					c.nodes[i].eligible, c.nodes[i].draining = false, true
				}
			default:
				return fmt.Errorf("simulator: unknown action %q", a.Kind)
			}
		}
	}
	return nil
}

// poolState is the State Observe would build from Nomad for this pool.
func (c *cluster) poolState(ps *decide.PoolState, now time.Time) {
	total := decide.Resources{GPUs: c.gpn, CPU: ps.Pool.CPUPerNode, Memory: ps.Pool.MemoryPerNode}
	ps.Nodes = ps.Nodes[:0]
	for _, n := range c.nodes {
		lb := n.lastBusy
		var oldest time.Time
		if n.allocs > 0 {
			lb = now
			for _, j := range n.jobs {
				if oldest.IsZero() || j.start.Before(oldest) {
					oldest = j.start
				}
			}

		}
		ps.Nodes = append(ps.Nodes, decide.Node{
			Name: n.name, Status: decide.NodeReady, Eligible: n.eligible && !n.draining, Draining: n.draining,
			Total: total, Used: decide.Resources{GPUs: n.usedGPUs}, Allocs: n.allocs,
			LastBusy: lb, CreatedAt: n.createdAt, OldestAlloc: oldest, Work: c.work(n),
		})
	}
	ps.Booting = ps.Booting[:0]
	for _, m := range c.booting {
		ps.Booting = append(ps.Booting, decide.Machine{Name: m.name, RequestedAt: m.requestedAt})
	}
	ps.Pending = ps.Pending[:0]
	for _, j := range c.queue {
		for k := 0; k < j.nodes; k++ {
			ps.Pending = append(ps.Pending, decide.Request{
				ID: j.ID, JobID: j.ID, Resources: decide.Resources{GPUs: j.gpus}, Since: Epoch.Add(j.Submit),
			})
		}
	}
}

// work is what Observe would list of n's allocations: a single-node job
// checkpoints when the simulation has an overhead.
func (c *cluster) work(n *simNode) []decide.Alloc {
	if c.overhead <= 0 || len(n.jobs) == 0 {
		return nil
	}
	out := make([]decide.Alloc, 0, len(n.jobs))
	for _, j := range n.jobs {
		a := decide.Alloc{ID: allocID(j), JobID: j.ID, Resources: decide.Resources{GPUs: j.gpus}, StartedAt: j.start}
		if j.nodes == 1 {
			a.Grace = c.overhead
		}
		out = append(out, a)
	}
	return out
}

// account charges dt of the current cluster shape to the waste counters.
func (c *cluster) account(dt time.Duration) {
	if dt <= 0 {
		return
	}
	c.bootGPU += dt * time.Duration(c.gpn*len(c.booting))
	for _, n := range c.nodes {
		if n.allocs == 0 {
			c.idleGPU += dt * time.Duration(c.gpn)
		} else {
			c.fragGPU += dt * time.Duration(c.gpn-n.usedGPUs)

		}
	}
}
