package nomadtest

import (
	"maps"
	"net/http"
	"slices"
)

// planCounts is what a plan would do to one task group.
type planCounts struct{ place, destructive, ignore int }

// handlePlan answers a dry run: the diff against the current version and
// what the scheduler would place, without changing anything. As in Nomad
// 2.0.5, a group whose allocations have ended (a completed batch run) is
// placed again when the job changes (the ended ones ignored), one with
// live allocations is updated destructively, and an unchanged one is
// ignored; a placement that cannot
// be made shows as FailedTGAllocs and the blocked evaluation it would
// create.
func (s *Server) handlePlan(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decodeBody(r, &req); err != nil || len(req.Job) == 0 {
		writeError(w, http.StatusBadRequest, "Job must be specified")
		return
	}
	nj, err := parseJob(req.Job, reqNS(r))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if msg := s.checkJobPlace(nj); msg != "" {
		writeError(w, http.StatusInternalServerError, msg)
		return
	}
	old := s.jobs[nsKey{nj.NS, nj.ID}]
	m := shapeOf("put-job-plan-response.json")
	upd := map[string]any{}
	failed := map[string]any{}
	counts := map[string]planCounts{}
	for _, g := range nj.Groups {
		c := s.planGroup(old, nj, g)
		counts[g.Name] = c
		u := shapeOf("put-job-plan-response.json", "Annotations", "DesiredTGUpdates", "run")
		u["Place"], u["DestructiveUpdate"], u["Ignore"] = c.place, c.destructive, c.ignore
		upd[g.Name] = u
		if c.place > 0 {
			f := newFailure()
			if n, _, _ := s.place(nj, g, f); n == nil {
				failed[g.Name] = renderFailure(f, nj.Pool)
			}
		}
	}
	m["Annotations"] = map[string]any{"DesiredTGUpdates": upd, "PreemptedAllocs": nil}
	m["Diff"] = planDiff(old, nj, counts)
	m["FailedTGAllocs"], m["CreatedEvals"] = nil, nil
	if len(failed) > 0 {
		m["FailedTGAllocs"] = failed
		m["CreatedEvals"] = []any{s.wouldBlock(nj, failed)}
	}
	m["Index"] = s.index
	m["JobModifyIndex"] = 0
	if old != nil {
		m["JobModifyIndex"] = old.JobModifyIndex
	}
	m["Warnings"] = ""
	s.writeJSON(w, s.index, m)
}

// planGroup counts what registering nj would do to group g (mu held).
func (s *Server) planGroup(old, nj *job, g *group) planCounts {
	live, ended := 0, 0
	if old != nil {
		for _, id := range s.jobAllocs[nsKey{old.NS, old.ID}] {
			a := s.allocs[id]
			switch {
			case a.TaskGroup != g.Name || a.NextAllocation != "":
			case !a.terminal() && a.DesiredStatus == "run":
				live++
			case a.ClientStatus == "complete" && a.DesiredStatus == "run":
				ended++
			}
		}
	}
	changed := old == nil || old.Stop || string(old.Raw) != string(nj.Raw)
	if !changed {
		return planCounts{ignore: live + ended, place: max(0, g.Count-live-ended)}
	}
	c := planCounts{place: max(0, g.Count-live), ignore: ended}
	if old != nil && !old.Stop {
		c.destructive = min(live, g.Count)
	}
	return c
}

// wouldBlock is the blocked evaluation a plan reports it would create: not
// stored, so without indexes.
func (s *Server) wouldBlock(nj *job, failed map[string]any) map[string]any {
	now := s.nowNano()
	return map[string]any{
		"ClassEligibility": map[string]any{"v1:fake": false}, "CreateTime": now, "FailedTGAllocs": failed,
		"ID": newUUID(), "JobID": nj.ID, "JobModifyIndex": s.index, "ModifyTime": now, "Namespace": nj.NS,
		"PreviousEval": newUUID(), "Priority": nj.Priority, "Status": "blocked",
		"StatusDescription": "created to place remaining allocations", "TriggeredBy": "queued-allocs", "Type": nj.Type,
	}
}

// planDiff compares job-level fields and meta, as `nomad job plan` shows
// them; groups and tasks are reported as a whole.
func planDiff(old, nj *job, counts map[string]planCounts) map[string]any {
	typ := "None"
	var fields []any
	switch {
	case old == nil:
		typ = "Added"
	case string(old.Raw) != string(nj.Raw):
		typ = "Edited"
		fields = metaDiff(old.Meta, nj.Meta)
	}
	var tgs []any
	for _, g := range nj.Groups {
		c := counts[g.Name]
		gt, upd := "None", map[string]any{}
		switch {
		case typ == "Added":
			gt, upd["create"] = "Added", g.Count
		case typ == "Edited" && c.destructive > 0:
			upd["create/destroy update"] = c.destructive
		case typ == "Edited":
			upd["create"] = c.place
			if c.ignore > 0 {
				upd["ignore"] = c.ignore
			}
		default:
			upd["ignore"] = g.Count
		}
		var tasks []any
		for _, t := range g.Tasks {
			tt := "None"
			if typ == "Added" {
				tt = "Added"
			}
			tasks = append(tasks, map[string]any{"Annotations": nil, "Fields": nil, "Name": t.Name, "Objects": nil, "Type": tt})
		}
		tgs = append(tgs, map[string]any{"Fields": nil, "Name": g.Name, "Objects": nil, "Tasks": tasks, "Type": gt, "Updates": upd})
	}
	var fv any
	if fields != nil {
		fv = fields
	}
	return map[string]any{"Fields": fv, "ID": nj.ID, "Objects": nil, "TaskGroups": tgs, "Type": typ}
}

func metaDiff(old, cur map[string]string) []any {
	keys := map[string]bool{}
	for k := range old {
		keys[k] = true
	}
	for k := range cur {
		keys[k] = true
	}
	var fields []any
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		o, inOld := old[k]
		n, inNew := cur[k]
		ft := ""
		switch {
		case inOld && inNew && o != n:
			ft = "Edited"
		case !inOld && inNew:
			ft = "Added"
		case inOld && !inNew:
			ft = "Deleted"
		}
		if ft != "" {
			fields = append(fields, map[string]any{"Annotations": nil, "Name": "Meta[" + k + "]", "New": n, "Old": o, "Type": ft})
		}
	}
	return fields
}
