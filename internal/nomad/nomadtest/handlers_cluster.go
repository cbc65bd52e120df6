package nomadtest

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// ---- allocations and evaluations ----

func (s *Server) handleAllocs(w http.ResponseWriter, r *http.Request) {
	ns := reqNS(r)
	res := isTrue(r, "resources")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range s.allocOrder {
		if a := s.allocs[id]; ns == "*" || a.NS == ns {
			m := a.renderStub()
			if res {
				m["AllocatedResources"] = a.allocatedResources()
			}
			out = append(out, m)
		}
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleAlloc(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := idOr404(w, r, s.allocs, "alloc"); a != nil {
		s.writeJSON(w, a.ModifyIndex, s.renderAlloc(a, true))
	}
}

func (s *Server) handleEvals(w http.ResponseWriter, r *http.Request) {
	ns := reqNS(r)
	status := r.URL.Query().Get("status")
	match, err := evalFilter(r.URL.Query().Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range s.evalOrder {
		e := s.evals[id]
		if (ns == "*" || e.NS == ns) && (status == "" || e.Status == status) && match(e) {
			out = append(out, renderEval(e))
		}
	}
	s.writeJSON(w, s.index, out)
}

var filterRE = regexp.MustCompile(`^\s*(\w+)\s*(==|!=)\s*"([^"]*)"\s*$`)

// evalFilter is the part of Nomad's filter expressions (?filter=) the
// fake models: one comparison of an evaluation's string field with a
// quoted value, e.g. Status == "blocked".
func evalFilter(expr string) (func(*eval) bool, error) {
	if expr == "" {
		return func(*eval) bool { return true }, nil
	}
	m := filterRE.FindStringSubmatch(expr)
	if m == nil {
		return nil, fmt.Errorf("nomadtest: the fake models only filters of the form Field == \"value\", not %q", expr)
	}
	field := map[string]func(*eval) string{
		"Status":      func(e *eval) string { return e.Status },
		"JobID":       func(e *eval) string { return e.JobID },
		"TriggeredBy": func(e *eval) string { return e.TriggeredBy },
		"Type":        func(e *eval) string { return e.Type },
		"Namespace":   func(e *eval) string { return e.NS },
		"NodeID":      func(e *eval) string { return e.NodeID },
	}[m[1]]
	if field == nil {
		return nil, fmt.Errorf("nomadtest: the fake does not filter evaluations by %s", m[1])
	}
	want, eq := m[3], m[2] == "=="
	return func(e *eval) bool { return (field(e) == want) == eq }, nil
}

func (s *Server) handleEval(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := idOr404(w, r, s.evals, "eval"); e != nil {
		s.writeJSON(w, e.ModifyIndex, renderEval(e))
	}
}

// ---- nodes ----

func (s *Server) handleNodes(w http.ResponseWriter, r *http.Request) {
	res := isTrue(r, "resources")
	prefix := r.URL.Query().Get("prefix")
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range s.nodeOrder {
		if !strings.HasPrefix(id, prefix) {
			continue
		}
		m := s.renderNodeStub(s.nodes[id])
		if !res {
			delete(m, "NodeResources")
			delete(m, "ReservedResources")
		}
		out = append(out, m)
	}
	s.writeJSON(w, s.index, out)
}

// idOr404 is the object the request's {id} names, or nil after answering
// 404 with Nomad's "<what> not found".
func idOr404[T any](w http.ResponseWriter, r *http.Request, m map[string]*T, what string) *T {
	v := m[r.PathValue("id")]
	if v == nil {
		writeError(w, http.StatusNotFound, what+" not found")
	}
	return v
}

func (s *Server) handleNode(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := idOr404(w, r, s.nodes, "node"); n != nil {
		s.writeJSON(w, n.ModifyIndex, s.renderNode(n))
	}
}

func (s *Server) handleNodeAllocs(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range s.nodeAllocs[r.PathValue("id")] {
		out = append(out, s.renderAlloc(s.allocs[id], true))
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	var req struct {
		DrainSpec *struct {
			Deadline         int64
			IgnoreSystemJobs bool
		}
		MarkEligible bool
		Meta         map[string]string
	}
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeForWrite(w, r)
	if n == nil {
		return
	}
	if req.DrainSpec != nil {
		s.setDrain(n, time.Duration(req.DrainSpec.Deadline), req.Meta, false, true)
	} else {
		s.setDrain(n, 0, nil, req.MarkEligible, false)
	}
	s.writeJSON(w, s.index, map[string]any{"EvalCreateIndex": 0, "EvalIDs": nil, "Index": s.index, "NodeModifyIndex": n.ModifyIndex})
}

// nodeForWrite is the node a drain or eligibility request names, or nil
// after answering as Nomad does for an unknown one: a 500, not a 404.
func (s *Server) nodeForWrite(w http.ResponseWriter, r *http.Request) *node {
	n := s.nodes[r.PathValue("id")]
	if n == nil {
		writeError(w, http.StatusInternalServerError, "node not found")
	}
	return n
}

func (s *Server) handleEligibility(w http.ResponseWriter, r *http.Request) {
	var req struct{ Eligibility string }
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nodeForWrite(w, r)
	if n == nil {
		return
	}
	if (req.Eligibility == "eligible") == n.Eligible && (req.Eligibility == "eligible" || req.Eligibility == "ineligible") {
		// Nomad writes nothing when nothing changes.
		s.writeJSON(w, 0, map[string]any{"EvalCreateIndex": 0, "EvalIDs": nil, "Index": 0, "NodeModifyIndex": 0})
		return
	}
	switch req.Eligibility {
	case "eligible":
		if n.Drain {
			writeError(w, http.StatusBadRequest, "can not set node's scheduling eligibility to eligible while it is draining")
			return
		}
		n.Eligible = true
	case "ineligible":
		n.Eligible = false
	default:
		writeError(w, http.StatusBadRequest, fmt.Sprintf("invalid scheduling eligibility %q", req.Eligibility))
		return
	}
	n.ModifyIndex = s.nextIndex()
	s.emit("Node", "NodeEligibility", n.ID, "", nodeSnap(n))
	if n.Eligible {
		s.retryBlocked()
	}
	s.writeJSON(w, s.index, map[string]any{"EvalCreateIndex": 0, "EvalIDs": nil, "Index": s.index, "NodeModifyIndex": n.ModifyIndex})
}
