package nomadtest

import (
	"sort"
	"time"
)

func renderEval(e *eval) map[string]any {
	m := map[string]any{
		"CreateIndex": e.CreateIndex, "CreateTime": e.CreateTime, "ID": e.ID, "JobID": e.JobID,
		"JobModifyIndex": e.JobModifyIndex, "ModifyIndex": e.ModifyIndex, "ModifyTime": e.ModifyTime,
		"Namespace": e.NS, "Priority": e.Priority, "Status": e.Status,
		"TriggeredBy": e.TriggeredBy, "Type": e.Type,
	}
	if e.Status == "pending" {
		// not processed yet: no snapshot, no plan
		return m
	}
	m["SnapshotIndex"] = e.CreateIndex
	if e.NodeID != "" {
		m["NodeID"] = e.NodeID
	}
	if e.PreviousEval != "" {
		m["PreviousEval"] = e.PreviousEval
	}
	if e.BlockedEval != "" {
		m["BlockedEval"] = e.BlockedEval
	}
	if e.StatusDescription != "" {
		m["StatusDescription"] = e.StatusDescription
	}
	if e.TriggeredBy == "queued-allocs" {
		m["ClassEligibility"] = map[string]any{"v1:fake": false}
		if e.Status == "blocked" && e.StatusDescription == "" {
			m["StatusDescription"] = "created to place remaining allocations"
		}
	} else {
		upd := map[string]any{}
		for g := range e.Queued {
			u := shapeOf("get-evaluations.json", 0, "PlanAnnotations", "DesiredTGUpdates", "run")
			u["Place"] = e.Place[g]
			u["Stop"] = e.Stop[g]
			upd[g] = u
		}
		if e.Purge {
			// The scheduler found no job: nothing to plan, nothing queued.
			upd = map[string]any{}
		}
		m["PlanAnnotations"] = map[string]any{"DesiredTGUpdates": upd, "PreemptedAllocs": nil}
		if !e.Purge && e.Queued != nil {
			q := map[string]any{}
			for g, n := range e.Queued {
				q[g] = n
			}
			m["QueuedAllocations"] = q
		}
	}
	if len(e.Failed) > 0 {
		f := map[string]any{}
		for g, x := range e.Failed {
			f[g] = renderFailure(x, e.Pool)
		}
		m["FailedTGAllocs"] = f
	}
	return m
}

func renderFailure(f *failure, pool string) map[string]any {
	m := shapeOf("get-evaluations.json", 1, "FailedTGAllocs", "run")
	nilIfEmpty := func(x map[string]int) any {
		if len(x) == 0 {
			return nil
		}
		out := map[string]any{}
		for k, v := range x {
			out[k] = v
		}
		return out
	}
	avail := map[string]any{}
	for k, v := range f.NodesAvailable {
		avail[k] = v
	}
	m["AllocationTime"] = 10000
	m["CoalescedFailures"] = f.CoalescedFailures
	m["ConstraintFiltered"] = nilIfEmpty(f.ConstraintFiltered)
	m["DimensionExhausted"] = nilIfEmpty(f.DimensionExhausted)
	m["NodePool"] = pool
	m["NodesAvailable"] = avail
	m["NodesEvaluated"] = f.NodesEvaluated
	m["NodesExhausted"] = f.NodesExhausted
	m["NodesFiltered"] = f.NodesFiltered
	m["NodesInPool"] = f.NodesInPool
	return m
}

func (s *Server) renderNode(n *node) map[string]any {
	m := shapeOf("get-node-gpu.json")
	s.fillNode(m, n)
	m["HTTPAddr"] = s.nodeHTTPAddr()
	// A client's meta holds Nomad's connect.* defaults (the template's)
	// besides what its operator set.
	meta, _ := m["Meta"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
	}
	for k, v := range n.Meta {
		meta[k] = v
	}
	m["Meta"] = meta
	m["StatusUpdatedAt"] = n.StatusUpdatedAt
	evs := make([]any, len(n.Events))
	for i, e := range n.Events {
		evs[i] = map[string]any{"CreateIndex": e.Index, "Details": nil, "Message": e.Message, "Subsystem": e.Subsystem,
			"Timestamp": e.Time.UTC().Format(time.RFC3339Nano)}
	}
	m["Events"] = evs
	return m
}

