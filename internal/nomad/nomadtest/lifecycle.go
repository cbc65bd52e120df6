package nomadtest

import (
	"fmt"
	"strconv"
	"time"
)

// NodeSpec describes a client node to seed. Zero fields take the values of
// the recorded GPU client (pool "default", dc1, 5192 MHz, 24105 MiB).
type NodeSpec struct {
	Name       string
	Pool       string // node pool; created if missing, as Nomad does
	Datacenter string
	CPU        int   // MHz
	MemoryMB   int64 // MiB
	// GPUs is the number of nvidia/gpu instances (IDs gpu0, gpu1, ...).
	GPUs         int
	GPUName      string // default "H100-SIM"
	GPUMemoryMiB int64  // default 81559
	Meta         map[string]string
	// Status: "ready" (default), "initializing", "down".
	Status     string
	Ineligible bool
}

// AddNode registers a client node and returns its ID; blocked evaluations
// are retried, so queued work may be placed on it at once.
func (s *Server) AddNode(spec NodeSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if spec.Pool == "" {
		spec.Pool = "default"
	}
	if spec.Datacenter == "" {
		spec.Datacenter = "dc1"
	}
	if spec.CPU == 0 {
		spec.CPU = 5192
	}
	if spec.MemoryMB == 0 {
		spec.MemoryMB = 24105
	}
	if spec.Status == "" {
		spec.Status = "ready"
	}
	if spec.Name == "" {
		spec.Name = fmt.Sprintf("node-%d", len(s.nodes)+1)
	}
	idx := s.nextIndex()
	n := &node{ID: newUUID(), Name: spec.Name, Pool: spec.Pool, Datacenter: spec.Datacenter, Status: spec.Status,
		Eligible: !spec.Ineligible, CPU: spec.CPU, MemoryMB: spec.MemoryMB, Meta: spec.Meta,
		CreateIndex: idx, ModifyIndex: idx, StatusUpdatedAt: s.Now().Unix()}
	if spec.GPUs > 0 {
		d := &device{Vendor: "nvidia", Type: "gpu", Name: spec.GPUName, MemoryMiB: spec.GPUMemoryMiB}
		if d.Name == "" {
			d.Name = "H100-SIM"
		}
		if d.MemoryMiB == 0 {
			d.MemoryMiB = 81559
		}
		for i := 0; i < spec.GPUs; i++ {
			d.IDs = append(d.IDs, "gpu"+strconv.Itoa(i))
		}
		n.Devices = []*device{d}
	}
	s.ensurePool(spec.Pool)
	s.nodes[n.ID] = n
	s.nodeOrder = append(s.nodeOrder, n.ID)
	s.emit("Node", "NodeRegistration", n.ID, "", nodeSnap(n))
	s.retryBlocked()
	return n.ID
}

// AddNodePool creates a node pool.
func (s *Server) AddNodePool(name, description string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensurePool(name)
	s.pools[name].Description = description
}

func (s *Server) ensurePool(name string) {
	if _, ok := s.pools[name]; ok {
		return
	}
	idx := s.nextIndex()
	s.pools[name] = &nodePool{Name: name, CreateIndex: idx, ModifyIndex: idx}
	s.poolOrder = append(s.poolOrder, name)
}

// NodeID finds a node by name ("" when absent).
func (s *Server) NodeID(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.nodeOrder {
		if s.nodes[id].Name == name {
			return id
		}
	}
	return ""
}

// SetNodeStatus changes a node's status. "down" marks its running and
// pending allocations lost, as Nomad does when heartbeats stop; "ready"
// retries blocked work.
func (s *Server) SetNodeStatus(nodeID, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[nodeID]
	if n == nil {
		panic("nomadtest: no node " + nodeID)
	}
	n.Status = status
	n.ModifyIndex = s.nextIndex()
	n.StatusUpdatedAt = s.Now().Unix()
	s.emit("Node", "NodeStreamEvent", n.ID, "", nodeSnap(n))
	if status == "down" {
		for _, id := range s.nodeAllocs[nodeID] {
			a := s.allocs[id]
			if !a.terminal() {
				a.DesiredStatus = "stop"
				a.DesiredDescription = "alloc is lost since its node is down"
				s.setClient(a, "lost", "")
			}
		}
	}
	s.retryBlocked()
}

