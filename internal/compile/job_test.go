package compile

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caravan-ml/caravan/internal/spec"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"
)

func mustJob(t *testing.T, run spec.Run, opts Options) *api.Job {
	t.Helper()
	job, err := Job(run, opts)
	if err != nil {
		t.Fatalf("Job: %v", err)
	}
	return job
}

func TestJobFullRun(t *testing.T) {
	run := fullRun()
	job := mustJob(t, run, testOptions())

	id := RunID(run)
	if !regexp.MustCompile(`^resnet50-[0-9a-f]{8}$`).MatchString(id) {
		t.Fatalf("RunID = %q, want resnet50-<8 hex>", id)
	}
	if *job.ID != id || *job.Name != id {
		t.Errorf("ID, Name = %q, %q; want both %q", *job.ID, *job.Name, id)
	}
	if *job.Type != "batch" || *job.Priority != 70 || *job.Namespace != "ml" || *job.NodePool != "gpu-a100" {
		t.Errorf("type/priority/namespace/node pool = %s/%d/%s/%s", *job.Type, *job.Priority, *job.Namespace, *job.NodePool)
	}
	if len(job.Datacenters) != 1 || job.Datacenters[0] != "*" {
		t.Errorf("Datacenters = %v, want [*]", job.Datacenters)
	}
	if len(job.TaskGroups) != 1 {
		t.Fatalf("%d groups, want 1", len(job.TaskGroups))
	}
	tg := job.TaskGroups[0]
	if *tg.Name != GroupName || *tg.Count != 1 {
		t.Errorf("group %s count %d", *tg.Name, *tg.Count)
	}
	if *tg.RestartPolicy.Attempts != 0 || *tg.RestartPolicy.Mode != "fail" {
		t.Errorf("restart policy %+v", tg.RestartPolicy)
	}
	if *tg.ReschedulePolicy.Attempts != 2 || *tg.ReschedulePolicy.Unlimited {
		t.Errorf("reschedule policy %+v", tg.ReschedulePolicy)
	}
	if *tg.EphemeralDisk.SizeMB != 50*1024 {
		t.Errorf("disk %d MB, want 51200", *tg.EphemeralDisk.SizeMB)
	}
	task := tg.Tasks[0]
	if task.Name != TaskName || task.Driver != "docker" {
		t.Errorf("task %s driver %s", task.Name, task.Driver)
	}
	wantCfg := map[string]any{
		"image": "ghcr.io/acme/train:1.4", "command": "python",
		"args": []string{"train.py", "--lr", "0.01", "--batch", "256"}, "shm_size": 16 * gib,
	}
	if a, b := jsonOf(t, task.Config), jsonOf(t, wantCfg); a != b {
		t.Errorf("config\n got %s\nwant %s", a, b)
	}
	wantEnv := map[string]string{
		"WANDB_MODE": "offline", "SEED": "1", "CARAVAN_RUN_ID": id,
		"CARAVAN_PARAM_BATCH": "256", "CARAVAN_PARAM_LR": "0.01", "CARAVAN_PARAM_OPT": "adam",
	}
	if a, b := jsonOf(t, task.Env), jsonOf(t, wantEnv); a != b {
		t.Errorf("env\n got %s\nwant %s", a, b)
	}
	r := task.Resources
	if *r.CPU != 8000 || r.Cores != nil || *r.MemoryMB != 64*1024 {
		t.Errorf("cpu %v cores %v memory %v", r.CPU, r.Cores, *r.MemoryMB)
	}
	wantDev := `[{"Name":"nvidia/gpu","Count":2,"Constraints":[{"LTarget":"${device.model}","RTarget":"H100","Operand":"regexp"},{"LTarget":"${device.attr.memory}","RTarget":"40 GiB","Operand":">="}],"Affinities":null}]`
	if got := jsonOf(t, r.Devices); got != wantDev {
		t.Errorf("devices\n got %s\nwant %s", got, wantDev)
	}
}

