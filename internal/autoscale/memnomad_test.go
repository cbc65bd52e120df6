package autoscale

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/nomad/api"

	"github.com/caravan-ml/caravan/internal/nomad"
)

// memNomad is an in-memory Nomad for the loop's tests: nodes with GPUs,
// batch jobs whose allocations a best-fit scheduler places, operator and
// autoscaler node operations, and Variables with check-and-set. Faults are
// injected through the hooks. It is fast enough for thousands of random
// event sequences, which the HTTP fake (nomadtest) is not.
type memNomad struct {
	mu    sync.Mutex
	nodes []*memNode
	jobs  []*memJob
	vars  map[string]*api.Variable
	index uint64
	seq   int
	// before, when set, is called (without the lock) at the start of
	// every call with its name ("nodes", "allocs <node>", "put <path>",
	// "eligibility <node>", ...); a non-nil error fails the call.
	before func(call string) error
	// writes counts successful variable writes by path; onPut, when set,
	// sees each one.
	writes map[string]int
	onPut  func(path string, items map[string]string)
}

type memNode struct {
	id, name, pool string
	status         string
	eligible       bool
	drain          bool
	gpus           int
	allocs         []*memAlloc
}

type memAlloc struct {
	id, job string
	gpus    int
	done    bool
}

type memJob struct {
	id, pool string
	gpus     int
	queued   int
	placed   int
	stopped  bool
}

func newMemNomad() *memNomad {
	return &memNomad{vars: map[string]*api.Variable{}, writes: map[string]int{}}
}

func (m *memNomad) call(ctx context.Context, name string) error {
	// A call whose context ended never reaches Nomad, as with the real
	// client.
	if err := ctx.Err(); err != nil {
		return err
	}
	if m.before != nil {
		return m.before(name)
	}
	return nil
}

// addNode registers a node (a machine that booted) and places work.
func (m *memNomad) addNode(name, pool string, gpus int) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.seq++
	id := fmt.Sprintf("node-%04d", m.seq)
	m.nodes = append(m.nodes, &memNode{id: id, name: name, pool: pool, status: "ready", eligible: true, gpus: gpus})
	m.placeLocked()
	return id
}

// removeNode takes a node out of Nomad's view (its machine was destroyed
// and the node garbage-collected).
func (m *memNomad) removeNode(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nodes = slices.DeleteFunc(m.nodes, func(n *memNode) bool { return n.name == name })
}

func (m *memNomad) node(name string) *memNode {
	for _, n := range m.nodes {
		if n.name == name {
			return n
		}
	}
	return nil
}

// setNode changes a node under the lock (operator actions, failures).
func (m *memNomad) setNode(name string, f func(n *memNode)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.node(name); n != nil {
		f(n)
		m.placeLocked()
	}
}

// activeAllocs is how many allocations run on the node called name.
func (m *memNomad) activeAllocs(name string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if n := m.node(name); n != nil {
		return n.active()
	}
	return 0
}

func (n *memNode) active() int {
	c := 0
	for _, a := range n.allocs {
		if !a.done {
			c++
		}
	}
	return c
}

func (n *memNode) usedGPUs() int {
	u := 0
	for _, a := range n.allocs {
		if !a.done {
			u += a.gpus
		}
	}
	return u
}

// submit queues a job of count allocations asking for gpus GPUs each.
func (m *memNomad) submit(id, pool string, gpus, count int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.jobs = append(m.jobs, &memJob{id: id, pool: pool, gpus: gpus, queued: count})
	m.placeLocked()
}

// finish ends up to k running allocations (oldest first) and places work.
func (m *memNomad) finish(k int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nodes {
		for _, a := range n.allocs {
			if k == 0 {
				break
			}
			if !a.done {
				a.done = true
				k--
			}
		}
	}
	m.settleLocked()
	m.placeLocked()
	// Nomad's job GC: jobs with nothing queued or running go.
	m.jobs = slices.DeleteFunc(m.jobs, func(j *memJob) bool { return j.queued == 0 && !m.runningLocked(j.id) })
}

func (m *memNomad) runningLocked(job string) bool {
	for _, n := range m.nodes {
		for _, a := range n.allocs {
			if a.job == job && !a.done {
				return true
			}
		}
	}
	return false
}

// settleLocked finishes drains whose nodes emptied.
func (m *memNomad) settleLocked() {
	for _, n := range m.nodes {
		if n.drain && n.active() == 0 {
			n.drain = false
		}
	}
}

// placeLocked is Nomad's scheduler: best fit over ready, eligible,
// non-draining nodes of the job's node pool.
func (m *memNomad) placeLocked() {
	for _, j := range m.jobs {
		for j.queued > 0 && !j.stopped {
			var best *memNode
			for _, n := range m.nodes {
				if n.pool != j.pool || n.status != "ready" || !n.eligible || n.drain || n.gpus-n.usedGPUs() < j.gpus {
					continue
				}
				if best == nil || n.gpus-n.usedGPUs() < best.gpus-best.usedGPUs() {
					best = n
				}
			}
			if best == nil {
				break
			}
			m.seq++
			best.allocs = append(best.allocs, &memAlloc{id: fmt.Sprintf("alloc-%d", m.seq), job: j.id, gpus: j.gpus})
			j.queued--
			j.placed++
		}
	}
}

// nodeDown marks a node down: Nomad loses its allocations and queues them
// again.
func (m *memNomad) nodeDown(name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.node(name)
	if n == nil {
		return
	}
	n.status = "down"
	for _, a := range n.allocs {
		if a.done {
			continue
		}
		a.done = true
		for _, j := range m.jobs {
			if j.id == a.job {
				j.queued++
			}
		}
	}
	m.placeLocked()
}