// RemoveNode forgets a node (node GC after the machine is destroyed).
func (s *Server) RemoveNode(nodeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodes[nodeID]
	if n == nil {
		return
	}
	delete(s.nodes, nodeID)
	for i, id := range s.nodeOrder {
		if id == nodeID {
			s.nodeOrder = append(s.nodeOrder[:i:i], s.nodeOrder[i+1:]...)
			break
		}
	}
	s.nextIndex()
	s.emit("Node", "NodeDeregistration", nodeID, "", nodeSnap(n))
}

// ---- allocation life ----

func (s *Server) mustAlloc(id string) *alloc {
	a := s.allocs[id]
	if a == nil {
		panic("nomadtest: no allocation " + id)
	}
	return a
}

func (s *Server) setClient(a *alloc, status, desc string) {
	a.ClientStatus = status
	a.ClientDescription = desc
	idx := s.nextIndex()
	a.ModifyIndex, a.ModifyTime = idx, s.nowNano()
	s.emit("Allocation", "AllocationUpdated", a.ID, a.NS, allocSnap(a))
	if j := s.jobs[nsKey{a.NS, a.JobID}]; j != nil {
		s.emit("Job", "AllocationUpdated", j.ID, j.NS, jobSnap(j, s.jobStatus(j)))
	}
	if a.terminal() {
		s.checkDrainDone(a.NodeID)
	}
}

func (s *Server) addTaskEvent(a *alloc, task string, e taskEvent) {
	if e.Time == 0 {
		e.Time = s.nowNano()
	}
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	if ts := a.States[task]; ts != nil {
		ts.Events = append(ts.Events, e)
	}
}

func (s *Server) startAlloc(a *alloc) {
	now := s.Now()
	for _, t := range a.Tasks {
		ts := a.States[t.Name]
		ts.State, ts.StartedAt = "running", now
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Task Setup", Display: "Building Task Directory", Message: "Building Task Directory", Details: map[string]string{"message": "Building Task Directory"}})
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Started", Display: "Task started by client"})
	}
	s.setClient(a, "running", "")
}

// StartAlloc moves a pending allocation to running.
func (s *Server) StartAlloc(allocID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAlloc(allocID)
	if a.ClientStatus == "pending" {
		s.startAlloc(a)
	}
}

// RunAll starts every pending allocation.
func (s *Server) RunAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range s.allocOrder {
		if a := s.allocs[id]; a.ClientStatus == "pending" && a.DesiredStatus == "run" {
			s.startAlloc(a)
		}
	}
}

// TaskExit says how an allocation's tasks ended.
type TaskExit struct {
	Code      int
	Signal    int
	OOMKilled bool
	// Message, when set, is added as a "Driver Failure" style event
	// message before termination (e.g. a GPU XID).
	Message string
}

func (s *Server) finish(a *alloc, exit TaskExit) {
	if a.ClientStatus == "pending" {
		s.startAlloc(a)
	}
	now := s.Now()
	failed := exit.Code != 0 || exit.OOMKilled
	for _, t := range a.Tasks {
		ts := a.States[t.Name]
		ts.State, ts.FinishedAt, ts.Failed = "dead", now, failed
		display := fmt.Sprintf("Exit Code: %d", exit.Code)
		if exit.Signal != 0 {
			display += fmt.Sprintf(", Signal: %d", exit.Signal)
		}
		if exit.OOMKilled {
			display += ", Exit Message: \"OOM Killed\""
		}
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Terminated", Display: display, ExitCode: exit.Code,
			Message: exit.Message,
			Details: map[string]string{"exit_code": strconv.Itoa(exit.Code), "signal": strconv.Itoa(exit.Signal), "oom_killed": strconv.FormatBool(exit.OOMKilled)}})
		if failed {
			s.addTaskEvent(a, t.Name, taskEvent{Type: "Not Restarting", Display: "Policy allows no restarts",
				FailsTask: true, Details: map[string]string{"restart_reason": "Policy allows no restarts", "fails_task": "true"}})
		}
	}
	if failed {
		s.setClient(a, "failed", "Failed tasks")
	} else {
		s.setClient(a, "complete", "All tasks have completed")
	}
	s.retryBlocked()
}

// CompleteAlloc ends an allocation successfully (exit 0).
func (s *Server) CompleteAlloc(allocID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish(s.mustAlloc(allocID), TaskExit{})
}