func (s *Server) renderNodeStub(n *node) map[string]any {
	m := shapeOf("get-nodes-resources.json", 1)
	s.fillNode(m, n)
	m["Address"] = "127.0.0.1"
	return m
}

func (s *Server) nodeHTTPAddr() string {
	if s.hs == nil {
		return "127.0.0.1:4646"
	}
	return s.hs.Listener.Addr().String()
}

func (s *Server) fillNode(m map[string]any, n *node) {
	m["ID"], m["Name"], m["NodePool"], m["Datacenter"] = n.ID, n.Name, n.Pool, n.Datacenter
	m["Status"], m["Drain"] = n.Status, n.Drain
	m["StatusDescription"] = ""
	m["SchedulingEligibility"] = "eligible"
	if !n.Eligible {
		m["SchedulingEligibility"] = "ineligible"
	}
	m["CreateIndex"], m["ModifyIndex"] = n.CreateIndex, n.ModifyIndex
	if _, ok := m["DrainStrategy"]; ok {
		m["DrainStrategy"] = nil
		if n.Drain {
			m["DrainStrategy"] = map[string]any{
				"Deadline": int64(n.DrainDeadline), "ForceDeadline": rfc(n.DrainStarted.Add(n.DrainDeadline)),
				"IgnoreSystemJobs": false, "StartedAt": rfc(n.DrainStarted),
			}
		}
	}
	m["LastDrain"] = nil
	if n.LastDrain != nil {
		m["LastDrain"] = n.LastDrain
	}
	nr := m["NodeResources"].(map[string]any)
	nr["Cpu"].(map[string]any)["CpuShares"] = n.CPU
	nr["Memory"].(map[string]any)["MemoryMB"] = n.MemoryMB
	tmplDev := shapeOf("get-node-gpu.json", "NodeResources", "Devices", 0)
	tmplInst := shapeOf("get-node-gpu.json", "NodeResources", "Devices", 0, "Instances", 0)
	var devs []any
	for _, d := range n.Devices {
		dm := deepCopy(tmplDev).(map[string]any)
		dm["Vendor"], dm["Type"], dm["Name"] = d.Vendor, d.Type, d.Name
		attrs := dm["Attributes"].(map[string]any)
		delete(attrs, "cool-attribute")
		attrs["memory"].(map[string]any)["Int"] = d.MemoryMiB
		var insts []any
		for _, id := range d.IDs {
			im := deepCopy(tmplInst).(map[string]any)
			im["ID"] = id
			insts = append(insts, im)
		}
		dm["Instances"] = insts
		devs = append(devs, dm)
	}
	if devs == nil {
		nr["Devices"] = nil
	} else {
		nr["Devices"] = devs
	}
}

func renderPool(p *nodePool) map[string]any {
	m := shapeOf("get-node-pools.json", 0)
	m["Name"], m["Description"], m["CreateIndex"], m["ModifyIndex"] = p.Name, p.Description, p.CreateIndex, p.ModifyIndex
	return m
}

func renderVar(v *variable, withItems bool) map[string]any {
	m := map[string]any{
		"CreateIndex": v.CreateIndex, "CreateTime": v.CreateTime, "ModifyIndex": v.ModifyIndex,
		"ModifyTime": v.ModifyTime, "Namespace": v.NS, "Path": v.Path,
	}
	if withItems {
		items := map[string]any{}
		for k, x := range v.Items {
			items[k] = x
		}
		m["Items"] = items
	}
	if v.Lock != nil {
		m["Lock"] = map[string]any{"ID": v.Lock.ID, "TTL": v.Lock.TTL, "LockDelay": v.Lock.LockDelay}
	}
	return m
}

func sortStrings(s []string) { sort.Strings(s) }
