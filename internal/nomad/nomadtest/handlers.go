package nomadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
)

func (s *Server) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/jobs", s.handleJobs)
	mux.HandleFunc("PUT /v1/jobs", s.handleRegister)
	mux.HandleFunc("POST /v1/jobs", s.handleRegister)
	mux.HandleFunc("GET /v1/job/{id}", s.handleJob)
	mux.HandleFunc("PUT /v1/job/{id}", s.handleRegister)
	mux.HandleFunc("POST /v1/job/{id}", s.handleRegister)
	mux.HandleFunc("DELETE /v1/job/{id}", s.handleDeregister)
	mux.HandleFunc("GET /v1/job/{id}/summary", s.handleSummary)
	mux.HandleFunc("GET /v1/job/{id}/allocations", s.handleJobAllocs)
	mux.HandleFunc("GET /v1/job/{id}/evaluations", s.handleJobEvals)
	mux.HandleFunc("PUT /v1/job/{id}/plan", s.handlePlan)
	mux.HandleFunc("POST /v1/job/{id}/plan", s.handlePlan)
	mux.HandleFunc("GET /v1/allocations", s.handleAllocs)
	mux.HandleFunc("GET /v1/allocation/{id}", s.handleAlloc)
	mux.HandleFunc("GET /v1/evaluations", s.handleEvals)
	mux.HandleFunc("GET /v1/evaluation/{id}", s.handleEval)
	mux.HandleFunc("GET /v1/nodes", s.handleNodes)
	mux.HandleFunc("GET /v1/node/{id}", s.handleNode)
	// /v1/node/pool/NAME and /v1/node/ID/allocations share a shape.
	mux.HandleFunc("GET /v1/node/{id}/{sub}", func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.PathValue("id") == "pool":
			s.handlePool(w, r, r.PathValue("sub"))
		case r.PathValue("sub") == "allocations":
			s.handleNodeAllocs(w, r)
		default:
			http.NotFound(w, r)
		}
	})
	mux.HandleFunc("PUT /v1/node/{id}/drain", s.handleDrain)
	mux.HandleFunc("POST /v1/node/{id}/drain", s.handleDrain)
	mux.HandleFunc("PUT /v1/node/{id}/eligibility", s.handleEligibility)
	mux.HandleFunc("POST /v1/node/{id}/eligibility", s.handleEligibility)
	mux.HandleFunc("GET /v1/node/pools", s.handlePools)
	mux.HandleFunc("DELETE /v1/node/pool/{name}", s.handlePoolDelete)
	mux.HandleFunc("PUT /v1/node/pools", s.handlePoolPut)
	mux.HandleFunc("POST /v1/node/pools", s.handlePoolPut)
	mux.HandleFunc("GET /v1/vars", s.handleVars)
	mux.HandleFunc("GET /v1/var/{path...}", s.handleVarGet)
	mux.HandleFunc("PUT /v1/var/{path...}", s.handleVarPut)
	mux.HandleFunc("DELETE /v1/var/{path...}", s.handleVarDelete)
	mux.HandleFunc("GET /v1/event/stream", s.handleEventStream)
	mux.HandleFunc("GET /v1/client/stats", s.handleClientStats)
	mux.HandleFunc("GET /v1/client/allocation/{id}/stats", s.handleAllocStats)
	mux.HandleFunc("GET /v1/client/fs/logs/{id}", s.handleLogs)
	mux.HandleFunc("GET /v1/agent/self", s.handleAgentSelf)
	mux.HandleFunc("GET /v1/acl/token/self", s.handleTokenSelf)
	mux.HandleFunc("GET /v1/namespaces", s.handleNamespaces)
	mux.HandleFunc("GET /v1/namespace/{name}", s.handleNamespace)
	mux.HandleFunc("PUT /v1/namespace", s.handleNamespacePut)
	mux.HandleFunc("POST /v1/namespace", s.handleNamespacePut)
	mux.HandleFunc("DELETE /v1/namespace/{name}", s.handleNamespaceDelete)
	mux.HandleFunc("GET /v1/agent/members", s.handleMembers)
	mux.HandleFunc("GET /v1/status/leader", func(w http.ResponseWriter, r *http.Request) {
		s.writeJSON(w, s.Index(), "127.0.0.1:4647")
	})
}

// ---- jobs ----

