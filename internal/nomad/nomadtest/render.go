package nomadtest

import (
	"encoding/json"
	"time"
)

// Rendering of the fake's objects in Nomad's wire shapes (mu held).

func (s *Server) jobStatus(j *job) string {
	active, any := 0, 0
	for _, id := range s.jobAllocs[nsKey{j.NS, j.ID}] {
		a := s.allocs[id]
		any++
		if !a.terminal() {
			active++
		}
	}
	switch {
	case active > 0:
		return "running"
	case j.Stop:
		return "dead"
	case queued(j) > 0:
		return "pending"
	case any > 0 && (j.Type == "batch" || j.Type == "sysbatch"):
		return "dead"
	}
	return "pending"
}

func queued(j *job) (n int) {
	for _, q := range j.Queued {
		n += q
	}
	return n
}

func (s *Server) renderJob(j *job) map[string]any {
	var submitted map[string]any
	_ = json.Unmarshal(j.Raw, &submitted)
	m := conform(shapeOf("get-job-gpu-too-big.json"), submitted).(map[string]any)
	if m["Name"] == nil || m["Name"] == "" {
		m["Name"] = j.ID
	}
	m["ID"] = j.ID
	m["Namespace"] = j.NS
	m["NodePool"] = j.Pool
	m["Type"] = j.Type
	m["Priority"] = j.Priority
	m["Status"] = s.jobStatus(j)
	m["StatusDescription"] = ""
	m["Stop"] = j.Stop
	m["Stable"] = false
	m["Version"] = j.Version
	m["CreateIndex"] = j.CreateIndex
	m["ModifyIndex"] = j.ModifyIndex
	m["JobModifyIndex"] = j.JobModifyIndex
	m["SubmitTime"] = j.SubmitTime
	m["Meta"] = stringMap(j.Meta)
	if tgs, ok := m["TaskGroups"].([]any); ok {
		for i, tg := range tgs {
			if i < len(j.Groups) {
				tg.(map[string]any)["Count"] = j.Groups[i].Count
			}
		}
	}
	return m
}

