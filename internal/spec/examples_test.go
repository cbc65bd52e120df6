package spec

import (
	"testing"
)

// TestExamplesValidate loads the shipped examples: they must be valid and
// cover the features the reference describes.
func TestExamplesValidate(t *testing.T) {
	cfg, diags := Load("../../hcl/examples", LoadOptions{})
	for _, d := range diags {
		t.Errorf("diagnostic: %s: %s", d.Error(), d.Detail)
	}
	if testing.Verbose() {
		for _, e := range cfg.Experiments {
			t.Logf("%s: %+v", e.Name, *e)
		}
		for name, p := range cfg.Pools {
			t.Logf("pool %s %+v tf=%+v", name, *p, p.Terraform)
		}
		for i, r := range cfg.Runs {
			if i%7 == 0 {
				t.Log(r.Experiment.Name, r.Index, r.Params, r.Command, r.Args, r.Env)
			}
		}
	}
	if len(cfg.Runs) != 24+32+2 {
		t.Errorf("runs = %d, want 58", len(cfg.Runs))
	}
}
