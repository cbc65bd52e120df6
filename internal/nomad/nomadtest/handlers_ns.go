package nomadtest

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Node pools, namespaces and the caller's identity.

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

func (s *Server) handleTokenSelf(w http.ResponseWriter, r *http.Request) {
	s.faults.mu.Lock()
	tok := s.faults.token
	s.faults.mu.Unlock()
	if tok == "" {
		// With ACLs off Nomad 2.0.5 answers with a stand-in token.
		s.writeJSON(w, 0, map[string]any{
			"ExpirationTTL": "", "AccessorID": "acls-disabled", "SecretID": "", "Name": "ACLs disabled token",
			"Type": "client", "Policies": nil, "Roles": nil, "Global": false, "Hash": nil,
			"CreateTime": "0001-01-01T00:00:00Z", "ExpirationTime": nil, "CreateIndex": 0, "ModifyIndex": 0,
		})
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
		out = append(out, renderNamespace(n, s.namespaces[n]))
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleNamespace(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := r.PathValue("name")
	ns := s.namespaces[n]
	if ns == nil {
		writeError(w, http.StatusNotFound, "Namespace not found")
		return
	}
	s.writeJSON(w, ns.ModifyIndex, renderNamespace(n, ns))
}

func renderNamespace(name string, ns *namespace) map[string]any {
	return map[string]any{
		"Capabilities": nil, "ConsulConfiguration": nil, "CreateIndex": ns.CreateIndex, "Description": ns.Description,
		"Hash": "", "Meta": nil, "ModifyIndex": ns.ModifyIndex, "Name": name, "NodePoolConfiguration": nil,
		"OptionalExtraClaims": nil, "Quota": "", "RequiredExtraClaims": nil, "VaultConfiguration": nil,
	}
}

// handleNamespacePut creates or updates a namespace, answering as Nomad
// 2.0.5 does: 200 with an empty body and the write's index.
func (s *Server) handleNamespacePut(w http.ResponseWriter, r *http.Request) {
	var in struct{ Name, Description string }
	if err := decodeBody(r, &in); err != nil || in.Name == "" {
		writeError(w, http.StatusBadRequest, "Missing namespace name")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	idx := s.nextIndex()
	ns := s.namespaces[in.Name]
	if ns == nil {
		ns = &namespace{CreateIndex: idx}
		s.namespaces[in.Name] = ns
	}
	ns.Description, ns.ModifyIndex = in.Description, idx
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(idx, 10))
	w.WriteHeader(http.StatusOK)
}

// handleNamespaceDelete deletes a namespace that holds no job that is
// still running or pending and no variable; Nomad refuses otherwise, with
// a 500 naming what is left.
func (s *Server) handleNamespaceDelete(w http.ResponseWriter, r *http.Request) {
	n := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case n == "default":
		writeError(w, http.StatusInternalServerError, "can not delete default namespace")
		return
	case s.namespaces[n] == nil:
		writeError(w, http.StatusInternalServerError, "namespace not found")
		return
	}
	for k, j := range s.jobs {
		if k.ns == n && s.jobStatus(j) != "dead" {
			writeError(w, http.StatusInternalServerError, multiError(fmt.Sprintf("namespace %q has non-terminal jobs in regions: [global]", n)))
			return
		}
	}
	for k := range s.vars {
		if k.ns == n {
			writeError(w, http.StatusInternalServerError, multiError(fmt.Sprintf("namespace %q has variables associated with it in regions: [global]", n)))
			return
		}
	}
	delete(s.namespaces, n)
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.nextIndex(), 10))
	w.WriteHeader(http.StatusOK)
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

// handlePoolDelete deletes a node pool that no node is in, as Nomad does;
// the built-in pools cannot go.
func (s *Server) handlePoolDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	s.mu.Lock()
	defer s.mu.Unlock()
	if name == "all" || name == "default" {
		writeError(w, http.StatusBadRequest, "modifying node pool \""+name+"\" is not allowed")
		return
	}
	if s.pools[name] == nil {
		writeError(w, http.StatusInternalServerError, "node pool "+name+" not found")
		return
	}
	for _, id := range s.nodeOrder {
		if s.nodes[id].Pool == name {
			writeError(w, http.StatusInternalServerError, multiError(fmt.Sprintf("node pool %q has nodes in regions: [global]", name)))
			return
		}
	}
	delete(s.pools, name)
	s.poolOrder = without(s.poolOrder, name)
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.nextIndex(), 10))
	w.WriteHeader(http.StatusOK)
}
