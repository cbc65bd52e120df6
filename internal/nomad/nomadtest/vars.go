package nomadtest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Nomad Variables with check-and-set (?cas=N) and 409 conflicts that carry
// the current variable, as Nomad answers them (a text/plain 409 whose
// body is the variable's JSON). Native variable locks
// (?lock-acquire, ...) are not modelled and answer 400.

const maxVarBytes = 64 * 1024

// SetVariable seeds a variable (e.g. a corrupt record) without checks.
func (s *Server) SetVariable(namespace, path string, items map[string]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if namespace == "" {
		namespace = "default"
	}
	s.putVar(namespace, path, items)
}

// VariableItems returns a variable's items (nil if absent).
func (s *Server) VariableItems(namespace, path string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if namespace == "" {
		namespace = "default"
	}
	if v := s.vars[nsKey{namespace, path}]; v != nil {
		out := map[string]string{}
		for k, x := range v.Items {
			out[k] = x
		}
		return out
	}
	return nil
}

func (s *Server) putVar(ns, path string, items map[string]string) *variable {
	idx := s.nextIndex()
	now := s.nowNano()
	v := s.vars[nsKey{ns, path}]
	if v == nil {
		v = &variable{NS: ns, Path: path, CreateIndex: idx, CreateTime: now}
		s.vars[nsKey{ns, path}] = v
	}
	v.Items = items
	v.ModifyIndex, v.ModifyTime = idx, now
	s.touch()
	return v
}

func (s *Server) handleVars(w http.ResponseWriter, r *http.Request) {
	ns := reqNS(r)
	q := r.URL.Query()
	prefix := q.Get("prefix")
	perPage := atoiDefault(q.Get("per_page"), 0)
	next := q.Get("next_token")
	match, err := varFilter(q.Get("filter"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.varPage > 0 && (perPage == 0 || perPage > s.varPage) {
		perPage = s.varPage
	}
	var vs []*variable
	for k, v := range s.vars {
		if (ns == "*" || k.ns == ns) && strings.HasPrefix(k.id, prefix) && match(v.Path) {
			vs = append(vs, v)
		}
	}
	sort.Slice(vs, func(a, b int) bool {
		if vs[a].NS != vs[b].NS {
			return vs[a].NS < vs[b].NS
		}
		return vs[a].Path < vs[b].Path
	})
	out := []any{}
	token := ""
	for _, v := range vs {
		if next != "" && v.NS+"."+v.Path < next {
			continue
		}
		if perPage > 0 && len(out) == perPage {
			token = v.NS + "." + v.Path
			break
		}
		out = append(out, renderVar(v, false))
	}
	if token != "" {
		w.Header().Set("X-Nomad-NextToken", token)
	}
	s.writeJSON(w, s.index, out)
}

func (s *Server) handleVarGet(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.vars[nsKey{reqNS(r), r.PathValue("path")}]
	if v == nil {
		writeError(w, http.StatusNotFound, "variable not found")
		return
	}
	s.writeJSON(w, v.ModifyIndex, renderVar(v, true))
}

func casParam(r *http.Request) (uint64, bool, error) {
	c := r.URL.Query().Get("cas")
	if c == "" {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(c, 10, 64)
	return n, true, err
}

func (s *Server) conflict(w http.ResponseWriter, v *variable, ns, path string) {
	cur := &variable{NS: ns, Path: path}
	if v != nil {
		cur = v
	}
	// Nomad answers a lost check-and-set with the variable as it is,
	// items included; an absent one has zero indexes and no items.
	b, _ := json.Marshal(renderVar(cur, v != nil))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.index, 10))
	w.WriteHeader(http.StatusConflict)
	w.Write(b)
}

func (s *Server) handleVarPut(w http.ResponseWriter, r *http.Request) {
	for _, op := range []string{"lock-acquire", "lock-renew", "lock-release"} {
		if hasFlag(r, op) {
			writeError(w, http.StatusBadRequest, "nomadtest: variable locks are not implemented by the fake; use check-and-set")
			return
		}
	}
	ns, path := reqNS(r), r.PathValue("path")
	var in struct {
		Items map[string]string
	}
	if err := decodeBody(r, &in); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cas, checked, err := casParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "failed to parse cas value: "+err.Error())
		return
	}
	size := 0
	for k, v := range in.Items {
		size += len(k) + len(v)
	}
	if size > maxVarBytes {
		writeError(w, http.StatusInternalServerError, "variables are limited to 64KiB in total size")
		return
	}
	if len(in.Items) == 0 {
		writeError(w, http.StatusBadRequest, "variable missing required Items object")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Nomad 2.0.5 with ACLs off keeps a variable in a namespace it does
	// not know (with ACLs on, a token's policy names the namespaces).
	cur := s.vars[nsKey{ns, path}]
	if checked {
		if (cur == nil && cas != 0) || (cur != nil && cur.ModifyIndex != cas) {
			s.conflict(w, cur, ns, path)
			return
		}
	}
	v := s.putVar(ns, path, in.Items)
	s.writeJSON(w, v.ModifyIndex, renderVar(v, true))
}

func (s *Server) handleVarDelete(w http.ResponseWriter, r *http.Request) {
	ns, path := reqNS(r), r.PathValue("path")
	cas, checked, err := casParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "failed to parse cas value: "+err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.vars[nsKey{ns, path}]
	if checked && ((cur == nil && cas != 0) || (cur != nil && cur.ModifyIndex != cas)) {
		s.conflict(w, cur, ns, path)
		return
	}
	delete(s.vars, nsKey{ns, path})
	s.nextIndex()
	w.Header().Set("X-Nomad-Index", strconv.FormatUint(s.index, 10))
	w.WriteHeader(http.StatusNoContent)
}

// SetVariablePageSize makes variable listings paginate at n per page even
// when the client asks for no limit, to exercise NextToken handling.
func (s *Server) SetVariablePageSize(n int) {
	s.mu.Lock()
	s.varPage = n
	s.mu.Unlock()
}

// varPathFilterRE is the one filter on variables the fake models, the one
// caravan sends: a regular expression on the path.
var varPathFilterRE = regexp.MustCompile(`^\s*VariableMetadata\.Path\s+matches\s+"((?:[^"\\]|\\.)*)"\s*$`)

// varFilter turns a variables list's ?filter= into a test of the path.
func varFilter(expr string) (func(path string) bool, error) {
	if expr == "" {
		return func(string) bool { return true }, nil
	}
	m := varPathFilterRE.FindStringSubmatch(expr)
	if m == nil {
		return nil, fmt.Errorf("nomadtest: the fake filters variables only by VariableMetadata.Path matches \"regexp\", not %q", expr)
	}
	pattern, err := strconv.Unquote(`"` + m[1] + `"`)
	if err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return re.MatchString, nil
}
