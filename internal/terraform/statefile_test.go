package terraform

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	"github.com/zclconf/go-cty/cty"
)

func newReadOnly(t *testing.T, stateDir string) *Workspace {
	t.Helper()
	w, err := New(Options{Pool: "gpu", Module: testPoolModule, StateDir: stateDir, ReadOnly: true, Bin: "/nonexistent/terraform"})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestReadOnlyWorkspace: a dry run's workspace creates no workdir, needs no
// terraform binary, refuses to apply, and reads the names from the state
// file by the rule of nodesInState (module.pool resources only, string keys).
func TestReadOnlyWorkspace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	w := newReadOnly(t, dir)
	if _, err := os.Stat(w.Dir()); !os.IsNotExist(err) {
		t.Errorf("read-only New created %s (err %v)", w.Dir(), err)
	}
	if got, err := w.Nodes(ctx); err != nil || len(got) != 0 {
		t.Errorf("no workdir: nodes %v, err %v", got, err)
	}
	if _, err := w.Apply(ctx, []string{"gpu-1"}); err == nil || !strings.Contains(err.Error(), "dry run") {
		t.Errorf("Apply = %v, want a dry-run refusal", err)
	}

	state := `{"version": 4, "resources": [
	  {"module": "module.pool", "mode": "managed", "type": "terraform_data", "name": "node",
	   "instances": [{"index_key": "gpu-2"}, {"index_key": "gpu-1"}]},
	  {"module": "module.pool.module.disk", "mode": "managed", "type": "terraform_data", "name": "disk",
	   "instances": [{"index_key": "gpu-1"}, {"index_key": "gpu-3"}]},
	  {"module": "module.pool", "mode": "data", "type": "x", "name": "d", "instances": [{"index_key": "data-key"}]},
	  {"module": "module.poolside", "mode": "managed", "type": "x", "name": "y", "instances": [{"index_key": "other"}]},
	  {"mode": "managed", "type": "x", "name": "root", "instances": [{"index_key": "root-key"}, {"index_key": 3}]}
	]}`
	if err := os.MkdirAll(w.Dir(), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), StateFile), []byte(state), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := w.Nodes(ctx)
	if want := []string{"gpu-1", "gpu-2", "gpu-3"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("Nodes = %v, %v; want %v", got, err, want)
	}
	if err := os.WriteFile(filepath.Join(w.Dir(), StateFile), []byte(`{"version": 3}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Nodes(ctx); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Errorf("old state format: err %v, want one naming version 3", err)
	}
}

// TestReadOnlyAgreesWithTerraform: on a state real Terraform wrote, the
// direct read gives what terraform show gives.
func TestReadOnlyAgreesWithTerraform(t *testing.T) {
	needTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	w := newTestWorkspace(t, dir, map[string]cty.Value{"fail_file": cty.StringVal(filepath.Join(dir, "fail"))}, &syncbuf.Buffer{})
	if _, err := w.Apply(ctx, []string{"gpu-1", "gpu-0", "gpu-7"}); err != nil {
		t.Fatal(err)
	}
	want, err := w.Nodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newReadOnly(t, dir).Nodes(ctx)
	if err != nil || !slices.Equal(got, want) || len(got) != 3 {
		t.Errorf("read-only Nodes = %v, %v; terraform show says %v", got, err, want)
	}
}
