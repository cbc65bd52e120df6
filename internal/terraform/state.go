package terraform

import (
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"
)

// nodesInState returns the node names a state holds: the string keys of
// the managed resource instances under module.<ModuleName> (nested modules
// included). Pool modules key their per-machine resources by node name
// (for_each = var.nodes); reading the keys rather than an output is what
// keeps a partially applied or interrupted apply honest, because outputs
// are only written at the end of a successful apply while each created
// resource is in state as soon as it exists.
func nodesInState(st *tfjson.State) []string {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return nil
	}
	seen := map[string]bool{}
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
				}
			}
		}
		for _, c := range m.ChildModules {
			in := inPool || c.Address == prefix || strings.HasPrefix(c.Address, prefix+".")
			walk(c, in)
		}
	}
	walk(st.Values.RootModule, false)
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
