package compile

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/caravan-ml/caravan/internal/testutil/golden"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

func constructedRuns() map[string]spec.Run {
	raw := fixtureRun(1)
	cores := minimalRun()
	cores.Experiment.Name, cores.Experiment.Driver = "cores", "raw_exec"
	cores.Experiment.Resources = spec.Resources{Cores: 4, Memory: 1536 << 20, GPUs: 1, GPUModel: "A100-SXM4"}
	cores.Args = []string{"-c", `echo "${NOMAD_META_caravan_run_id}" %{x}`}
	return map[string]spec.Run{"full": fullRun(), "minimal": minimalRun(), "raw-exec": raw, "cores": cores}
}

// TestGoldenConstructed pins the JSON and jobspec renders of runs built in
// Go; TestGoldenFromHCL (golden_hcl_test.go) does the same from *.hcl.
func TestGoldenConstructed(t *testing.T) {
	for name, run := range constructedRuns() {
		t.Run(name, func(t *testing.T) {
			job := mustJob(t, run, testOptions())
			js, err := RenderJSON(job)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "constructed/"+name+".golden.json"), js)
			h, err := RenderHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			golden.Check(t, filepath.Join("testdata", "constructed/"+name+".golden.nomad.hcl"), h)
		})
	}
}

// TestRenderHCLRoundTrip parses the rendered jobspec the way Nomad's
// parser reads those blocks and checks it gives back the same job.
func TestRenderHCLRoundTrip(t *testing.T) {
	for name, run := range constructedRuns() {
		t.Run(name, func(t *testing.T) {
			job := mustJob(t, run, testOptions())
			src, err := RenderHCL(job)
			if err != nil {
				t.Fatal(err)
			}
			back := parseJobspec(t, src)
			want, _ := RenderJSON(job)
			got, _ := RenderJSON(back)
			if !bytes.Equal(want, got) {
				t.Errorf("jobspec does not parse back to the job:\n%s\njobspec:\n%s", golden.Diff(string(want), string(got)), src)
			}
		})
	}
}

func TestRenderHCLEnvMapForm(t *testing.T) {
	run := minimalRun()
	run.Env = map[string]string{"discovery.type": "single-node", "PLAIN": "x"}
	job := mustJob(t, run, Options{})
	src, err := RenderHCL(job)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(src), "env = {") || !strings.Contains(string(src), `"discovery.type" = "single-node"`) {
		t.Errorf("env with a dotted name not in map form:\n%s", src)
	}
	back := parseJobspec(t, src)
	if got := back.TaskGroups[0].Tasks[0].Env; got["discovery.type"] != "single-node" || got["PLAIN"] != "x" || got[EnvRunID] != *job.ID {
		t.Errorf("env parsed back as %v", got)
	}
}

// The jobspec subset RenderHCL writes, with Nomad's block and attribute names.
type jsFile struct {
	Job jsJob `hcl:"job,block"`
}
type jsJob struct {
	ID          string    `hcl:"id,label"`
	Namespace   *string   `hcl:"namespace"`
	Type        *string   `hcl:"type"`
	NodePool    *string   `hcl:"node_pool"`
	Priority    *int      `hcl:"priority"`
	Datacenters []string  `hcl:"datacenters"`
	Meta        *jsMap    `hcl:"meta,block"`
	Groups      []jsGroup `hcl:"group,block"`
}
type jsMap struct {
	Body hcl.Body `hcl:",remain"`
}
type jsGroup struct {
	Name       string             `hcl:"name,label"`
	Count      *int               `hcl:"count"`
	Restart    *api.RestartPolicy `hcl:"restart,block"`
	Reschedule *jsReschedule      `hcl:"reschedule,block"`
	Disk       *api.EphemeralDisk `hcl:"ephemeral_disk,block"`
	MaxRun     *string            `hcl:"max_run_duration"`
	Constraint []*api.Constraint  `hcl:"constraint,block"`
	Tasks      []jsTask           `hcl:"task,block"`
}
type jsArtifact struct {
	Source      *string `hcl:"source"`
	Destination *string `hcl:"destination"`
	Options     *jsMap  `hcl:"options,block"`
}
type jsReschedule struct {
	Attempts  *int  `hcl:"attempts"`
	Unlimited *bool `hcl:"unlimited"`
}
type jsTask struct {
	Name      string         `hcl:"name,label"`
	Driver    string         `hcl:"driver"`
	Config    *jsMap         `hcl:"config,block"`
	Meta      *jsMap         `hcl:"meta,block"`
	Resources *api.Resources `hcl:"resources,block"`
	Artifacts []jsArtifact   `hcl:"artifact,block"`
	Rest      hcl.Body       `hcl:",remain"` // env, as a block or a map attribute
}

