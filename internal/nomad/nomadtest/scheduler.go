package nomadtest

import (
	"fmt"
	"sort"
)

// A minimal believable scheduler: one evaluation per registration, best-fit
// placement on ready eligible nodes of the job's node pool by GPUs, CPU and
// memory, and a blocked evaluation with Nomad's failure metrics when
// something cannot be placed. Blocked evaluations are retried whenever
// capacity appears (a node joins or becomes eligible, an allocation ends).
// Device constraints on model, vendor, type and memory are evaluated
// (constraints.go); affinities and spreads are not.

const (
	reasonMissingDevices = "missing devices"
	reasonDevicesBusy    = "devices: no devices match request"
)

// nodeUse is what non-terminal allocations hold on a node.
type nodeUse struct {
	cpu     int
	mem     int64
	devices map[string]bool
}

// usage is cached per node until an allocation on it changes (see
// allocChanged): placement asks for it once per node per placement.
func (s *Server) usage(n *node) (u nodeUse) {
	u = nodeUse{devices: map[string]bool{}}
	if u, ok := s.usageCache[n.ID]; ok {
		return u
	}
	defer func() { s.usageCache[n.ID] = u }()
	for _, id := range s.nodeAllocs[n.ID] {
		a := s.allocs[id]
		if !a.holdsResources() {
			continue
		}
		for _, t := range a.Tasks {
			u.cpu += t.CPU
			u.mem += t.MemoryMB
		}
		for _, ids := range a.Devices {
			for _, d := range ids {
				u.devices[d] = true
			}
		}
	}
	return u
}

// place tries to put one allocation of g on a node; it returns the node and
// the device instances per task, or the failure metrics.
func (s *Server) place(j *job, g *group, f *failure) (*node, map[string][]string, map[string]*device) {
	type fit struct {
		n       *node
		devs    map[string][]string
		groups  map[string]*device
		freeGPU int
		freeCPU int
	}
	var best *fit
	for _, id := range s.nodeOrder {
		n := s.nodes[id]
		if j.Pool != "all" && n.Pool != j.Pool {
			continue
		}
		f.NodesInPool++
		if n.Status != "ready" || !n.Eligible || n.Drain {
			continue
		}
		f.NodesAvailable[n.Datacenter]++
		f.NodesEvaluated++
		// Feasibility: enough matching device instances at all.
		feasible := true
		for _, t := range g.Tasks {
			if t.DeviceCount == 0 {
				continue
			}
			total := 0
			for _, d := range n.Devices {
				if d.matches(t.DeviceName) && d.satisfies(t.DeviceConstraints) {
					total += len(d.IDs)
				}
			}
			if total < t.DeviceCount {
				feasible = false
			}
		}
		if !feasible {
			f.NodesFiltered++
			f.ConstraintFiltered[reasonMissingDevices]++
			continue
		}
		u := s.usage(n)
		if u.cpu+g.cpu() > n.CPU {
			f.NodesExhausted++
			f.DimensionExhausted["cpu"]++
			continue
		}
		if u.mem+g.mem() > n.MemoryMB {
			f.NodesExhausted++
			f.DimensionExhausted["memory"]++
			continue
		}
		devs := map[string][]string{}
		groups := map[string]*device{}
		ok := true
		taken := map[string]bool{}
		for _, t := range g.Tasks {
			if t.DeviceCount == 0 {
				continue
			}
			var got []string
			for _, d := range n.Devices {
				if !d.matches(t.DeviceName) || !d.satisfies(t.DeviceConstraints) {
					continue
				}
				var ids []string
				for _, inst := range d.IDs {
					if !u.devices[inst] && !taken[inst] {
						ids = append(ids, inst)
					}
				}
				if len(ids) >= t.DeviceCount {
					got = ids[:t.DeviceCount]
					groups[t.Name] = d
					break
				}
			}
			if got == nil {
				ok = false
				break
			}
			for _, x := range got {
				taken[x] = true
			}
			devs[t.Name] = got
		}
		if !ok {
			f.NodesExhausted++
			f.DimensionExhausted[reasonDevicesBusy]++
			continue
		}
		freeGPU := 0
		for _, d := range n.Devices {
			for _, inst := range d.IDs {
				if !u.devices[inst] && !taken[inst] {
					freeGPU++
				}
			}
		}
		c := &fit{n: n, devs: devs, groups: groups, freeGPU: freeGPU, freeCPU: n.CPU - u.cpu - g.cpu()}
		if best == nil || c.freeGPU < best.freeGPU || (c.freeGPU == best.freeGPU && c.freeCPU < best.freeCPU) {
			best = c
		}
	}
	if best == nil {
		return nil, nil, nil
	}
	return best.n, best.devs, best.groups
}

