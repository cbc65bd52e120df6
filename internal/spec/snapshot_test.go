package spec

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestSnapshotReproduces: a configuration reloaded from its snapshot
// (files and variables as loaded, whatever set them) yields the same runs,
// and the snapshot's hash depends on its content only.
func TestSnapshotReproduces(t *testing.T) {
	dir := t.TempDir()
	for name, text := range map[string]string{
		"vars.hcl":  "variable \"base\" {\n  type = number\n}\nvariable \"tags\" {\n  default = { team = \"vision\" }\n}\n",
		"train.hcl": pointHCL + "\nexperiment \"tagged\" {\n  image = \"img\"\n  args = [tostring(var.base), var.tags.team]\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := Load(context.Background(), dir, LoadOptions{Vars: map[string]string{"base": "7"}, Env: []string{"CARAVAN_VAR_epochs=4"}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	s, err := SnapshotOf(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 2 || s.Files["vars.hcl"] == "" || len(s.Vars) != 3 {
		t.Fatalf("snapshot %+v", s)
	}
	again, diags := LoadSnapshot(s, dir, LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(again.Runs) != len(cfg.Runs) {
		t.Fatalf("%d runs from the snapshot, %d from the files", len(again.Runs), len(cfg.Runs))
	}
	for i := range cfg.Runs {
		a, b := cfg.Runs[i], again.Runs[i]
		if !reflect.DeepEqual(a.Args, b.Args) || !reflect.DeepEqual(a.Env, b.Env) || a.Experiment.DeclRange.Filename != b.Experiment.DeclRange.Filename {
			t.Errorf("run %d: %v %v %s vs %v %v %s", i, a.Args, a.Env, a.Experiment.DeclRange.Filename, b.Args, b.Env, b.Experiment.DeclRange.Filename)
		}
	}
	if s2, _ := SnapshotOf(again); s2.Hash() != s.Hash() {
		t.Error("the same configuration hashes differently")
	}
}