func parseJobspec(t *testing.T, src []byte) *api.Job {
	t.Helper()
	f, diags := hclsyntax.ParseConfig(src, "job.nomad.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("jobspec does not parse: %v\n%s", diags, src)
	}
	var js jsFile
	if diags := gohcl.DecodeBody(f.Body, nil, &js); diags.HasErrors() {
		t.Fatalf("jobspec does not decode: %v\n%s", diags, src)
	}
	j := js.Job
	job := &api.Job{ID: &j.ID, Name: &j.ID, Namespace: j.Namespace, Type: j.Type, NodePool: j.NodePool,
		Priority: j.Priority, Datacenters: j.Datacenters, Meta: stringMap(t, j.Meta)}
	for _, g := range j.Groups {
		tg := &api.TaskGroup{Name: &g.Name, Count: g.Count, RestartPolicy: g.Restart, EphemeralDisk: g.Disk, Constraints: g.Constraint}
		if g.MaxRun != nil {
			d, err := time.ParseDuration(*g.MaxRun)
			if err != nil {
				t.Fatal(err)
			}
			tg.MaxRunDuration = &d
		}
		if g.Reschedule != nil {
			tg.ReschedulePolicy = &api.ReschedulePolicy{Attempts: g.Reschedule.Attempts, Unlimited: g.Reschedule.Unlimited}
		}
		for _, tk := range g.Tasks {
			task := &api.Task{Name: tk.Name, Driver: tk.Driver, Env: taskEnvOf(t, tk.Rest), Meta: stringMap(t, tk.Meta), Resources: tk.Resources}
			if tk.Config != nil {
				task.Config = configMap(t, tk.Config)
			}
			for _, a := range tk.Artifacts {
				task.Artifacts = append(task.Artifacts, &api.TaskArtifact{GetterSource: a.Source, RelativeDest: a.Destination, GetterOptions: stringMap(t, a.Options)})
			}
			tg.Tasks = append(tg.Tasks, task)
		}
		job.TaskGroups = append(job.TaskGroups, tg)
	}
	return job
}

// taskEnvOf reads env in either form Nomad accepts: env { K = "v" } or
// env = { "k.x" = "v" }.
func taskEnvOf(t *testing.T, body hcl.Body) map[string]string {
	t.Helper()
	content, diags := body.Content(&hcl.BodySchema{
		Attributes: []hcl.AttributeSchema{{Name: "env"}},
		Blocks:     []hcl.BlockHeaderSchema{{Type: "env"}},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if a, ok := content.Attributes["env"]; ok {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		out := map[string]string{}
		for k, e := range v.AsValueMap() {
			out[k] = e.AsString()
		}
		return out
	}
	for _, b := range content.Blocks {
		return stringMap(t, &jsMap{Body: b.Body})
	}
	return nil
}

func attrs(t *testing.T, m *jsMap) map[string]cty.Value {
	t.Helper()
	if m == nil {
		return nil
	}
	as, diags := m.Body.JustAttributes()
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	out := map[string]cty.Value{}
	for k, a := range as {
		v, diags := a.Expr.Value(nil)
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		out[k] = v
	}
	return out
}

func stringMap(t *testing.T, m *jsMap) map[string]string {
	t.Helper()
	vals := attrs(t, m)
	if vals == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range vals {
		out[k] = v.AsString()
	}
	return out
}

func configMap(t *testing.T, m *jsMap) map[string]any {
	t.Helper()
	out := map[string]any{}
	for k, v := range attrs(t, m) {
		switch {
		case v.Type() == cty.String:
			out[k] = v.AsString()
		case v.Type() == cty.Number:
			var n int64
			if err := gocty.FromCtyValue(v, &n); err != nil {
				t.Fatal(err)
			}
			out[k] = n
		case v.Type().IsTupleType():
			var s []string
			for _, e := range v.AsValueSlice() {
				s = append(s, e.AsString())
			}
			out[k] = s
		default:
			t.Fatalf("config %s: unexpected %s", k, v.Type().FriendlyName())
		}
	}
	return out
}