// FailAlloc ends an allocation with a non-zero exit code, with the task
// events of get-allocation-fails-exit3.json (no restart, no reschedule).
func (s *Server) FailAlloc(allocID string, exitCode int) {
	s.EndAlloc(allocID, TaskExit{Code: exitCode})
}

// EndAlloc ends an allocation as exit says (OOM kill: Code 137, Signal 9,
// OOMKilled true).
func (s *Server) EndAlloc(allocID string, exit TaskExit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.finish(s.mustAlloc(allocID), exit)
}

// LoseAlloc marks an allocation lost (its node stopped heartbeating).
func (s *Server) LoseAlloc(allocID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAlloc(allocID)
	a.DesiredStatus = "stop"
	a.DesiredDescription = "alloc is lost since its node is down"
	s.setClient(a, "lost", "")
	s.retryBlocked()
}

// RescheduleAlloc replaces a failed or lost allocation by a new one, as
// Nomad's reschedule policy does: the old one gets NextAllocation, the new
// one PreviousAllocation and a RescheduleTracker. It returns the new ID, or
// "" when it could not be placed (the job is then queued).
func (s *Server) RescheduleAlloc(allocID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.mustAlloc(allocID)
	j := s.jobs[nsKey{old.NS, old.JobID}]
	if j == nil {
		return ""
	}
	var g *group
	for _, x := range j.Groups {
		if x.Name == old.TaskGroup {
			g = x
		}
	}
	s.nextIndex()
	ev := &eval{ID: newUUID(), NS: j.NS, JobID: j.ID, Type: j.Type, Status: "pending", TriggeredBy: "alloc-failure",
		Priority: j.Priority, JobModifyIndex: j.JobModifyIndex, Pool: j.Pool, CreateIndex: s.index, CreateTime: s.nowNano()}
	s.addEval(ev)
	old.FollowupEvalID = ev.ID
	f := newFailure()
	n, devs, groups := s.place(j, g, f)
	if n == nil {
		j.Queued[g.Name]++
		ev.Failed = map[string]*failure{g.Name: f}
		ev.Status = "blocked"
		ev.TriggeredBy = "queued-allocs"
		s.blocked[nsKey{j.NS, j.ID}] = ev.ID
		return ""
	}
	ev.Status = "complete"
	a := s.newAlloc(j, g, ev, n, devs, groups, old.ID)
	a.RescheduleEvents = append(old.RescheduleEvents, map[string]any{
		"PrevAllocID": old.ID, "PrevNodeID": old.NodeID, "RescheduleTime": s.nowNano(), "Delay": int64(0),
	})
	old.ModifyIndex = s.index
	return a.ID
}

// WriteLog appends to a task's stdout (or stderr) log.
func (s *Server) WriteLog(allocID, task string, stderr bool, data string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.mustAlloc(allocID)
	a.Logs[logKey(task, stderr)] = append(a.Logs[logKey(task, stderr)], data...)
	s.touch()
}

func logKey(task string, stderr bool) string {
	if stderr {
		return task + ".stderr"
	}
	return task + ".stdout"
}

// AllocInfo is a test's view of an allocation.
type AllocInfo struct {
	ID, JobID, Namespace, TaskGroup, NodeID, NodeName string
	ClientStatus, DesiredStatus                       string
	DeviceIDs                                         []string
	NextAllocation, PreviousAllocation                string
}

// Allocs lists a job's allocations in creation order.
func (s *Server) Allocs(namespace, jobID string) []AllocInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if namespace == "" {
		namespace = "default"
	}
	var out []AllocInfo
	for _, id := range s.jobAllocs[nsKey{namespace, jobID}] {
		a := s.allocs[id]
		var devs []string
		for _, t := range a.Tasks {
			devs = append(devs, a.Devices[t.Name]...)
		}
		out = append(out, AllocInfo{ID: a.ID, JobID: a.JobID, Namespace: a.NS, TaskGroup: a.TaskGroup, NodeID: a.NodeID,
			NodeName: a.NodeName, ClientStatus: a.ClientStatus, DesiredStatus: a.DesiredStatus, DeviceIDs: devs,
			NextAllocation: a.NextAllocation, PreviousAllocation: a.PreviousAllocation})
	}
	return out
}

