package spec

import (
	"slices"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

const pointHCL = `variable "epochs" {
  type    = number
  default = 10
}

experiment "train" {
  image   = "img"
  args    = ["--lr", param.lr, "--tag", "run-${param.lr}", "--epochs", var.epochs]
  env     = { OPT = upper(param.opt) }
  params  = { opt = "adam" }
  sweep {
    grid   = { lr = [0.1, 0.01] }
  }
}

experiment "other" {
  image = "img"
}
`

// TestPoint: a point is one run of one experiment at the given params,
// expanded as a sweep point is (args and env computed from params follow
// them), with the language's checks on which params and of what type.
func TestPoint(t *testing.T) {
	files := map[string][]byte{"m.hcl": []byte(pointHCL)}
	cfg, diags := LoadSource("", files, LoadOptions{Point: &Point{Experiment: "train",
		Params: map[string]cty.Value{"lr": cty.MustParseNumberVal("0.005"), "opt": cty.StringVal("sgd")}}})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if len(cfg.Runs) != 1 {
		t.Fatalf("%d runs, want the point alone", len(cfg.Runs))
	}
	r := cfg.Runs[0]
	if got := strings.Join(r.Args, " "); got != "--lr 0.005 --tag run-0.005 --epochs 10" || r.Env["OPT"] != "SGD" {
		t.Errorf("args %q env %v", got, r.Env)
	}
	if cfg.Variables["epochs"].AsBigFloat().String() != "10" || !slices.Equal(cfg.SourceFiles, []string{"m.hcl"}) {
		t.Errorf("variables %v, source files %v", cfg.Variables, cfg.SourceFiles)
	}

	cfg, diags = LoadSource("", files, LoadOptions{VarValues: map[string]cty.Value{"epochs": cty.NumberIntVal(3)},
		Point: &Point{Experiment: "train", Params: map[string]cty.Value{"lr": cty.NumberFloatVal(0.1), "opt": cty.StringVal("adam")}}})
	if diags.HasErrors() || cfg.Runs[0].Args[5] != "3" {
		t.Errorf("a recorded variable value: %v %v", diags, cfg.Runs)
	}

	for _, tc := range []struct {
		name    string
		point   Point
		summary string
		detail  string
	}{
		{"undeclared", Point{"train", map[string]cty.Value{"lr": cty.NumberFloatVal(1), "opt": cty.StringVal("a"), "momentum": cty.NumberFloatVal(0.9)}},
			"Undeclared parameter", `declares the params lr, opt; "momentum" is not one of them`},
		{"wrong type", Point{"train", map[string]cty.Value{"lr": cty.StringVal("fast"), "opt": cty.StringVal("a")}},
			"Invalid parameter value", "Param lr of experiment \"train\" takes a number, as its declared values are; fast is a string"},
		{"missing", Point{"train", map[string]cty.Value{"lr": cty.NumberFloatVal(1)}},
			"Missing parameter", "opt has none"},
		{"no experiment", Point{"trian", nil}, "No such experiment", `Did you mean "train"?`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.point
			_, diags := LoadSource("", files, LoadOptions{Point: &p})
			if len(diags) != 1 || diags[0].Summary != tc.summary || !strings.Contains(diags[0].Detail, tc.detail) || diags[0].Subject == nil {
				t.Errorf("diags %v, want one %q saying %q", diags, tc.summary, tc.detail)
			}
		})
	}
}
