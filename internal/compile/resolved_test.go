package compile

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// TestRunIDStable: identity covers execution and nothing else.
func TestRunIDStable(t *testing.T) {
	base := RunID(fullRun())
	if again := RunID(fullRun()); again != base {
		t.Fatalf("same declaration gave %s and %s", base, again)
	}
	same := []struct {
		name   string
		change func(*spec.Run)
	}{
		{"description", func(r *spec.Run) { r.Experiment.Description = "other" }},
		{"tags", func(r *spec.Run) { r.Experiment.Tags = nil }},
		{"file and line", func(r *spec.Run) { r.Experiment.DeclRange = hcl.Range{Filename: "x.hcl"} }},
		{"sweep index", func(r *spec.Run) { r.Index = 99 }},
		{"param order", func(r *spec.Run) { r.Params[0], r.Params[2] = r.Params[2], r.Params[0] }},
	}
	for _, tt := range same {
		run := fullRun()
		tt.change(&run)
		if got := RunID(run); got != base {
			t.Errorf("changing %s changed the ID: %s → %s", tt.name, base, got)
		}
	}
	a, b := minimalRun(), minimalRun()
	b.Env, b.Args, b.Experiment.DependsOn = map[string]string{}, []string{}, []string{}
	if RunID(a) != RunID(b) {
		t.Errorf("nil and empty collections give different IDs")
	}
}

func TestRunIDChanges(t *testing.T) {
	base := fullRun()
	baseID := RunID(base)
	changes := []struct {
		name   string
		change func(*spec.Run)
	}{
		{"experiment name", func(r *spec.Run) { r.Experiment.Name = "resnet51" }},
		{"pool", func(r *spec.Run) { r.Experiment.Pool = "h100" }},
		{"priority", func(r *spec.Run) { r.Experiment.Priority = 71 }},
		{"namespace", func(r *spec.Run) { r.Experiment.Namespace = "" }},
		{"source git", func(r *spec.Run) { r.Experiment.Source.Git = "https://x/y.git" }},
		{"source commit", func(r *spec.Run) { r.Experiment.Source.Commit = "4f2a9c1f" }},
		{"source path", func(r *spec.Run) { r.Experiment.Source.Path = "" }},
		{"no source", func(r *spec.Run) { r.Experiment.Source = nil }},
		{"image", func(r *spec.Run) { r.Experiment.Image = "ghcr.io/acme/train:1.5" }},
		{"driver", func(r *spec.Run) { r.Experiment.Driver = "raw_exec" }},
		{"command", func(r *spec.Run) { r.Command = "python3" }},
		{"args", func(r *spec.Run) { r.Args = append(r.Args, "--amp") }},
		{"env", func(r *spec.Run) { r.Env["SEED"] = "2" }},
		{"param value", func(r *spec.Run) { r.Params[1].Value = cty.NumberFloatVal(0.02) }},
		{"param type", func(r *spec.Run) { r.Params[0].Value = cty.StringVal("256") }},
		{"param added", func(r *spec.Run) { r.Params = append(r.Params, spec.Param{Name: "z", Value: cty.True}) }},
		{"gpus", func(r *spec.Run) { r.Experiment.Resources.GPUs = 1 }},
		{"gpu model", func(r *spec.Run) { r.Experiment.Resources.GPUModel = "A100" }},
		{"gpu memory", func(r *spec.Run) { r.Experiment.Resources.GPUMemory = 80 * gib }},
		{"cpu", func(r *spec.Run) { r.Experiment.Resources.CPU = 4000 }},
		{"cores", func(r *spec.Run) { r.Experiment.Resources.Cores = 4 }},
		{"memory", func(r *spec.Run) { r.Experiment.Resources.Memory = 32 * gib }},
		{"shm", func(r *spec.Run) { r.Experiment.Resources.SHM = 8 * gib }},
		{"disk", func(r *spec.Run) { r.Experiment.Resources.Disk = 10 * gib }},
		{"timeout", func(r *spec.Run) { r.Experiment.Timeout = time.Hour }},
		{"retries", func(r *spec.Run) { r.Experiment.Retries = 3 }},
		{"depends_on", func(r *spec.Run) { r.Experiment.DependsOn = []string{"prep"} }},
		{"rerun", func(r *spec.Run) { r.Experiment.Rerun = 1 }},
	}
	seen := map[string]string{baseID: "base"}
	for _, tt := range changes {
		run := fullRun()
		tt.change(&run)
		id := RunID(run)
		if prev, dup := seen[id]; dup {
			t.Errorf("changing %s gave ID %s, the same as %s", tt.name, id, prev)
		}
		seen[id] = tt.name
	}
}

func TestResolvedSpecIsTheHashedDocument(t *testing.T) {
	run := fullRun()
	doc, err := ResolvedSpec(run, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatalf("resolved spec is not JSON: %v\n%s", err, doc)
	}
	for _, k := range []string{"experiment", "pool", "params", "resources", "rerun", "caravan_spec"} {
		if _, ok := m[k]; !ok {
			t.Errorf("resolved spec lacks %q: %s", k, doc)
		}
	}
	if strings.Contains(string(doc), "baseline") {
		t.Errorf("resolved spec holds cosmetic description/tags: %s", doc)
	}
	if _, err := ResolvedSpec(run, Options{Pools: map[string]*spec.Pool{}}); err == nil {
		t.Errorf("ResolvedSpec accepted a run whose pool the options do not define")
	}
	// Changing the configuration commit or the pool mapping keeps the ID.
	o2 := testOptions()
	o2.ConfigCommit, o2.Pools["a100"].NodePool = "ffff", "elsewhere"
	if *mustJob(t, run, o2).ID != RunID(run) {
		t.Errorf("options changed the run ID")
	}
}

func TestParamNames(t *testing.T) {
	if got := ParamEnvName("learning-rate.x"); got != "CARAVAN_PARAM_LEARNING_RATE_X" {
		t.Errorf("ParamEnvName = %q", got)
	}
	if got := MetaParamKey("Learning-rate"); got != "caravan_param_Learning_rate" {
		t.Errorf("MetaParamKey = %q", got)
	}
	vals := map[string]cty.Value{
		"0.001": cty.NumberFloatVal(0.001), "256": cty.NumberIntVal(256), "true": cty.True,
		"adam": cty.StringVal("adam"), "1e-06": cty.StringVal("1e-06"),
	}
	for want, v := range vals {
		if got := ParamString(v); got != want {
			t.Errorf("ParamString(%#v) = %q, want %q", v, got, want)
		}
	}
}

// TestNumberStringMatchesHCL: the fast path must give exactly the digits
// HCL gives when it converts a number to a string (Text('f', -1)), or env
// values would disagree with the same param interpolated into args.
func TestNumberStringMatchesHCL(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var vals []cty.Value
	for _, s := range []string{"0.001", "0.1", "1e-6", "3.14159", "256", "-7", "1e300", "123456789012345678901234567890", "0.30000000000000004", "2.5e-320", "0"} {
		vals = append(vals, cty.MustParseNumberVal(s))
	}
	for range 2000 {
		f := math.Exp(rng.Float64()*40 - 20)
		vals = append(vals, cty.NumberFloatVal(f), cty.MustParseNumberVal(strconv.FormatFloat(f, 'g', 6, 64)))
	}
	for _, v := range vals {
		bf := v.AsBigFloat()
		if got, want := numberString(bf), bf.Text('f', -1); got != want {
			t.Errorf("numberString(%s) = %q, want %q", bf.Text('g', 20), got, want)
		}
	}
}