func TestJobMeta(t *testing.T) {
	run := fullRun()
	opts := testOptions()
	opts.ConfigDirty = true
	job := mustJob(t, run, opts)
	want := map[string]string{
		MetaManagedBy:             ManagedByValue,
		MetaRunID:                 RunID(run),
		MetaExperiment:            "resnet50",
		MetaSpecHash:              SpecHash(run),
		MetaPool:                  "a100",
		MetaGPUs:                  "2",
		MetaParams:                `{"batch":256,"lr":0.01,"opt":"adam"}`,
		MetaParamPrefix + "batch": "256",
		MetaParamPrefix + "lr":    "0.01",
		MetaParamPrefix + "opt":   "adam",
		MetaSourceGit:             "https://github.com/acme/models.git",
		MetaSourceCommit:          "4f2a9c1e",
		MetaSourcePath:            "train",
		MetaFile:                  "vision.hcl",
		MetaLine:                  "12",
		MetaConfigCommit:          opts.ConfigCommit,
		MetaConfigDirty:           "true",
		MetaTimeout:               "12h0m0s",
		MetaDependsOn:             "prep,tokenize",
		MetaRerun:                 "0",
	}
	if a, b := jsonOf(t, job.Meta), jsonOf(t, want); a != b {
		t.Errorf("meta\n got %s\nwant %s", a, b)
	}
	envName := regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	for k := range job.Meta {
		if !envName.MatchString(k) {
			t.Errorf("meta key %q is not a valid NOMAD_META_* env name", k)
		}
	}
	if len(SpecHash(run)) != 64 {
		t.Errorf("spec hash %q is not a full sha256", SpecHash(run))
	}
}

func TestJobMinimalRun(t *testing.T) {
	job := mustJob(t, minimalRun(), Options{})
	if job.Namespace != nil {
		t.Errorf("Namespace = %q, want unset so the client's default applies", *job.Namespace)
	}
	if *job.NodePool != "cpu" {
		t.Errorf("node pool %q, want the pool name without a pool map", *job.NodePool)
	}
	tg := job.TaskGroups[0]
	if tg.EphemeralDisk != nil {
		t.Errorf("ephemeral disk set without disk")
	}
	task := tg.Tasks[0]
	if task.Driver != "exec" || jsonOf(t, task.Config) != `{"command":"/bin/true"}` {
		t.Errorf("driver %s config %s", task.Driver, jsonOf(t, task.Config))
	}
	r := task.Resources
	if r.CPU != nil || r.Cores != nil || r.MemoryMB != nil || r.Devices != nil {
		t.Errorf("resources %s, want all unset", jsonOf(t, r))
	}
	for _, k := range []string{MetaSourceGit, MetaTimeout, MetaDependsOn, MetaConfigCommit} {
		if v, ok := job.Meta[k]; !ok || v != "" {
			t.Errorf("meta %s = %q (present %v), want present and empty", k, v, ok)
		}
	}
	if job.Meta[MetaParams] != "{}" || job.Meta[MetaConfigDirty] != "false" {
		t.Errorf("params %q dirty %q", job.Meta[MetaParams], job.Meta[MetaConfigDirty])
	}
}

func TestJobZeroPriorityIsDefault(t *testing.T) {
	a, b := minimalRun(), minimalRun()
	a.Experiment.Priority, b.Experiment.Priority = 0, DefaultPriority
	ja, jb := mustJob(t, a, Options{}), mustJob(t, b, Options{})
	if *ja.Priority != DefaultPriority || *ja.ID != *jb.ID {
		t.Errorf("priority 0 gave %d and ID %s; want %d and %s", *ja.Priority, *ja.ID, DefaultPriority, *jb.ID)
	}
}

func TestJobCoresAndDevicePool(t *testing.T) {
	run := minimalRun()
	run.Experiment.Resources = spec.Resources{Cores: 8, GPUs: 1}
	opts := Options{Pools: map[string]*spec.Pool{"cpu": {Name: "cpu", NodePool: "h100-spot", GPU: "nvidia/gpu/H100"}}}
	job := mustJob(t, run, opts)
	r := job.TaskGroups[0].Tasks[0].Resources
	if r.CPU != nil || *r.Cores != 8 {
		t.Errorf("cpu %v cores %v, want cores 8 only", r.CPU, r.Cores)
	}
	if r.Devices[0].Name != "nvidia/gpu/H100" || r.Devices[0].Constraints != nil {
		t.Errorf("device %s", jsonOf(t, r.Devices))
	}
	if *job.NodePool != "h100-spot" {
		t.Errorf("node pool %s", *job.NodePool)
	}
}

