package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
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
			IndexKey any `json:"index_key"`
		} `json:"instances"`
	} `json:"resources"`
}

// nodesInStateFile reads the node names from the state file without
// Terraform, with the rule of nodesInState: the string keys of managed
// resource instances under module.<ModuleName>. Only read-only workspaces
// use it: `terraform show` needs an initialised workdir, and init writes
// and downloads, which a dry run must not.
func (w *Workspace) nodesInStateFile() ([]string, error) {
	path := filepath.Join(w.dir, StateFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", w.opts.Pool, err)
	}
	var st rawState
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("pool %q: %s is not a Terraform state file: %w", w.opts.Pool, path, err)
	}
	if st.Version != 4 {
		return nil, fmt.Errorf("pool %q: %s has state format version %d, caravan reads version 4 (Terraform >= 0.12); run caravan autoscale without -dry-run once to upgrade it", w.opts.Pool, path, st.Version)
	}
	prefix := "module." + ModuleName
	seen := map[string]bool{}
	for _, r := range st.Resources {
		if r.Mode != "managed" || (r.Module != prefix && !strings.HasPrefix(r.Module, prefix+".")) {
			continue
		}
		for _, in := range r.Instances {
			if k, ok := in.IndexKey.(string); ok && k != "" {
				seen[k] = true
			}
		}
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}
