package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/nomad/nomadtest"
	"github.com/caravan-ml/caravan/internal/terraform"
)

// TestAutoscaleExamplePools: the operator's example pools directory starts
// the autoscaler (dry run): every variable its modules need is set, and
// node_pool comes from the pool.
func TestAutoscaleExamplePools(t *testing.T) {
	srv := nomadtest.New(t)
	out, errb, stop := startAutoscale(t, "../../hcl/examples/pools", "-dry-run", "-listen", "", "-state-dir", t.TempDir(), "-address", srv.URL())
	waitUntil(t, "the dry run decides", errb, func() bool { return strings.Contains(out.String(), "[dry-run] pool a100") })
	if c := stop(); c != ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", c, out.String(), errb.String())
	}
}

// TestAutoscalePassesNodePool: the pool's node_pool reaches its module
// without being typed twice, and a different one in terraform.vars is
// refused before anything runs.
func TestAutoscalePassesNodePool(t *testing.T) {
	dir, srv := autoscaleFixture(t)
	stateDir := t.TempDir()
	_, errb, stop := startAutoscale(t, dir, "-listen", "", "-state-dir", stateDir, "-address", srv.URL())
	defer stop()
	tfvars := filepath.Join(stateDir, "gpu", terraform.VarsFile)
	waitUntil(t, "the pool's module is applied", errb, func() bool {
		b, err := os.ReadFile(tfvars)
		var vars map[string]any
		return err == nil && json.Unmarshal(b, &vars) == nil && len(vars["nodes"].([]any)) == 1
	})
	b, _ := os.ReadFile(tfvars)
	var vars map[string]any
	if err := json.Unmarshal(b, &vars); err != nil || vars["node_pool"] != "gpu" {
		t.Errorf("the module was not given the pool's node_pool: %s", b)
	}
	if c := stop(); c != ExitOK {
		t.Fatalf("exit %d\nstderr:\n%s", c, errb.String())
	}

	hcl, _ := os.ReadFile(filepath.Join(dir, "pools.hcl"))
	edited := strings.Replace(string(hcl), "terraform {\n", "terraform {\n    vars = { node_pool = \"default\" }\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "pools.hcl"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errb2, stop2 := startAutoscale(t, dir, "-listen", "", "-state-dir", t.TempDir(), "-address", srv.URL())
	defer stop2()
	waitUntil(t, "a node_pool that differs from the pool's is refused", errb2, func() bool {
		return strings.Contains(errb2.String(), `node_pool is "gpu"`) && strings.Contains(errb2.String(), "remove node_pool from terraform.vars")
	})
	if c := stop2(); c != ExitError {
		t.Errorf("exit %d, want %d", c, ExitError)
	}
}
