package terraform

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/syncbuf"
	tfjson "github.com/hashicorp/terraform-json"
	"github.com/zclconf/go-cty/cty"
)

func TestDestroysKept(t *testing.T) {
	rc := func(module, name string, key any, reason tfjson.ActionReason, deposed string, acts ...tfjson.Action) *tfjson.ResourceChange {
		addr := module + ".aws_instance." + name
		return &tfjson.ResourceChange{Address: addr, ModuleAddress: module, Mode: tfjson.ManagedResourceMode, Index: key,
			ActionReason: reason, DeposedKey: deposed, Change: &tfjson.Change{Actions: acts}}
	}
	replace := []tfjson.Action{tfjson.ActionDelete, tfjson.ActionCreate}
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc("module.pool", "a", "gpu-1", tfjson.ActionReasonReplaceBecauseCannotUpdate, "", replace...),  // kept, replaced: refused
		rc("module.pool.module.disk", "b", "gpu-2", "", "", tfjson.ActionDelete),                        // kept, nested, deleted: refused
		rc("module.pool", "c", "gpu-3", "", "", tfjson.ActionDelete),                                    // leaving the set: fine
		rc("module.pool", "d", "gpu-1", tfjson.ActionReasonReplaceBecauseTainted, "", replace...),       // failed creation retried: fine
		rc("module.pool", "e", "gpu-1", "", "abcd", tfjson.ActionDelete),                                // deposed object: fine
		rc("module.pool", "f", "gpu-1", "", "", tfjson.ActionUpdate),                                    // in-place: fine
		rc("module.pool", "g", "gpu-4", "", "", tfjson.ActionCreate),                                    // new: fine
		rc("module.other", "h", "gpu-1", tfjson.ActionReasonReplaceBecauseCannotUpdate, "", replace...), // not the pool module
		rc("module.pool", "i", 0, tfjson.ActionReasonReplaceBecauseCannotUpdate, "", replace...),        // not keyed by a name
		rc("module.pool", "j", "gpu-5", tfjson.ActionReasonReplaceBecauseTainted, "", replace...),       // tainted but registered: refused
	}}
	keep := map[string]bool{"gpu-1": true, "gpu-2": true, "gpu-4": true, "gpu-5": true}
	got := destroysKept(plan, keep, map[string]bool{"gpu-5": true})
	want := []string{"module.pool.aws_instance.a (replace_because_cannot_update)", "module.pool.aws_instance.j (replace_because_tainted)", "module.pool.module.disk.aws_instance.b"}
	if !slices.Equal(got, want) {
		t.Errorf("destroysKept = %q, want %q", got, want)
	}
}

// TestApplyRefusesToReplaceKeptMachines: with real Terraform, a change that
// forces the replacement of existing machines is not applied while their
// names stay in the set (not even the part of the plan that adds a node),
// and names leaving the set are still removed once the change is gone.
func TestApplyRefusesToReplaceKeptMachines(t *testing.T) {
	needTerraform(t)
	ctx := context.Background()
	dir := t.TempDir()
	vars := func(gen string) map[string]cty.Value {
		return map[string]cty.Value{"fail_file": cty.StringVal(filepath.Join(dir, "fail")), "generation": cty.StringVal(gen)}
	}
	if _, err := newTestWorkspace(t, dir, vars("1"), &syncbuf.Buffer{}).Apply(ctx, []string{"gpu-0", "gpu-1"}); err != nil {
		t.Fatal(err)
	}
	w2 := newTestWorkspace(t, dir, vars("2"), &syncbuf.Buffer{})
	_, err := w2.Apply(ctx, []string{"gpu-0", "gpu-1", "gpu-2"})
	if err == nil || !strings.Contains(err.Error(), `module.pool.terraform_data.node["gpu-0"]`) || !strings.Contains(err.Error(), "ignore_changes") {
		t.Fatalf("Apply = %v, want a refusal naming gpu-0's resource and the fix", err)
	}
	if got, err := w2.Nodes(ctx); err != nil || !slices.Equal(got, []string{"gpu-0", "gpu-1"}) {
		t.Errorf("state after the refusal: %v, %v; want it untouched", got, err)
	}
	// Names leaving the set may go whatever changed.
	if res, err := newTestWorkspace(t, dir, vars("1"), &syncbuf.Buffer{}).Apply(ctx, []string{"gpu-1"}); err != nil || !slices.Equal(res.Nodes, []string{"gpu-1"}) {
		t.Errorf("scale-in: %+v, %v", res, err)
	}
}
