package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// rawState is the part of the local backend's state file (format version
// 4) that names resource instances.
type rawState struct {
	Version   int `json:"version"`
	Resources []struct {
		Module    string `json:"module"`
		Mode      string `json:"mode"`
		Instances []struct {
			IndexKey any    `json:"index_key"`
			Status   string `json:"status"`
		} `json:"instances"`
	} `json:"resources"`
}

// nodesInStateFile reads the node names from the state file without
// Terraform, with the rule of nodesInState: the string keys of managed
// resource instances under module.<ModuleName>. Only read-only workspaces
// use it: `terraform show` needs an initialised workdir, and init writes
// and downloads, which a dry run must not.
func (w *Workspace) nodesInStateFile() (NodeState, error) {
	path := filepath.Join(w.dir, StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return NodeState{}, fmt.Errorf("pool %q: %w", w.opts.Pool, err)
	}
	var st rawState
	if err := json.Unmarshal(b, &st); err != nil {
		return NodeState{}, fmt.Errorf("pool %q: %s is not a Terraform state file: %w", w.opts.Pool, path, err)
	}
	if st.Version != 4 {
		return NodeState{}, fmt.Errorf("pool %q: %s has state format version %d, caravan reads version 4 (Terraform >= 0.12); run caravan autoscale without -dry-run once to upgrade it", w.opts.Pool, path, st.Version)
	}
	prefix := "module." + ModuleName
	seen := map[string]bool{}
	tainted := map[string][]string{}
	for _, r := range st.Resources {
		if r.Mode != "managed" || (r.Module != prefix && !strings.HasPrefix(r.Module, prefix+".")) {
			continue
		}
		for _, in := range r.Instances {
			if k, ok := in.IndexKey.(string); ok && k != "" {
				seen[k] = true
				if in.Status == "tainted" {
					// Addresses are only needed to untaint, which a
					// read-only workspace never does.
					tainted[k] = nil
				}
			}
		}
	}
	return newNodeState(seen, tainted), nil
}