func TestJobErrors(t *testing.T) {
	tests := []struct {
		name   string
		change func(*spec.Run, *Options)
		want   string
	}{
		{"docker without image", func(r *spec.Run, _ *Options) { r.Experiment.Driver = "docker" }, "without an image"},
		{"image on exec", func(r *spec.Run, _ *Options) { r.Experiment.Image = "x" }, "runs no container"},
		{"exec without command", func(r *spec.Run, _ *Options) { r.Command = "" }, "needs a command"},
		{"unknown driver", func(r *spec.Run, _ *Options) { r.Experiment.Driver = "java" }, "use docker, exec or raw_exec"},
		{"cpu and cores", func(r *spec.Run, _ *Options) { r.Experiment.Resources.CPU, r.Experiment.Resources.Cores = 1000, 2 }, "both cpu and cores"},
		{"negative gpus", func(r *spec.Run, _ *Options) { r.Experiment.Resources.GPUs = -1 }, "GPUs"},
		{"unknown pool", func(r *spec.Run, o *Options) { o.Pools = map[string]*spec.Pool{} }, "does not define"},
		{"param env clash", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "a-b", Value: cty.NumberIntVal(1)}, {Name: "a_b", Value: cty.NumberIntVal(2)}}
		}, "both become env"},
		{"unknown param", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "x", Value: cty.UnknownVal(cty.Number)}}
		}, "known string, number or bool"},
		{"list param", func(r *spec.Run, _ *Options) {
			r.Params = []spec.Param{{Name: "x", Value: cty.ListValEmpty(cty.String)}}
		}, "known string, number or bool"},
		{"no experiment", func(r *spec.Run, _ *Options) { r.Experiment = nil }, "no experiment"},
		{"priority too high", func(r *spec.Run, _ *Options) { r.Experiment.Priority = 101 }, "1..100"},
		{"priority negative", func(r *spec.Run, _ *Options) { r.Experiment.Priority = -1 }, "1..100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run, opts := minimalRun(), Options{}
			tt.change(&run, &opts)
			_, err := Job(run, opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

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

// TestCanonicalizedPolicies runs Nomad's own defaulting (what the server
// does on register) and checks the retries survive with room to happen.
func TestCanonicalizedPolicies(t *testing.T) {
	job := mustJob(t, fullRun(), testOptions())
	job.Canonicalize()
	rp := job.TaskGroups[0].ReschedulePolicy
	if *rp.Attempts != 2 || *rp.Unlimited || *rp.Interval < time.Hour || *rp.Delay*2 > *rp.Interval {
		t.Errorf("canonical reschedule policy %s does not allow 2 attempts", jsonOf(t, rp))
	}
	restart := job.TaskGroups[0].RestartPolicy
	if *restart.Attempts != 0 || *restart.Mode != "fail" {
		t.Errorf("canonical restart policy %s", jsonOf(t, restart))
	}
}

func TestDeviceSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{40 * gib, "40 GiB"}, {80 << 40, "80 TiB"}, {1.5e12, "1500 GB"}, {512 << 20, "512 MiB"},
		{1536 << 20, "1536 MiB"}, {5e6, "5 MB"}, {3 << 10, "3 KiB"}, {2000, "2 kB"}, {1001, "1001 B"},
	}
	for _, tt := range tests {
		if got := DeviceSize(tt.in); got != tt.want {
			t.Errorf("DeviceSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
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

func TestRelFile(t *testing.T) {
	tests := []struct{ dir, file, want string }{
		{"experiments", "experiments/a.hcl", "a.hcl"},
		{"experiments", "experiments/sub/a.hcl", "sub/a.hcl"},
		{"", "a.hcl", "a.hcl"},
		{"experiments", "other/a.hcl", "other/a.hcl"},
		{"x", "", ""},
	}
	for _, tt := range tests {
		if got := relFile(tt.dir, tt.file); got != tt.want {
			t.Errorf("relFile(%q, %q) = %q, want %q", tt.dir, tt.file, got, tt.want)
		}
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(buf.String(), "\n")
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
