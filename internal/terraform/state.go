package terraform

import (
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// NodeState is what a pool's Terraform state holds, by node name.
type NodeState struct {
	// Nodes are the node names in state, sorted.
	Nodes []string
	// Tainted are the names (a subset of Nodes, sorted) with a resource
	// instance marked tainted: a creation that failed half way, whose
	// machine may or may not run. The next apply replaces it unless
	// caravan untaints it first (see ApplyRequest).
	Tainted []string
	// taintedAt are the addresses of the tainted instances of each name.
	taintedAt map[string][]string
}

// IsTainted reports whether name has a tainted resource instance.
func (s NodeState) IsTainted(name string) bool {
	i := sort.SearchStrings(s.Tainted, name)
	return i < len(s.Tainted) && s.Tainted[i] == name
}

// nodesInState returns the node names a state holds: the string keys of
// the managed resource instances under module.<ModuleName> (nested modules
// included). Pool modules key their per-machine resources by node name
// (for_each = var.nodes); reading the keys rather than an output is what
// keeps a partially applied or interrupted apply honest, because outputs
// are only written at the end of a successful apply while each created
// resource is in state as soon as it exists.
func nodesInState(st *tfjson.State) NodeState {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return NodeState{}
	}
	seen := map[string]bool{}
	tainted := map[string][]string{}
	prefix := "module." + ModuleName
	var walk func(m *tfjson.StateModule, inPool bool)
	walk = func(m *tfjson.StateModule, inPool bool) {
		if inPool {
			for _, r := range m.Resources {
				if r.Mode != tfjson.ManagedResourceMode {
					continue
				}
				if k, ok := r.Index.(string); ok && k != "" {
					seen[k] = true
					if r.Tainted {
						tainted[k] = append(tainted[k], r.Address)
					}
				}
			}
		}
		for _, c := range m.ChildModules {
			in := inPool || c.Address == prefix || strings.HasPrefix(c.Address, prefix+".")
			walk(c, in)
		}
	}
	walk(st.Values.RootModule, false)
	return newNodeState(seen, tainted)
}

func newNodeState(seen map[string]bool, tainted map[string][]string) NodeState {
	s := NodeState{Nodes: make([]string, 0, len(seen)), taintedAt: tainted}
	for n := range seen {
		s.Nodes = append(s.Nodes, n)
	}
	for n := range tainted {
		s.Tainted = append(s.Tainted, n)
	}
	sort.Strings(s.Nodes)
	sort.Strings(s.Tainted)
	return s
}