func newFailure() *failure {
	return &failure{NodesAvailable: map[string]int{}, ConstraintFiltered: map[string]int{}, DimensionExhausted: map[string]int{}}
}

// schedule runs evaluation ev for job j (mu held): stop what a stopped job
// runs, place what is missing, and block on what does not fit.
func (s *Server) schedule(j *job, ev *eval) {
	idx := s.nextIndex()
	now := s.nowNano()
	ev.ModifyIndex, ev.ModifyTime = idx, now
	ev.Queued, ev.Place, ev.Stop = map[string]int{}, map[string]int{}, map[string]int{}
	ev.Failed = nil
	if j.Stop {
		for _, id := range s.jobAllocs[nsKey{j.NS, j.ID}] {
			a := s.allocs[id]
			if a.DesiredStatus != "run" {
				continue
			}
			if a.terminal() {
				continue
			}
			ev.Stop[a.TaskGroup]++
			s.killAlloc(a, "alloc not needed due to job update")
		}
		for g := range j.Queued {
			delete(j.Queued, g)
		}
		for _, g := range j.Groups {
			ev.Queued[g.Name] = 0
		}
		s.cancelBlocked(j, ev.ID)
		ev.Status = "complete"
		s.emitFor(ev.JobID, "Evaluation", "EvaluationUpdated", ev.ID, ev.NS, evalSnap(ev))
		s.retryBlocked()
		return
	}
	failed := map[string]*failure{}
	for _, g := range j.Groups {
		have := 0
		for _, id := range s.jobAllocs[nsKey{j.NS, j.ID}] {
			a := s.allocs[id]
			if a.TaskGroup == g.Name && a.NextAllocation == "" && a.DesiredStatus == "run" {
				have++
			}
		}
		need := g.Count - have
		if need > 0 {
			ev.Place[g.Name] += need // what it set out to place, placed or not
		}
		unplaced := 0
		var f *failure
		for i := 0; i < need; i++ {
			ff := newFailure()
			n, devs, groups := s.place(j, g, ff)
			if n == nil {
				if f == nil {
					f = ff
				} else {
					f.CoalescedFailures++
				}
				unplaced++
				continue
			}
			s.newAlloc(j, g, ev, n, devs, groups, "")
		}
		ev.Queued[g.Name] = unplaced
		if j.Queued == nil {
			j.Queued = map[string]int{}
		}
		j.Queued[g.Name] = unplaced
		if f != nil {
			failed[g.Name] = f
		}
	}
	if len(failed) == 0 {
		if ev.Status == "blocked" {
			ev.StatusDescription = ""
		}
		ev.Status = "complete"
		s.emitFor(ev.JobID, "Evaluation", "EvaluationUpdated", ev.ID, ev.NS, evalSnap(ev))
		return
	}
	ev.Failed = failed
	if ev.Status == "blocked" {
		// still blocked: it waits for the next capacity change
		s.emitFor(ev.JobID, "Evaluation", "EvaluationUpdated", ev.ID, ev.NS, evalSnap(ev))
		return
	}
	ev.Status = "complete"
	s.cancelBlocked(j, ev.ID)
	b := &eval{ID: newUUID(), NS: j.NS, JobID: j.ID, Type: j.Type, Status: "blocked", TriggeredBy: "queued-allocs",
		PreviousEval: ev.ID, Priority: j.Priority, JobModifyIndex: j.JobModifyIndex, Failed: failed, Pool: j.Pool,
		CreateIndex: idx, ModifyIndex: idx, CreateTime: now, ModifyTime: now}
	s.addEval(b)
	s.blocked[nsKey{j.NS, j.ID}] = b.ID
	ev.BlockedEval = b.ID
	s.emitFor(b.JobID, "Evaluation", "EvaluationUpdated", b.ID, b.NS, evalSnap(b))
	s.emitFor(ev.JobID, "Evaluation", "EvaluationUpdated", ev.ID, ev.NS, evalSnap(ev))
}

