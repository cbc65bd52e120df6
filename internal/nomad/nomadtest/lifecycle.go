package nomadtest

import (
	"fmt"
	"strconv"
	"time"
)

// ---- allocation life ----

func (s *Server) mustAlloc(id string) *alloc {
	a := s.allocs[id]
	if a == nil {
		panic("nomadtest: no allocation " + id)
	}
	return a
}

func (s *Server) setClient(a *alloc, status, desc string) {
	delete(s.usageCache, a.NodeID)
	a.ClientStatus = status
	a.ClientDescription = desc
	idx := s.nextIndex()
	a.ModifyIndex, a.ModifyTime = idx, s.nowNano()
	s.emitFor(a.JobID, "Allocation", "AllocationUpdated", a.ID, a.NS, allocSnap(a))
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
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Terminated", Display: display, ExitCode: exit.Code, Signal: exit.Signal,
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
	s.mustAlloc(allocID).appendLog(task, stderr, data)
	s.touch()
}

func (a *alloc) appendLog(task string, stderr bool, data string) {
	a.Logs[logKey(task, stderr)] = append(a.Logs[logKey(task, stderr)], data...)
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
			s.addTaskEvent(a, t.Name, taskEvent{Type: "Killing", Display: "Sent interrupt. Waiting 5s before force killing", KillTimeout: 5 * time.Second, Details: map[string]string{"kill_timeout": "5s"}})
			s.addTaskEvent(a, t.Name, taskEvent{Type: "Terminated", Display: "Exit Code: 130, Signal: 2", ExitCode: 130, Signal: 2,
				Details: map[string]string{"exit_code": "130", "signal": "2", "oom_killed": "false"}})
		}
		s.addTaskEvent(a, t.Name, taskEvent{Type: "Killed", Display: "Task successfully killed"})
		ts.State, ts.FinishedAt = "dead", now
	}
	s.setClient(a, "complete", "All tasks have completed")
}