func (s *Server) handleJobs(w http.ResponseWriter, r *http.Request) {
	ns := reqNS(r)
	prefix := r.URL.Query().Get("prefix")
	withMeta := isTrue(r, "meta")
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]nsKey, 0, len(s.jobs))
	for k := range s.jobs {
		if (ns == "*" || k.ns == ns) && strings.HasPrefix(k.id, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(a, b int) bool {
		if keys[a].id != keys[b].id {
			return keys[a].id < keys[b].id
		}
		return keys[a].ns < keys[b].ns
	})
	out := make([]*jobStubJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, s.jobStub(s.jobs[k], withMeta))
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) jobOr404(w http.ResponseWriter, r *http.Request) *job {
	j := s.jobs[nsKey{reqNS(r), r.PathValue("id")}]
	if j == nil {
		writeError(w, http.StatusNotFound, "job not found")
	}
	return j
}

func (s *Server) handleJob(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobOr404(w, r); j != nil {
		s.writeJSON(w, j.ModifyIndex, s.renderJob(j))
	}
}

type registerRequest struct {
	Job            json.RawMessage
	EnforceIndex   bool
	JobModifyIndex uint64
	Diff           bool
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := decodeBody(r, &req); err != nil || len(req.Job) == 0 || string(req.Job) == "null" {
		writeError(w, http.StatusBadRequest, "Job must be specified")
		return
	}
	nj, err := parseJob(req.Job, reqNS(r))
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	if id := r.PathValue("id"); id != "" && id != nj.ID {
		writeError(w, http.StatusBadRequest, "Job ID does not match name")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp, status, msg := s.register(nj, req.EnforceIndex, req.JobModifyIndex)
	if status != 0 {
		writeError(w, status, msg)
		return
	}
	s.writeJSON(w, s.index, resp)
}

// register is PUT /v1/jobs (mu held). A non-zero status is an error answer.
func (s *Server) register(nj *job, enforce bool, jmi uint64) (map[string]any, int, string) {
	if msg := s.checkJobPlace(nj); msg != "" {
		return nil, 500, msg
	}
	key := nsKey{nj.NS, nj.ID}
	old := s.jobs[key]
	if enforce {
		switch {
		case old != nil && jmi == 0:
			return nil, 500, "Enforcing job modify index 0: job already exists"
		case old != nil && jmi != old.JobModifyIndex:
			return nil, 500, fmt.Sprintf("Enforcing job modify index %d: job exists with conflicting job modify index: %d", jmi, old.JobModifyIndex)
		case old == nil && jmi != 0:
			return nil, 500, fmt.Sprintf("Enforcing job modify index %d: job does not exist", jmi)
		}
	}
	idx := s.nextIndex()
	now := s.nowNano()
	j := nj
	if old != nil {
		same := string(old.Raw) == string(nj.Raw) && !old.Stop
		j = old
		j.Raw, j.Meta, j.Type, j.Pool, j.Priority, j.Groups, j.Datacenters = nj.Raw, nj.Meta, nj.Type, nj.Pool, nj.Priority, nj.Groups, nj.Datacenters
		j.Stop = false
		j.ModifyIndex = idx
		if !same {
			j.Version++
			j.JobModifyIndex = idx
			j.SubmitTime = now
		}
	} else {
		j.CreateIndex, j.ModifyIndex, j.JobModifyIndex, j.SubmitTime = idx, idx, idx, now
		j.Queued = map[string]int{}
		s.jobs[key] = j
	}
	s.emit("Job", "JobRegistered", j.ID, j.NS, jobSnap(j, "pending"))
	ev := &eval{ID: newUUID(), NS: j.NS, JobID: j.ID, Type: j.Type, Status: "pending", TriggeredBy: "job-register",
		Priority: j.Priority, JobModifyIndex: j.JobModifyIndex, Pool: j.Pool, CreateIndex: idx, ModifyIndex: idx, CreateTime: now, ModifyTime: now}
	s.addEval(ev)
	s.emitFor(ev.JobID, "Evaluation", "JobRegistered", ev.ID, ev.NS, evalSnap(ev))
	s.schedule(j, ev)
	return map[string]any{
		"EvalCreateIndex": idx, "EvalID": ev.ID, "Index": idx, "JobModifyIndex": j.JobModifyIndex,
		"KnownLeader": false, "LastContact": 0, "NextToken": "", "Warnings": "",
	}, 0, ""
}

// checkJobPlace is Nomad's refusal of a job in a namespace or a node pool
// it does not know, word for word ("" when both exist; mu held).
func (s *Server) checkJobPlace(nj *job) string {
	if s.namespaces[nj.NS] == nil {
		return multiError(fmt.Sprintf("job %q is in nonexistent namespace %q", nj.ID, nj.NS))
	}
	if _, ok := s.pools[nj.Pool]; !ok {
		return multiError(fmt.Sprintf("job %q is in nonexistent node pool %q", nj.ID, nj.Pool))
	}
	return ""
}

// multiError is one error as Nomad's servers word a multierror.
func multiError(msg string) string { return "1 error occurred:\n\t* " + msg + "\n\n" }

func (s *Server) handleDeregister(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[nsKey{reqNS(r), r.PathValue("id")}]
	if j == nil {
		// Nomad stops (and purges) a job that does not exist without
		// complaint: nothing to do, no evaluation.
		s.writeJSON(w, 0, map[string]any{
			"EvalCreateIndex": 0, "EvalID": "", "Index": 0, "JobModifyIndex": 0,
			"KnownLeader": false, "LastContact": 0, "NextToken": "", "VolumeEvalID": "", "VolumeEvalIndex": 0,
		})
		return
	}
	purge := isTrue(r, "purge")
	idx := s.nextIndex()
	now := s.nowNano()
	if !j.Stop {
		j.Stop = true
		j.Version++
		j.JobModifyIndex = idx
	}
	j.ModifyIndex = idx
	snap := jobSnap(j, "dead")
	if purge {
		s.emitPayload("Job", "JobDeregistered", j.ID, j.NS, func(s *Server) map[string]any {
			return map[string]any{"Deleted": true, "Job": snap(s)}
		})
	} else {
		s.emit("Job", "JobDeregistered", j.ID, j.NS, snap)
	}
	// Nomad 2.0.5 gives a deregistration's evaluation the type service,
	// whatever the job's.
	ev := &eval{ID: newUUID(), NS: j.NS, JobID: j.ID, Type: "service", Status: "pending", TriggeredBy: "job-deregister",
		Priority: j.Priority, JobModifyIndex: j.JobModifyIndex, Pool: j.Pool, Purge: purge, CreateIndex: idx, ModifyIndex: idx, CreateTime: now, ModifyTime: now}
	s.addEval(ev)
	s.emitFor(ev.JobID, "Evaluation", "JobDeregistered", ev.ID, ev.NS, evalSnap(ev))
	s.schedule(j, ev)
	if purge {
		key := nsKey{j.NS, j.ID}
		delete(s.jobs, key)
		for _, id := range s.jobAllocs[key] {
			a := s.allocs[id]
			delete(s.allocs, id)
			s.nodeAllocs[a.NodeID] = without(s.nodeAllocs[a.NodeID], id)
			delete(s.usageCache, a.NodeID)
			s.allocOrder = without(s.allocOrder, id)
		}
		delete(s.jobAllocs, key)
	}
	s.writeJSON(w, idx, map[string]any{
		"EvalCreateIndex": idx, "EvalID": ev.ID, "Index": idx, "JobModifyIndex": j.JobModifyIndex,
		"KnownLeader": false, "LastContact": 0, "NextToken": "", "VolumeEvalID": "", "VolumeEvalIndex": 0,
	})
}

func without(l []string, x string) []string {
	for i, v := range l {
		if v == x {
			return append(l[:i:i], l[i+1:]...)
		}
	}
	return l
}

func (s *Server) handleSummary(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if j := s.jobOr404(w, r); j != nil {
		s.writeJSON(w, s.index, s.summaryOf(j))
	}
}

func (s *Server) handleJobAllocs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := nsKey{reqNS(r), r.PathValue("id")}
	out := []any{}
	for _, id := range s.jobAllocs[key] {
		out = append(out, s.allocs[id].renderStub())
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleJobEvals(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, id := reqNS(r), r.PathValue("id")
	out := []any{}
	for _, eid := range s.evalOrder {
		if e := s.evals[eid]; e.JobID == id && e.NS == ns {
			out = append(out, renderEval(e))
		}
	}
	s.writeJSON(w, s.index, out)
}