// cancelBlocked cancels a job's blocked evaluations (a newer evaluation
// supersedes them, as in Nomad).
func (s *Server) cancelBlocked(j *job, by string) {
	if id, ok := s.blocked[nsKey{j.NS, j.ID}]; ok {
		delete(s.blocked, nsKey{j.NS, j.ID})
		e := s.evals[id]
		if e != nil && e.Status == "blocked" {
			e.Status = "canceled"
			e.StatusDescription = fmt.Sprintf("evaluation %q successful", by)
			e.ModifyIndex, e.ModifyTime = s.index, s.nowNano()
			s.emitFor(e.JobID, "Evaluation", "EvaluationUpdated", e.ID, e.NS, evalSnap(e))
		}
	}
}

// retryBlocked re-runs blocked evaluations, highest priority and oldest
// first, after capacity changed (mu held).
func (s *Server) retryBlocked() {
	var blocked []*eval
	for _, id := range s.blocked {
		if e := s.evals[id]; e != nil && e.Status == "blocked" {
			blocked = append(blocked, e)
		}
	}
	sort.Slice(blocked, func(a, b int) bool {
		if blocked[a].Priority != blocked[b].Priority {
			return blocked[a].Priority > blocked[b].Priority
		}
		return blocked[a].CreateIndex < blocked[b].CreateIndex
	})
	for _, e := range blocked {
		j := s.jobs[nsKey{e.NS, e.JobID}]
		if j == nil || j.Stop {
			e.Status = "canceled"
			delete(s.blocked, nsKey{e.NS, e.JobID})
			continue
		}
		s.schedule(j, e)
		if e.Status != "blocked" {
			delete(s.blocked, nsKey{e.NS, e.JobID})
		}
	}
}

func (s *Server) addEval(e *eval) {
	s.evals[e.ID] = e
	s.evalOrder = append(s.evalOrder, e.ID)
}

func (s *Server) newAlloc(j *job, g *group, ev *eval, n *node, devs map[string][]string, groups map[string]*device, prev string) *alloc {
	idx := s.index
	now := s.nowNano()
	nameIdx := 0
	for _, id := range s.jobAllocs[nsKey{j.NS, j.ID}] {
		a := s.allocs[id]
		if a.TaskGroup == g.Name && a.PreviousAllocation == "" {
			nameIdx++
		}
	}
	if prev != "" && s.allocs[prev] != nil {
		nameIdx = -1
	}
	a := &alloc{ID: newUUID(), EvalID: ev.ID, NS: j.NS, NodeID: n.ID, NodeName: n.Name, JobID: j.ID, JobType: j.Type,
		JobVersion: j.Version, TaskGroup: g.Name, ClientStatus: "pending", DesiredStatus: "run",
		Devices: devs, DeviceGroup: groups, Tasks: g.Tasks, States: map[string]*taskState{},
		PreviousAllocation: prev, CreateIndex: idx, ModifyIndex: idx, AllocModifyIndex: idx, CreateTime: now, ModifyTime: now,
		Logs: map[string][]byte{}}
	if nameIdx >= 0 {
		a.Name = fmt.Sprintf("%s.%s[%d]", j.ID, g.Name, nameIdx)
	} else {
		a.Name = s.allocs[prev].Name
	}
	for _, t := range g.Tasks {
		a.States[t.Name] = &taskState{State: "pending", Events: []taskEvent{{Type: "Received", Display: "Task received by client", Time: now, Details: map[string]string{}}}}
	}
	s.allocs[a.ID] = a
	s.allocOrder = append(s.allocOrder, a.ID)
	s.jobAllocs[nsKey{a.NS, a.JobID}] = append(s.jobAllocs[nsKey{a.NS, a.JobID}], a.ID)
	s.nodeAllocs[a.NodeID] = append(s.nodeAllocs[a.NodeID], a.ID)
	delete(s.usageCache, a.NodeID)
	if nameIdx < 0 {
		s.allocs[prev].NextAllocation = a.ID
	}
	s.emitFor(a.JobID, "Allocation", "PlanResult", a.ID, a.NS, planSnap(a))
	if s.autoRun {
		s.startAlloc(a)
	}
	return a
}