// JobIDs lists the jobs of a namespace ("*" for all), sorted.
func (s *Server) JobIDs(namespace string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.jobs {
		if namespace == "*" || k.ns == namespace {
			out = append(out, k.id)
		}
	}
	sortStrings(out)
	return out
}

// JobStatus is a job's status as Nomad would report it ("" if absent).
func (s *Server) JobStatus(namespace, jobID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[nsKey{namespace, jobID}]
	if j == nil {
		return ""
	}
	return s.jobStatus(j)
}

// ---- drain ----

// setDrain applies a drain request (mu held).
func (s *Server) setDrain(n *node, deadline time.Duration, meta map[string]string, markEligible bool, on bool) {
	now := s.Now()
	idx := s.nextIndex()
	n.ModifyIndex = idx
	if on {
		n.Drain, n.Eligible = true, false
		n.DrainDeadline, n.DrainStarted, n.DrainMeta = deadline, now, meta
		n.LastDrain = map[string]any{"AccessorID": "token:acls-disabled", "Meta": stringMap(meta),
			"StartedAt": now.UTC().Format(time.RFC3339), "Status": "draining", "UpdatedAt": now.UTC().Format(time.RFC3339)}
		s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
		s.checkDrainDone(n.ID)
		return
	}
	if n.Drain && n.LastDrain != nil {
		n.LastDrain["Status"] = "canceled"
		n.LastDrain["UpdatedAt"] = now.UTC().Format(time.RFC3339)
	}
	n.Drain = false
	if markEligible {
		n.Eligible = true
	}
	s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
	s.retryBlocked()
}

// checkDrainDone completes a drain once the node runs nothing (mu held).
func (s *Server) checkDrainDone(nodeID string) {
	n := s.nodes[nodeID]
	if n == nil || !n.Drain {
		return
	}
	for _, id := range s.nodeAllocs[nodeID] {
		if a := s.allocs[id]; !a.terminal() {
			return
		}
	}
	n.Drain = false
	if n.LastDrain != nil {
		n.LastDrain["Status"] = "complete"
		n.LastDrain["UpdatedAt"] = s.Now().UTC().Format(time.RFC3339)
	}
	n.ModifyIndex = s.nextIndex()
	s.emit("Node", "NodeDrain", n.ID, "", nodeSnap(n))
}

// ExpireDrain acts as the drain deadline passing: the node's remaining
// allocations are stopped (their tasks killed) and replacements placed
// elsewhere where possible.
func (s *Server) ExpireDrain(nodeID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range append([]string(nil), s.nodeAllocs[nodeID]...) {
		a := s.allocs[id]
		if a.terminal() {
			continue
		}
		a.DesiredStatus = "stop"
		a.DesiredDescription = "alloc is being migrated"
		s.killAlloc(a, "")
		if j := s.jobs[nsKey{a.NS, a.JobID}]; j != nil && !j.Stop {
			for _, g := range j.Groups {
				if g.Name == a.TaskGroup {
					f := newFailure()
					if n, devs, groups := s.place(j, g, f); n != nil {
						s.newAlloc(j, g, &eval{ID: newUUID()}, n, devs, groups, a.ID)
					} else {
						j.Queued[g.Name]++
					}
				}
			}
		}
	}
	s.checkDrainDone(nodeID)
}

// killAlloc stops an allocation's tasks as Nomad does when it is no
// longer wanted (job stopped, drain deadline): Killing, Killed, complete.
func (s *Server) killAlloc(a *alloc, desc string) {
	if desc != "" {
		a.DesiredDescription = desc
	}
	a.DesiredStatus = "stop"
	now := s.Now()
	for _, t := range a.Tasks {
		ts := a.States[t.Name]
		if ts.State == "running" {
			s.addTaskEvent(a, t.Name, taskEvent{Type: "Killing", Display: "Sent interrupt. Waiting 5s before force killing", Details: map[string]string{"kill_timeout": "5s"}})
			s.addTaskEvent(a, t.Name, taskEvent{Type: "Terminated", Display: "Exit Code: 130, Signal: 2", ExitCode: 130,
				Details: map[string]string{"exit_code": "130", "signal": "2", "oom_killed": "false"}})
		}
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Killed", Display: "Task successfully killed"})
		ts.State, ts.FinishedAt = "dead", now
	}
	s.setClient(a, "complete", "All tasks have completed")
}