// ClusterReader.

func (m *memNomad) Nodes(ctx context.Context) ([]*api.NodeListStub, error) {
	if err := m.call(ctx, "nodes"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*api.NodeListStub, 0, len(m.nodes))
	for _, n := range m.nodes {
		elig := api.NodeSchedulingEligible
		if !n.eligible {
			elig = api.NodeSchedulingIneligible
		}
		var inst []*api.NodeDevice
		for i := range n.gpus {
			inst = append(inst, &api.NodeDevice{ID: fmt.Sprintf("gpu%d", i), Healthy: true})
		}
		out = append(out, &api.NodeListStub{
			ID: n.id, Name: n.name, NodePool: n.pool, Status: n.status, SchedulingEligibility: elig, Drain: n.drain,
			NodeResources: &api.NodeResources{
				Cpu:     api.NodeCpuResources{CpuShares: 8000},
				Memory:  api.NodeMemoryResources{MemoryMB: 32768},
				Devices: []*api.NodeDeviceResource{{Vendor: "nvidia", Type: "gpu", Name: "sim", Instances: inst}},
			},
		})
	}
	return out, nil
}

func (m *memNomad) NodeAllocations(ctx context.Context, id string) ([]*api.Allocation, error) {
	m.mu.Lock()
	var name string
	for _, n := range m.nodes {
		if n.id == id {
			name = n.name
		}
	}
	m.mu.Unlock()
	if err := m.call(ctx, "allocs "+name); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*api.Allocation
	for _, n := range m.nodes {
		if n.id != id {
			continue
		}
		for _, a := range n.allocs {
			status := api.AllocClientStatusRunning
			if a.done {
				status = api.AllocClientStatusComplete
			}
			ids := make([]string, a.gpus)
			for i := range ids {
				ids[i] = fmt.Sprintf("gpu%d", i)
			}
			typ := api.JobTypeBatch
			out = append(out, &api.Allocation{
				ID: a.id, JobID: a.job, NodeID: id, NodeName: n.name, ClientStatus: status,
				Job: &api.Job{ID: &a.job, Type: &typ},
				AllocatedResources: &api.AllocatedResources{Tasks: map[string]*api.AllocatedTaskResources{
					"t": {Devices: []*api.AllocatedDeviceResource{{Vendor: "nvidia", Type: "gpu", Name: "sim", DeviceIDs: ids}}},
				}},
			})
		}
	}
	return out, nil
}

func (m *memNomad) Jobs(ctx context.Context, _ string) ([]*api.JobListStub, error) {
	if err := m.call(ctx, "jobs"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*api.JobListStub
	for _, j := range m.jobs {
		status := "pending"
		if j.stopped {
			status = "dead"
		}
		out = append(out, &api.JobListStub{
			ID: j.id, Namespace: "default", Status: status, Stop: j.stopped, JobModifyIndex: 1,
			JobSummary: &api.JobSummary{Summary: map[string]api.TaskGroupSummary{"run": {Queued: j.queued}}},
		})
	}
	return out, nil
}

func (m *memNomad) Job(ctx context.Context, _, id string) (*api.Job, error) {
	if err := m.call(ctx, "job "+id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range m.jobs {
		if j.id != id {
			continue
		}
		job := api.NewBatchJob(j.id, j.id, "global", 50)
		job.NodePool = &j.pool
		job.JobModifyIndex = ptrTo(uint64(1))
		tg := api.NewTaskGroup("run", 1)
		task := api.NewTask("train", "raw_exec")
		task.Resources = &api.Resources{CPU: ptrTo(100), MemoryMB: ptrTo(64),
			Devices: []*api.RequestedDevice{{Name: "nvidia/gpu", Count: ptrTo(uint64(j.gpus))}}}
		tg.Tasks = []*api.Task{task}
		job.TaskGroups = []*api.TaskGroup{tg}
		return job, nil
	}
	return nil, fmt.Errorf("job %s: %w", id, nomad.ErrNotFound)
}

func (m *memNomad) BlockedEvaluations(ctx context.Context, _ string) ([]*api.Evaluation, error) {
	return nil, m.call(ctx, "evals")
}

// NodeActor.

func (m *memNomad) nodeOp(ctx context.Context, id, what string, f func(n *memNode)) error {
	m.mu.Lock()
	var name string
	for _, n := range m.nodes {
		if n.id == id {
			name = n.name
		}
	}
	m.mu.Unlock()
	if err := m.call(ctx, what+" "+name); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range m.nodes {
		if n.id == id {
			f(n)
			m.settleLocked()
			m.placeLocked()
			return nil
		}
	}
	return fmt.Errorf("node %s: %w", id, nomad.ErrNotFound)
}

func (m *memNomad) SetEligibility(ctx context.Context, id string, eligible bool) error {
	return m.nodeOp(ctx, id, "eligibility", func(n *memNode) { n.eligible = eligible })
}

func (m *memNomad) DrainNode(ctx context.Context, id string, _ time.Duration, _ map[string]string) error {
	return m.nodeOp(ctx, id, "drain", func(n *memNode) {
		n.drain, n.eligible = true, false
		// A drain migrates batch work only at its deadline; the
		// model lets it finish instead.
	})
}

func (m *memNomad) CancelDrain(ctx context.Context, id string, eligible bool) error {
	return m.nodeOp(ctx, id, "canceldrain", func(n *memNode) { n.drain, n.eligible = false, eligible })
}

func ptrTo[T any](v T) *T { return &v }
