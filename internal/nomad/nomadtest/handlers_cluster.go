package nomadtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
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
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, id := range s.evalOrder {
		e := s.evals[id]
		if (ns == "*" || e.NS == ns) && (status == "" || e.Status == status) {
			out = append(out, renderEval(e))
		}
	}
	s.writeJSON(w, s.index, out)
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
	n := idOr404(w, r, s.nodes, "node")
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

func (s *Server) handleEligibility(w http.ResponseWriter, r *http.Request) {
	var req struct{ Eligibility string }
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := idOr404(w, r, s.nodes, "node")
	if n == nil {
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

func (s *Server) handlePools(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := append([]string(nil), s.poolOrder...)
	sort.Strings(names)
	out := []any{}
	for _, n := range names {
		out = append(out, renderPool(s.pools[n]))
	}
	s.writeJSON(w, s.index, out)
}

// ---- identity and namespaces ----

func (s *Server) handleTokenSelf(w http.ResponseWriter, r *http.Request) {
	s.faults.mu.Lock()
	tok := s.faults.token
	s.faults.mu.Unlock()
	if tok == "" {
		writeError(w, http.StatusBadRequest, "ACL support disabled")
		return
	}
	s.writeJSON(w, s.Index(), map[string]any{
		"AccessorID": "b1e1e3a4-0000-4000-8000-000000000001", "SecretID": tok, "Name": "caravan-test",
		"Type": "client", "Policies": []any{"caravan"}, "Roles": nil, "Global": false,
		"CreateTime": s.Now().UTC().Format(time.RFC3339Nano), "ExpirationTime": nil, "CreateIndex": 1, "ModifyIndex": 1,
	})
}

func (s *Server) handleNamespaces(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []any{}
	for _, n := range slices.Sorted(maps.Keys(s.namespaces)) {
		out = append(out, map[string]any{"Name": n, "Description": "", "Quota": "", "Meta": nil, "CreateIndex": 1, "ModifyIndex": 1})
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleNamespace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := r.PathValue("name")
	if !s.namespaces[n] {
		writeError(w, http.StatusNotFound, "namespace not found")
		return
	}
	s.writeJSON(w, s.index, map[string]any{"Name": n, "Description": "", "Quota": "", "Meta": nil, "CreateIndex": 1, "ModifyIndex": 1})
}

// handleNamespacePut creates or updates a namespace, answering as Nomad
// 2.0.5 does: 200 with an empty body and the write's index.
func (s *Server) handleNamespacePut(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name string }
	if err := decodeBody(r, &in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "Missing namespace name")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.namespaces[in.Name] = true
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.nextIndex(), 10))
	w.WriteHeader(http.StatusOK)
}

// handleNamespaceDelete deletes a namespace that holds no job and no
// variable; Nomad refuses otherwise, with a 500 naming what is left.
func (s *Server) handleNamespaceDelete(w http.ResponseWriter, r *http.Request) {
	n := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case n == "default":
		writeError(w, http.StatusInternalServerError, "can not delete default namespace")
		return
	case !s.namespaces[n]:
		writeError(w, http.StatusInternalServerError, "namespace not found")
		return
	}
	for k := range s.jobs {
		if k.ns == n {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("1 error occurred:\n\t* namespace %q has non-terminal jobs in regions: [global]\n\n", n))
			return
		}
	}
	for k := range s.vars {
		if k.ns == n {
			writeError(w, http.StatusInternalServerError, fmt.Sprintf("1 error occurred:\n\t* namespace %q has variables associated with it in regions: [global]\n\n", n))
			return
		}
	}
	delete(s.namespaces, n)
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.nextIndex(), 10))
	w.WriteHeader(http.StatusOK)
}

func atoiDefault(s string, d int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return d
}

func (s *Server) handlePool(w http.ResponseWriter, r *http.Request, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.pools[name]
	if p == nil {
		writeError(w, http.StatusNotFound, "node pool not found")
		return
	}
	s.writeJSON(w, p.ModifyIndex, renderPool(p))
}

func (s *Server) handlePoolPut(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name, Description string }
	if err := decodeBody(r, &in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "missing node pool name")
		return
	}
	if in.Name == "all" || in.Name == "default" {
		writeError(w, http.StatusBadRequest, "modifying node pool \""+in.Name+"\" is not allowed")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ensurePool(in.Name)
	s.pools[in.Name].Description = in.Description
	s.pools[in.Name].ModifyIndex = s.nextIndex()
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.index, 10))
	w.WriteHeader(http.StatusOK)
}
