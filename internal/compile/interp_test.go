package compile

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/caravan-ml/caravan/internal/record"
	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
)

// hostileStrings are values that Nomad would interpolate or choke on,
// plus every string of up to five characters over "${}%a", so that the
// escapes are checked next to each other and at the ends.
func hostileStrings() []string {
	out := []string{
		"${node.unique.name}", "${env.HOME}", "${NOMAD_TOKEN}", "${attr.kernel.name}",
		"$${node.unique.name}", "%{ if true }x%{ endif }", "${NOMAD_META_" + MetaDollar + "}",
		"a ${b} c %{d} e", "€${x}€", "plain",
	}
	var grow func(prefix string)
	grow = func(prefix string) {
		out = append(out, prefix)
		if len(prefix) == 5 {
			return
		}
		for _, c := range "${}%a" {
			grow(prefix + string(c))
		}
	}
	grow("")
	return out
}

// TestEscapeTemplateRoundTrip: Nomad evaluates the driver config as HCL
// templates in JSON syntax (the task's config, JSON-encoded, with env,
// node, attr and meta variables); the escaped string evaluates back to the
// declared one.
func TestEscapeTemplateRoundTrip(t *testing.T) {
	str := cty.StringVal
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
		"env":         cty.MapVal(map[string]cty.Value{"HOME": str("/root")}),
		"node":        cty.ObjectVal(map[string]cty.Value{"unique": cty.ObjectVal(map[string]cty.Value{"name": str("gpu-1")})}),
		"attr":        cty.ObjectVal(map[string]cty.Value{"kernel": cty.ObjectVal(map[string]cty.Value{"name": str("linux")})}),
		"NOMAD_TOKEN": str("secret"), "b": str("B"), "d": str("D"), "x": str("X"),
	}}
	for _, s := range hostileStrings() {
		src, _ := json.Marshal(map[string]string{"v": escapeTemplate(s)})
		f, diags := hcljson.Parse(src, "config.json")
		if diags.HasErrors() {
			t.Fatalf("%q: %v", s, diags)
		}
		attrs, _ := f.Body.JustAttributes()
		v, diags := attrs["v"].Expr.Value(ctx)
		if diags.HasErrors() || v.AsString() != s {
			t.Fatalf("%q escaped as %q evaluates to %#v (%v)", s, escapeTemplate(s), v, diags)
		}
	}
}

// nomadEnvRef is what Nomad 2.0.5 replaces in env values (and meta) when
// it builds a task's environment: ${name} with name of letters, digits,
// '_', '-' and '.', looked up in the node attributes and the environment
// built so far, left alone when absent, in one left-to-right pass.
var nomadEnvRef = regexp.MustCompile(`\$\{[a-zA-Z0-9_\-.]+\}`)

func replaceLikeNomad(s string, vars map[string]string) string {
	return nomadEnvRef.ReplaceAllStringFunc(s, func(ref string) string {
		if v, ok := vars[ref[2:len(ref)-1]]; ok {
			return v
		}
		return ref
	})
}

// TestEscapeEnvRoundTrip: with the task meta caravan_dollar = "$" in the
// environment, Nomad's replacement gives back the declared value.
func TestEscapeEnvRoundTrip(t *testing.T) {
	vars := map[string]string{
		"NOMAD_META_" + MetaDollar: "$", "node.unique.name": "gpu-1", "HOME": "/root",
		"NOMAD_TOKEN": "secret", "b": "B", "d": "D", "x": "X", "a": "A",
	}
	for _, s := range hostileStrings() {
		esc, changed := escapeEnv(s)
		if changed != strings.Contains(s, "${") {
			t.Errorf("%q: changed %v", s, changed)
		}
		if got := replaceLikeNomad(esc, vars); got != s {
			t.Fatalf("%q escaped as %q comes out of Nomad as %q", s, esc, got)
		}
	}
}

// TestJobEscapesInterpolation: a param "${node.unique.name}" reaches the
// job escaped wherever Nomad interpolates (command, args, env, image), and
// as declared in the job meta that records it.
func TestJobEscapesInterpolation(t *testing.T) {
	const val = "${node.unique.name}"
	run := minimalRun()
	run.Experiment.Driver, run.Experiment.Image = "docker", "registry/${env.HOME}:1"
	run.Params = []spec.Param{{Name: "x", Value: cty.StringVal(val)}}
	run.Command = "train-" + val
	run.Args = []string{"--x", val, "100%{x}"}
	run.Env = map[string]string{"X": val}
	job := mustJob(t, run, testOptions())
	task := job.TaskGroups[0].Tasks[0]
	if got := task.Config["image"]; got != "registry/$${env.HOME}:1" {
		t.Errorf("image %q", got)
	}
	if got := task.Config["command"]; got != "train-$"+val {
		t.Errorf("command %q", got)
	}
	if got := task.Config["args"].([]string); got[1] != "$"+val || got[2] != "100%%{x}" {
		t.Errorf("args %q", got)
	}
	envVal := "${NOMAD_META_" + MetaDollar + "}{node.unique.name}"
	if task.Env["X"] != envVal || task.Env[ParamEnvName("x")] != envVal {
		t.Errorf("env %v", task.Env)
	}
	if task.Meta[MetaDollar] != "$" {
		t.Errorf("task meta %v, want %s = $", task.Meta, MetaDollar)
	}
	if job.Meta[MetaParamKey("x")] != val || !strings.Contains(job.Meta[record.MetaParams], val) {
		t.Errorf("job meta must record the value as declared: %v", job.Meta)
	}
	if plain := mustJob(t, minimalRun(), testOptions()); plain.TaskGroups[0].Tasks[0].Meta != nil {
		t.Errorf("a task without ${ in env got meta %v", plain.TaskGroups[0].Tasks[0].Meta)
	}
}