func stringMap(m map[string]string) any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func rfc(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func renderTaskState(ts *taskState) map[string]any {
	m := shapeOf("get-allocation-fails-exit3.json", "TaskStates", "train")
	evs := make([]any, 0, len(ts.Events))
	for _, e := range ts.Events {
		em := shapeOf("get-allocation-fails-exit3.json", "TaskStates", "train", "Events", 0)
		d := map[string]any{}
		for k, v := range e.Details {
			d[k] = v
		}
		em["Type"], em["DisplayMessage"], em["Message"], em["Details"] = e.Type, e.Display, e.Message, d
		em["ExitCode"], em["Signal"], em["KillTimeout"] = e.ExitCode, e.Signal, int64(e.KillTimeout)
		em["FailsTask"], em["Time"] = e.FailsTask, e.Time
		if e.Type == "Not Restarting" {
			em["RestartReason"] = e.Display
		}
		evs = append(evs, em)
	}
	m["Events"] = evs
	m["State"], m["Failed"] = ts.State, ts.Failed
	m["StartedAt"], m["FinishedAt"] = rfc(ts.StartedAt), rfc(ts.FinishedAt)
	m["Restarts"], m["LastRestart"], m["Paused"] = 0, nil, ""
	return m
}

func (a *alloc) taskStates() map[string]any {
	out := make(map[string]any, len(a.States))
	for name, ts := range a.States {
		out[name] = renderTaskState(ts)
	}
	return out
}

func (a *alloc) allocatedResources() map[string]any {
	ar := shapeOf("get-allocation-gpu-fits.json", "AllocatedResources")
	tasks := map[string]any{}
	life := map[string]any{}
	for _, t := range a.Tasks {
		tr := shapeOf("get-allocation-gpu-fits.json", "AllocatedResources", "Tasks", "train")
		tr["Cpu"].(map[string]any)["CpuShares"] = t.CPU
		tr["Memory"].(map[string]any)["MemoryMB"] = t.MemoryMB
		var devs any
		if ids := a.Devices[t.Name]; len(ids) > 0 {
			d := a.DeviceGroup[t.Name]
			l := make([]any, len(ids))
			for i, x := range ids {
				l[i] = x
			}
			devs = []any{map[string]any{"DeviceIDs": l, "Name": d.Name, "Type": d.Type, "Vendor": d.Vendor}}
		}
		tr["Devices"] = devs
		tasks[t.Name] = tr
		life[t.Name] = nil
	}
	ar["Tasks"], ar["TaskLifecycles"] = tasks, life
	return ar
}

func (a *alloc) clientDescription() string {
	if a.ClientDescription != "" {
		return a.ClientDescription
	}
	switch a.ClientStatus {
	case "pending":
		return "No tasks have started"
	case "running":
		return "Tasks are running"
	case "complete":
		return "All tasks have completed"
	case "failed":
		return "Failed tasks"
	}
	return ""
}

// renderAlloc is GET /v1/allocation/:id; withJob adds the job (the event
// stream's allocation payloads do not carry it).
func (s *Server) renderAlloc(a *alloc, withJob bool) map[string]any {
	m := shapeOf("get-allocation-gpu-fits.json")
	m["ID"], m["EvalID"], m["Name"], m["Namespace"] = a.ID, a.EvalID, a.Name, a.NS
	m["NodeID"], m["NodeName"], m["JobID"], m["TaskGroup"] = a.NodeID, a.NodeName, a.JobID, a.TaskGroup
	m["ClientStatus"], m["DesiredStatus"], m["ClientDescription"] = a.ClientStatus, a.DesiredStatus, a.clientDescription()
	m["CreateIndex"], m["ModifyIndex"], m["AllocModifyIndex"] = a.CreateIndex, a.ModifyIndex, a.AllocModifyIndex
	m["CreateTime"], m["ModifyTime"] = a.CreateTime, a.ModifyTime
	m["AllocatedResources"] = a.allocatedResources()
	m["TaskStates"] = a.taskStates()
	if a.DesiredDescription != "" {
		m["DesiredDescription"] = a.DesiredDescription
	}
	if a.NextAllocation != "" {
		m["NextAllocation"] = a.NextAllocation
	}
	if a.PreviousAllocation != "" {
		m["PreviousAllocation"] = a.PreviousAllocation
		m["RescheduleTracker"] = map[string]any{"Events": a.rescheduleEvents(), "LastReschedule": "ok"}
	}
	if a.FollowupEvalID != "" {
		m["FollowupEvalID"] = a.FollowupEvalID
	}
	if withJob {
		if j := s.jobs[nsKey{a.NS, a.JobID}]; j != nil {
			// An allocation carries the job as it was when it was placed:
			// that version, not stopped.
			jm := s.renderJob(j)
			jm["Status"], jm["Stop"], jm["Version"] = "pending", false, a.JobVersion
			m["Job"] = jm
		} else {
			m["Job"] = nil
		}
	} else {
		delete(m, "Job")
	}
	return m
}

func (a *alloc) rescheduleEvents() []any {
	out := make([]any, len(a.RescheduleEvents))
	for i, e := range a.RescheduleEvents {
		out[i] = e
	}
	return out
}

func (a *alloc) renderStub() map[string]any {
	m := shapeOf("get-job-gpu-fits-allocations.json", 0)
	m["ID"], m["EvalID"], m["Name"], m["Namespace"] = a.ID, a.EvalID, a.Name, a.NS
	m["NodeID"], m["NodeName"], m["JobID"], m["JobType"], m["JobVersion"], m["TaskGroup"] = a.NodeID, a.NodeName, a.JobID, a.JobType, a.JobVersion, a.TaskGroup
	m["ClientStatus"], m["DesiredStatus"], m["ClientDescription"], m["DesiredDescription"] = a.ClientStatus, a.DesiredStatus, a.clientDescription(), a.DesiredDescription
	m["CreateIndex"], m["ModifyIndex"], m["CreateTime"], m["ModifyTime"] = a.CreateIndex, a.ModifyIndex, a.CreateTime, a.ModifyTime
	m["NextAllocation"], m["FollowupEvalID"] = a.NextAllocation, a.FollowupEvalID
	m["TaskStates"] = a.taskStates()
	if a.PreviousAllocation != "" {
		m["RescheduleTracker"] = map[string]any{"Events": a.rescheduleEvents(), "LastReschedule": "ok"}
	} else {
		m["RescheduleTracker"] = nil
	}
	return m
}
