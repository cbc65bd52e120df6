package spec

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/caravan-ml/caravan/internal/testutil/golden"
)

const examplesDir = "../../hcl/examples"

// TestExamplesGolden loads the shipped examples, which must be valid, and
// compares everything Load yields for them with
// testdata/examples.golden.json. Run with -update after an intended change.
func TestExamplesGolden(t *testing.T) {
	cat, diags := LoadPools(context.Background(), filepath.Join(examplesDir, "pools"), LoadOptions{})
	for _, d := range diags {
		t.Errorf("diagnostic in the examples' pools: %s: %s", d.Error(), d.Detail)
	}
	cfg, diags := Load(context.Background(), examplesDir, LoadOptions{Catalog: cat})
	for _, d := range diags {
		t.Errorf("diagnostic in examples: %s: %s", d.Error(), d.Detail)
	}
	got := goldenView(cfg)
	golden.Check(t, filepath.Join("testdata", "examples.golden.json"), got)
}

// goldenView is a stable JSON rendering of a Config: ranges as file:line
// relative to the examples directory, params as canonical strings.
func goldenView(cfg *Config) []byte {
	type run struct {
		Experiment string
		Index      int
		Params     map[string]string
		Command    string
		Args       []string
		Env        map[string]string
	}
	type exp struct {
		Experiment
		Decl string
	}
	type pool struct {
		Pool
		Module string
		Vars   map[string]string
		Decl   string
	}
	rel := func(f string) string { r, _ := filepath.Rel(examplesDir, f); return r }
	var out struct {
		Experiments []exp
		Pools       []pool
		Runs        []run
	}
	for _, e := range cfg.Experiments {
		out.Experiments = append(out.Experiments, exp{Experiment: *e, Decl: rel(e.DeclRange.Filename)})
	}
	for _, name := range keysOf(cfg.Pools) {
		p := cfg.Pools[name]
		gp := pool{Pool: *p, Decl: rel(p.DeclRange.Filename)}
		if p.Terraform != nil {
			gp.Module = filepath.ToSlash(p.Terraform.Module)
			gp.Vars = map[string]string{}
			for k, v := range p.Terraform.Vars {
				gp.Vars[k], _ = renderValue(v)
			}
		}
		gp.Terraform = nil
		out.Pools = append(out.Pools, gp)
	}
	for _, r := range cfg.Runs {
		gr := run{Experiment: r.Experiment.Name, Index: r.Index, Params: map[string]string{}, Command: r.Command, Args: r.Args, Env: r.Env}
		for _, p := range r.Params {
			gr.Params[p.Name], _ = renderValue(p.Value)
		}
		out.Runs = append(out.Runs, gr)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
